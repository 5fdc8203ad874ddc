"""The OpenID Provider's grants in the store: what ends them enqueues one back-channel
logout per registered client in its own transaction, and the rows hold no address."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.store.conftest import ALICE, NOW
from walletauth.rights import erase_subject, restrict
from walletauth.store import Store, StoreError, outbox
from walletauth.store.oidc_grants import LOGOUT_NOTICE, OidcGrant
from walletauth.store.rights_schema import notice_outbox, oidc_grants

PURPOSE = "quality_marketing"
LATER = NOW + timedelta(hours=1)


def grant(
    client_id: str,
    op_session: str = "op-session-1",
    *,
    purposes=(),
    notify=True,
    sid: bool = False,
    family: str | None = None,
) -> OidcGrant:
    logout = {"sub": f"sub-of-{client_id}"} | ({"sid": op_session} if sid else {})
    return OidcGrant(
        client_id=client_id,
        op_session=op_session,
        family=family or f"family-{client_id}-{op_session}",
        purposes=tuple(purposes),
        expires_at=NOW + timedelta(days=1),
        logout=logout if notify else None,
    )


def queued(store: Store) -> list[tuple[str, str, dict[str, str]]]:
    claimed = outbox.claim_due(
        store.engine, store.secrets, now=LATER, limit=100, lease=timedelta(minutes=1)
    )
    return sorted((n.type, n.endpoint, json.loads(n.subject)) for n in claimed)


def grant_rows(store: Store) -> list[str]:
    with store.engine.connect() as connection:
        return sorted(connection.execute(sa.select(oidc_grants.c.client_id)).scalars())


@pytest.fixture
def signed_up(store: Store) -> Store:
    store.set_consent(ALICE, PURPOSE, True, now=NOW)  # the subject exists, as after a sign-in
    return store


def test_erasure_ends_every_grant_and_enqueues_a_logout_per_registered_client(signed_up):
    store = signed_up
    store.record_oidc_grant(ALICE, grant("wiki", sid=True), now=NOW)
    store.record_oidc_grant(ALICE, grant("spa", notify=False), now=NOW)

    erase_subject(store, ALICE, now=NOW)

    assert queued(store) == [(LOGOUT_NOTICE, "wiki", {"sub": "sub-of-wiki", "sid": "op-session-1"})]
    assert grant_rows(store) == []


def test_withdrawing_a_purpose_ends_only_the_grants_naming_it(signed_up):
    store = signed_up
    store.record_oidc_grant(ALICE, grant("wiki", purposes=[PURPOSE]), now=NOW)
    store.record_oidc_grant(ALICE, grant("spa"), now=NOW)

    store.set_consent(ALICE, PURPOSE, False, now=NOW)

    assert queued(store) == [(LOGOUT_NOTICE, "wiki", {"sub": "sub-of-wiki"})]
    assert grant_rows(store) == ["spa"]


def test_a_restricted_purpose_ends_the_grants_naming_it(signed_up):
    store = signed_up
    store.record_oidc_grant(ALICE, grant("wiki", purposes=[PURPOSE]), now=NOW)

    restrict(store, ALICE, [PURPOSE], now=NOW)

    assert queued(store) == [(LOGOUT_NOTICE, "wiki", {"sub": "sub-of-wiki"})]


def test_ending_a_provider_session_leaves_out_the_client_that_logged_out(signed_up):
    store = signed_up
    store.record_oidc_grant(ALICE, grant("wiki", family="f1"), now=NOW)
    store.record_oidc_grant(ALICE, grant("spa", family="f2"), now=NOW)
    store.record_oidc_grant(ALICE, grant("spa", "op-session-2", family="f3"), now=NOW)

    families = store.end_oidc_session_grants("op-session-1", initiated_by="wiki", now=NOW)

    assert sorted(families) == ["f1", "f2"]
    assert queued(store) == [(LOGOUT_NOTICE, "spa", {"sub": "sub-of-spa"})]
    assert grant_rows(store) == ["spa"]  # the other session's


def test_two_grants_naming_the_same_sub_without_sid_make_one_logout(signed_up):
    store = signed_up
    store.record_oidc_grant(ALICE, grant("wiki", "op-a"), now=NOW)
    store.record_oidc_grant(ALICE, grant("wiki", "op-b"), now=NOW)

    erase_subject(store, ALICE, now=NOW)

    assert queued(store) == [(LOGOUT_NOTICE, "wiki", {"sub": "sub-of-wiki"})]


def test_a_grant_past_its_session_is_not_logged_out_and_goes_with_the_next(signed_up):
    store = signed_up
    store.record_oidc_grant(
        ALICE,
        OidcGrant("wiki", "op-old", "f", (), NOW + timedelta(minutes=1), {"sub": "old"}),
        now=NOW,
    )

    store.record_oidc_grant(ALICE, grant("spa"), now=NOW + timedelta(minutes=2))

    assert grant_rows(store) == ["spa"]


def test_rows_hold_neither_the_address_nor_the_sub_in_the_clear(signed_up):
    store = signed_up
    store.record_oidc_grant(ALICE, grant("wiki", sid=True), now=NOW)
    with store.engine.connect() as connection:
        grant_bytes = repr(connection.execute(sa.select(oidc_grants)).all())
    erase_subject(store, ALICE, now=NOW)
    with store.engine.connect() as connection:
        outbox_bytes = repr(connection.execute(sa.select(notice_outbox)).all())

    for text in (grant_bytes, outbox_bytes):
        assert "sub-of-wiki" not in text and "op-session-1" not in text
        assert ALICE.lower()[2:] not in text.lower()


def test_a_grant_for_an_erased_subject_is_refused(store):
    with pytest.raises(StoreError) as refused:
        store.record_oidc_grant(ALICE, grant("wiki"), now=NOW)

    assert refused.value.code == "unknown_subject"


@pytest.fixture
def metalive_store(backend, secrets):
    from walletauth.policy.loader import load_policy

    opened = Store.open(
        backend.url,
        policy=load_policy("metalive"),
        secrets=secrets,
        keystore_url=backend.keystore_url,
    )
    yield opened
    opened.close()


def test_a_guardians_consent_withdrawn_ends_the_grants_of_the_purposes_it_held(
    metalive_store,
):
    store = metalive_store
    store.confirm_age(ALICE, under_guardian_age=True, now=NOW)
    store.set_guardian_consent(ALICE, True, now=NOW, method="signed_form")
    store.set_consent(ALICE, "analytics_marketing", True, now=NOW)
    store.record_oidc_grant(ALICE, grant("wiki", purposes=["analytics_marketing"]), now=NOW)
    store.record_oidc_grant(ALICE, grant("spa"), now=NOW)

    store.set_guardian_consent(ALICE, False, now=NOW)

    assert queued(store) == [(LOGOUT_NOTICE, "wiki", {"sub": "sub-of-wiki"})]
    assert grant_rows(store) == ["spa"]
