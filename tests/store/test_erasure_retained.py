"""An erasure that keeps something (records of a named legal duty, provision records within
the policy's ``record_retention``) cannot delete the subject row and let the cascade do the
rest: it deletes table by table. These tests fill every table first, so a table that branch
forgets shows up as rows left behind."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.policy.helpers import metalive_with_bookkeeping_toml, shipped_policy_toml
from tests.store.conftest import ALICE, BOB, NOW
from walletauth.policy import parse_policy
from walletauth.store import Store
from walletauth.store.erasure import erase_subject
from walletauth.store.provisions import record_provision
from walletauth.store.rights_schema import third_party_provisions
from walletauth.store.schema import consent_events, records, sessions
from walletauth.store.subjects import find_with_history, refs_of

# Past the shipped METALIVE `record_retention` (1096 days) for a provision made at NOW, well
# within the bookkeeping duty's seven years for a record made at NOW.
LATER = NOW + timedelta(days=1100)
RECENT = LATER - timedelta(days=1)
PAYMENT = {"provider": "card", "reference": "tx-1", "amount": 500, "at": NOW.isoformat()}


def open_store(backend, secrets, toml: str) -> Store:
    return Store.open(backend.url, policy=parse_policy(toml, origin="test policy"),
                      secrets=secrets, keystore_url=backend.keystore_url)


@pytest.fixture
def bookkeeping(backend, secrets) -> Iterator[Store]:
    """METALIVE plus an operator's bookkeeping duty: payment references kept for it stay."""
    store = open_store(backend, secrets, metalive_with_bookkeeping_toml())
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def metalive(backend, secrets) -> Iterator[Store]:
    """The shipped METALIVE: no legal duty, so only provision records can be retained."""
    store = open_store(backend, secrets, shipped_policy_toml("metalive"))
    try:
        yield store
    finally:
        store.close()


def session_of(address: str, n: int) -> str:
    return f"session-{n}-{address[-8:]}-" + "s" * 24


def fill_every_table(store: Store, address: str, *, bookkeeping: bool, recent: bool) -> None:
    """Records, consents, sessions (one of them rotated) and an old provision; with
    ``bookkeeping`` a record of the legal duty, with ``recent`` a provision still within
    its record retention at LATER."""
    store.record_login(address, 1, now=NOW, ip="203.0.113.9", user_agent="curl/8.0")
    store.confirm_age(address, under_guardian_age=False, now=NOW)  # METALIVE asks first
    store.set_consent(address, "prior_consent", True, now=NOW)
    store.set_consent(address, "analytics_marketing", True, now=NOW)
    store.put_record(address, "posting_log", "fraud_prevention",
                     {"ip": "203.0.113.9", "at": NOW.isoformat()}, now=NOW, source="chat")
    store.put_record(address, "payment_reference", "payment", PAYMENT, now=NOW, source="shop")
    if bookkeeping:
        store.put_record(address, "payment_reference", "bookkeeping", PAYMENT, now=NOW,
                         source="shop")
    store.create_session(session_of(address, 1), address, expires_at=LATER + timedelta(hours=1))
    store.rotate_session(session_of(address, 1), session_of(address, 2), now=NOW)
    store.create_session(session_of(address, 3), address, expires_at=LATER + timedelta(hours=1))
    record_provision(store, address, "Old Partner KK", ["contact_email"], "prior_consent",
                     now=NOW)
    if recent:
        record_provision(store, address, "Prefectural Police", ["posting_log"],
                         "protect_life_body_property", now=RECENT)


def rows_of(store: Store, address: str) -> dict[str, list[tuple[str, ...]]]:
    """What each subject-linked table holds for the address, read directly (no API in
    between that could hide a row)."""
    with store.engine.connect() as connection:
        subject, _events = find_with_history(connection, refs_of(store.secrets, address),
                                             lock=False)
        assert subject is not None
        queries = {
            "records": sa.select(records.c.category, records.c.purpose)
            .where(records.c.subject_id == subject.id),
            "consent_events": sa.select(consent_events.c.kind, consent_events.c.purpose)
            .where(consent_events.c.subject_id == subject.id),
            "sessions": sa.select(sessions.c.id_hash).where(sessions.c.subject_id == subject.id),
            "provisions": sa.select(third_party_provisions.c.recipient)
            .where(third_party_provisions.c.subject_id == subject.id),
        }
        return {name: sorted((tuple(row) for row in connection.execute(query)), key=repr)
                for name, query in queries.items()}


def test_a_retained_legal_duty_record_keeps_only_itself_and_the_recent_provision(bookkeeping):
    fill_every_table(bookkeeping, ALICE, bookkeeping=True, recent=True)
    fill_every_table(bookkeeping, BOB, bookkeeping=True, recent=True)
    before = rows_of(bookkeeping, ALICE)
    assert before["consent_events"] and before["records"]
    assert len(before["sessions"]) == 3 and len(before["provisions"]) == 2
    bob_before = rows_of(bookkeeping, BOB)

    erasure = erase_subject(bookkeeping, ALICE, now=LATER)

    assert rows_of(bookkeeping, ALICE) == {
        "records": [("payment_reference", "bookkeeping")],
        "consent_events": [],
        "sessions": [],
        "provisions": [("Prefectural Police",)],
    }
    assert rows_of(bookkeeping, BOB) == bob_before
    # The report counts what went: the age confirmation and two consents, the two live
    # sessions (the rotated one is its successor's past, not another sign-in) and the
    # provision record past its period.
    assert (erasure.consent_events, erasure.sessions, erasure.third_party_provisions) == (3, 2, 1)
    assert [(r.category, r.purpose, r.count) for r in erasure.retained] == [
        ("payment_reference", "bookkeeping", 1)]
    assert [(p.ground, p.count) for p in erasure.retained_provisions] == [
        ("protect_life_body_property", 1)]
    assert bookkeeping.consent_history(ALICE) == []
    assert not bookkeeping.session_active(session_of(ALICE, 2), now=NOW)
    assert not bookkeeping.session_active(session_of(ALICE, 3), now=NOW)
    assert bookkeeping.session_active(session_of(BOB, 3), now=NOW)


def test_a_retained_legal_duty_record_alone_takes_every_provision_past_its_period(bookkeeping):
    fill_every_table(bookkeeping, ALICE, bookkeeping=True, recent=False)

    erasure = erase_subject(bookkeeping, ALICE, now=LATER)

    assert rows_of(bookkeeping, ALICE) == {
        "records": [("payment_reference", "bookkeeping")],
        "consent_events": [],
        "sessions": [],
        "provisions": [],
    }
    assert erasure.retained_provisions == [] and erasure.third_party_provisions == 1


def test_a_retained_provision_alone_keeps_no_record_consent_or_session(metalive):
    fill_every_table(metalive, ALICE, bookkeeping=False, recent=True)
    fill_every_table(metalive, BOB, bookkeeping=False, recent=True)
    bob_before = rows_of(metalive, BOB)

    erasure = erase_subject(metalive, ALICE, now=LATER)

    assert rows_of(metalive, ALICE) == {
        "records": [],
        "consent_events": [],
        "sessions": [],
        "provisions": [("Prefectural Police",)],
    }
    assert rows_of(metalive, BOB) == bob_before
    assert erasure.retained == [] and len(erasure.retained_provisions) == 1
    assert metalive.records(ALICE, "fraud_prevention", now=LATER) == []
