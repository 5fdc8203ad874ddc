"""Purge's edges the other purge tests do not sit on: provision records at the end of their
retention, what keeps a subject with no record (a provision record, a live session), the
exact instant a subject goes, and counts over many batches. Found by mutation testing
(benchmarks/README.md, "Mutation testing")."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from tests.store.conftest import ALICE, BOB, CAROL, NOW
from tests.store.test_erasure_retained import fill_every_table, metalive
from walletauth.store.audit import audit_entries
from walletauth.store.provisions import record_provision
from walletauth.store.schema import records, subjects
from walletauth.store.subjects import find_with_history, refs_of

__all__ = ["metalive"]  # the fixture, shared with test_erasure_retained

DAY = timedelta(days=1)



def subject_exists(store, address: str) -> bool:
    with store.engine.connect() as connection:
        subject, _events = find_with_history(connection, refs_of(store.secrets, address),
                                             lock=False)
    return subject is not None


def purge_audits(store) -> list[dict]:
    return [dict(entry.detail) for entry in audit_entries(store) if entry.event == "purge"]


def test_a_provision_record_goes_at_the_instant_its_retention_ends(metalive):
    fill_every_table(metalive, ALICE, bookkeeping=False, recent=False)
    end = NOW + metalive.policy.third_party.record_retention

    early = metalive.purge(now=end - timedelta(microseconds=1))
    on_time = metalive.purge(now=end)

    assert (early.provisions, on_time.provisions) == (0, 1)
    assert [audit["provisions"] for audit in purge_audits(metalive)] == [0, 1]


def test_a_subject_with_nothing_but_a_recent_provision_record_is_kept(metalive):
    for address in (ALICE, BOB):
        metalive.record_login(address, 1, now=NOW)
        metalive.confirm_age(address, under_guardian_age=False, now=NOW)
        metalive.set_consent(address, "prior_consent", True, now=NOW)
        record_provision(metalive, address, "Old Partner KK", ["contact_email"], "prior_consent",
                         now=NOW)
    with metalive.engine.connect() as connection:
        last_expiry = connection.execute(sa.select(sa.func.max(records.c.expires_at))).scalar_one()
    purge_at = max(last_expiry, NOW + metalive.policy.third_party.record_retention)
    record_provision(metalive, ALICE, "New Partner KK", ["contact_email"], "prior_consent",
                     now=purge_at - DAY)

    report = metalive.purge(now=purge_at)

    # Both old provision records went, then Bob with nothing left; Alice's recent one keeps her.
    assert (report.provisions, report.subjects) == (2, 1)
    assert subject_exists(metalive, ALICE) and not subject_exists(metalive, BOB)


def test_a_live_session_keeps_its_subject_until_it_ends(store):
    store.record_login(ALICE, 1, now=NOW)
    store.record_login(BOB, 1, now=NOW)
    [wallet] = store.records(ALICE, "service_provision", now=NOW, category="wallet_address")
    end = wallet.expires_at
    store.create_session("alice-session-0123456789", ALICE, expires_at=end + timedelta(hours=1))
    store.create_session("bob-session-0123456789ab", BOB, expires_at=end)

    report = store.purge(now=end)

    # Bob's session ends at the same instant as his records: nothing holds him.
    assert report.subjects == 1
    assert subject_exists(store, ALICE) and not subject_exists(store, BOB)
    assert store.purge(now=end + timedelta(hours=1)).subjects == 1


def test_counts_add_up_over_many_batches(store):
    for address in (ALICE, BOB, CAROL):
        store.record_login(address, 1, now=NOW)
        store.use_nonce(f"nonce-{address}", remember_until=NOW + timedelta(minutes=5))

    report = store.purge(now=NOW + 400 * DAY, batch_size=1)

    assert (report.subjects, report.nonces, report.records_removed) == (3, 3, 6)
    [audit] = purge_audits(store)
    assert (audit["subjects"], audit["nonces"], audit["sessions"]) == (3, 3, 0)


def test_each_hold_on_a_subject_keeps_it_alone(store):
    """Every record and session the store writes moves ``retained_until`` past its end, so
    the other holds (a live record, a live session) only matter for rows that outlive it
    some other way: set here by hand, one hold per subject."""
    for address in (ALICE, BOB, CAROL):
        store.record_login(address, 1, now=NOW)
    [wallet] = store.records(ALICE, "service_provision", now=NOW, category="wallet_address")
    end = wallet.expires_at
    store.create_session("alice-session-0123456789", ALICE, expires_at=end + DAY)
    store.put_record(BOB, "contact_email", "service_provision", {"email": "b@x.io"},
                     now=end - DAY, source="test")
    ids = {address: subject_id(store, address) for address in (ALICE, BOB, CAROL)}
    with store.engine.begin() as connection:
        connection.execute(sa.update(subjects).where(subjects.c.id.in_([ids[ALICE], ids[BOB]]))
                           .values(retained_until=end))
        connection.execute(sa.delete(records).where(records.c.subject_id == ids[CAROL]))

    assert store.purge(now=end - DAY).subjects == 0  # Carol: held by retained_until alone
    assert store.purge(now=end).subjects == 1

    assert subject_exists(store, ALICE) and subject_exists(store, BOB)
    assert not subject_exists(store, CAROL)


def subject_id(store, address: str) -> int:
    with store.engine.connect() as connection:
        subject, _events = find_with_history(connection, refs_of(store.secrets, address),
                                             lock=False)
    assert subject is not None
    return subject.id
