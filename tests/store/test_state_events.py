"""A subject's state events (subject_state.state_event and what rides on it): the notices a
suspension, its lifting and a guardian's withdrawal enqueue in their transaction, the
records an under-age confirmation discards, and the refusal of a value that is not a bool.
Written for mutmut's survivors in subject_state.py (benchmarks/README.md)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.store.conftest import ALICE, BOB, NOW, table_counts
from walletauth.policy.loader import load_policy
from walletauth.store import Store, StoreError, handle
from walletauth.store.addresses import normalise_address
from walletauth.store.audit import audit_entries
from walletauth.store.keyschema import subject_keys
from walletauth.store.outbox import PendingNotice, claim_due
from walletauth.store.subject_state import lift_suspension, state_event, stop_third_party, suspend
from walletauth.store.subjects import find_with_history, insert_subject, refs_of

LEASE = timedelta(minutes=5)


@pytest.fixture
def metalive(backend, secrets):
    opened = Store.open(
        backend.url,
        policy=load_policy("metalive"),
        secrets=secrets,
        keystore_url=backend.keystore_url,
    )
    yield opened
    opened.close()


def notice(store, name: str, purposes: tuple[str, ...] = ()) -> PendingNotice:
    return PendingNotice(
        notice_id=f"ntc_{name}",
        endpoint="https://rp.example/notices",
        type=f"subject.{name}",
        occurred_at=NOW,
        policy_id=store.policy.id,
        policy_version=store.policy.version,
        purposes=purposes,
    )


def due(store) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """The queued notices due at NOW: (id, type, the subject's address, purposes)."""
    return [
        (n.notice_id, n.type, n.subject, n.purposes)
        for n in claim_due(store.engine, store.secrets, now=NOW, limit=10, lease=LEASE)
    ]


def pairs(store, address) -> list[tuple[str, str]]:
    return sorted((r.category, r.purpose) for r in store.subject_records(address, now=NOW))


def test_a_consent_a_suspension_and_its_lifting_enqueue_their_notices_due_at_once(store):
    store.set_consent(
        ALICE, "quality_marketing", True, now=NOW, notices=[notice(store, "consented")]
    )
    suspend(store, ALICE, "quality_marketing", now=NOW, notices=[notice(store, "suspended")])
    lift_suspension(store, ALICE, "quality_marketing", now=NOW, notices=[notice(store, "lifted")])

    # Due at the change's own instant: a notice queued for later would not be claimed now.
    assert sorted(due(store)) == [
        ("ntc_consented", "subject.consented", normalise_address(ALICE), ()),
        ("ntc_lifted", "subject.lifted", normalise_address(ALICE), ()),
        ("ntc_suspended", "subject.suspended", normalise_address(ALICE), ()),
    ]
    assert [(e.event, e.detail) for e in audit_entries(store, ALICE)] == [
        ("consent_change", {"granted": True}),
        ("suspension", {"value": True}),
        ("suspension_lifted", {"value": False}),
    ]
    # Only a consent records the words it was given to; a suspension of the same purpose
    # names none.
    digests = [(e.kind, e.text_digest) for e in store.consent_history(ALICE)]
    assert digests == [
        ("consent", store.policy.consent_digests()["quality_marketing"]),
        ("suspension", None),
        ("suspension", None),
    ]


def test_a_guardians_withdrawal_notifies_the_purposes_it_takes_out_of_use(metalive):
    store = metalive
    store.confirm_age(ALICE, under_guardian_age=True, now=NOW)
    store.set_guardian_consent(ALICE, True, now=NOW, method="signed_form")
    store.set_consent(ALICE, "analytics_marketing", True, now=NOW)
    asked: list[tuple[str, ...]] = []

    def withdrawal_notices(lost):
        asked.append(tuple(lost))
        return [notice(store, "guardian_withdrawn", tuple(lost))]

    store.set_guardian_consent(ALICE, False, now=NOW, withdrawal_notices=withdrawal_notices)

    # Only the consented optional purpose was in use before; without the guardian it is not.
    assert asked == [("analytics_marketing",)]
    assert due(store) == [
        (
            "ntc_guardian_withdrawn",
            "subject.guardian_withdrawn",
            normalise_address(ALICE),
            ("analytics_marketing",),
        )
    ]


def test_an_under_age_confirmation_discards_what_the_age_rule_refuses_and_only_that(metalive):
    store = metalive
    for address in (ALICE, BOB):
        store.record_login(
            address, 1, now=NOW, ip="192.0.2.1", user_agent="Mozilla/5.0 Firefox/128.0"
        )
    # A category only Alice has: a discard must read her pairs, not anyone else's.
    store.put_record(
        ALICE,
        "cookie_id",
        "live_streaming",
        {"cookie_id": "c-1", "at": "now"},
        now=NOW,
        source="test",
    )
    assert pairs(store, ALICE) == [
        ("access_log", "fraud_prevention"),
        ("cookie_id", "live_streaming"),
        ("wallet_address", "live_streaming"),
    ]

    store.confirm_age(ALICE, under_guardian_age=True, now=NOW)

    # The wallet record shares its purpose with the discarded cookie and stays, as does
    # the age rule's own record; Bob's records are his.
    assert pairs(store, ALICE) == [
        ("age_confirmation", "live_streaming"),
        ("wallet_address", "live_streaming"),
    ]
    assert pairs(store, BOB) == [
        ("access_log", "fraud_prevention"),
        ("wallet_address", "live_streaming"),
    ]
    [entry] = [e for e in audit_entries(store, ALICE) if e.event == "age_confirmation"]
    assert entry.detail == {"value": True, "discarded": 2}


@pytest.mark.parametrize("value", ["yes", 1, None], ids=repr)
def test_a_state_event_whose_value_is_not_a_bool_is_refused_and_leaves_nothing(store, value):
    before = table_counts(store)

    with pytest.raises(StoreError) as consent:
        store.set_consent(ALICE, "quality_marketing", value, now=NOW)
    with pytest.raises(StoreError) as stop:
        stop_third_party(store, ALICE, value, now=NOW)
    with pytest.raises(StoreError) as event:
        state_event(store, ALICE, "suspension", "quality_marketing", value, NOW, "suspension")

    assert consent.value.code == stop.value.code == event.value.code == "invalid_argument"
    assert table_counts(store) == before


def key_ids(store) -> set[str]:
    with store.keys.engine.connect() as connection:
        return set(connection.execute(sa.select(subject_keys.c.key_id)).scalars())


def test_a_subject_created_by_another_transaction_meanwhile_is_used_and_our_key_dropped(
    store, monkeypatch
):
    """The race ensure_subject handles on PostgreSQL (on SQLite the write lock prevents
    it): between our lookup and our insert, another transaction files the same subject.
    Played here by inserting it first, with a key of its own, in our transaction."""
    theirs: list[str] = []

    def insert_after_them(connection, *, ref, key_id, key, checksum_address, now):
        their_key_id, their_key = store.keys.create()
        theirs.append(their_key_id)
        assert (
            insert_subject(
                connection,
                ref=ref,
                key_id=their_key_id,
                key=their_key,
                checksum_address=checksum_address,
                now=now,
            )
            is not None
        )
        return insert_subject(
            connection, ref=ref, key_id=key_id, key=key, checksum_address=checksum_address, now=now
        )

    monkeypatch.setattr(handle, "insert_subject", insert_after_them)
    keys_before = key_ids(store)

    suspend(store, ALICE, "quality_marketing", now=NOW)

    monkeypatch.undo()
    # Only their key is left, and the event went to their subject, found under its lock.
    assert key_ids(store) == keys_before | set(theirs)
    with store.engine.connect() as connection:
        subject, _events = find_with_history(connection, refs_of(store.secrets, ALICE), lock=False)
    assert subject is not None and subject.key_id == theirs[0]
    assert [(e.kind, e.purpose, e.value) for e in store.consent_history(ALICE)] == [
        ("suspension", "quality_marketing", True)
    ]
