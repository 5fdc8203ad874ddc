"""What an erasure reports, field by field: its receipt, the notices it enqueued, the law
each retained record and provision rests on (withheld or not), the requests-log entry it
completes and its audit entry. Found by mutation testing (benchmarks/README.md, "Mutation
testing"): the other erasure tests check which rows go, not what the report says."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from tests.store.conftest import ALICE, BOB, CAROL, NOW
from tests.store.test_bookkeeping_retention import notice
from tests.store.test_erasure_retained import LATER, RECENT, bookkeeping, fill_every_table
from walletauth.store.audit import audit_entries
from walletauth.store.erasure import RetainedProvisionRecords, RetainedRecords, erase_subject
from walletauth.store.provisions import record_provision
from walletauth.store.requests_log import list_requests, open_request
from walletauth.store.schema import records
from walletauth.store.withholding import WITHHOLDING_GROUNDS

__all__ = ["bookkeeping"]  # the fixture, shared with test_erasure_retained

EMPTY_DETAIL = {"erased": {}, "consent_events": 0, "sessions": 0, "provisions": 0,
                "retained": [], "retained_provisions": []}


def bookkeeping_expiry(store) -> datetime:
    """When the one bookkeeping record (filled first: Alice's) runs out."""
    with store.engine.connect() as connection:
        expires_at: datetime = connection.execute(
            sa.select(records.c.expires_at).where(records.c.purpose == "bookkeeping")
        ).scalar_one()
    return expires_at


def erasure_audits(store) -> list[dict]:
    return [dict(entry.detail) for entry in audit_entries(store) if entry.event == "erasure"]


def test_an_erasure_answering_a_request_reports_its_receipt_notices_and_grounds(bookkeeping):
    store = bookkeeping
    fill_every_table(store, ALICE, bookkeeping=True, recent=True)
    kept_until = bookkeeping_expiry(store)
    fill_every_table(store, BOB, bookkeeping=True, recent=True)
    record_provision(store, ALICE, "Prefectural Police", ["posting_log"],
                     "protect_life_body_property", now=RECENT, withheld="investigation_hindrance")
    record_provision(store, ALICE, "New Partner KK", ["contact_email"], "prior_consent",
                     now=RECENT)
    bob_audit = audit_entries(store, BOB)
    assert bob_audit and audit_entries(store, ALICE)
    request_id = open_request(store, ALICE, "erasure", now=LATER)
    notices = [notice(store, "https://a.example/hook", LATER),
               notice(store, "https://b.example/hook", LATER)]

    erasure = erase_subject(store, ALICE, now=LATER, request_id=request_id, notices=notices)

    assert (erasure.receipt_id, erasure.completed_at, erasure.notices) == (request_id, LATER, 2)
    assert (erasure.consent_events, erasure.sessions, erasure.third_party_provisions) == (3, 2, 1)
    duty = store.policy.purpose("bookkeeping")
    assert duty.legal_source is not None
    assert erasure.retained == [RetainedRecords("payment_reference", "bookkeeping", 1, kept_until,
                                                duty.legal_source.model_dump(), duty.clause)]
    retention = store.policy.third_party.record_retention
    until = RECENT + retention
    consent, made_on = (store.policy.ground(g)
                        for g in ("prior_consent", "protect_life_body_property"))
    withholding = WITHHOLDING_GROUNDS["investigation_hindrance"]
    # Sorted here: PostgreSQL orders the NULL ``withheld`` last, SQLite first.
    assert sorted(erasure.retained_provisions, key=lambda p: (p.ground or "~", p.withheld)) == [
        RetainedProvisionRecords("prior_consent", 1, until, consent.text.model_dump(),
                                 consent.clause),
        RetainedProvisionRecords("protect_life_body_property", 1, until,
                                 made_on.text.model_dump(), made_on.clause),
        RetainedProvisionRecords(None, 1, until, withholding.text(), withholding.clause,
                                 "investigation_hindrance"),
    ]
    [entry] = list_requests(store, ALICE)
    assert (entry.status, entry.completed_at) == ("completed", LATER)
    # The log keeps a withheld provision's own ground: the log is not shown to the subject.
    provision = {"count": 1, "until": until.isoformat()}
    assert {**entry.detail, "retained_provisions": sorted(
        entry.detail["retained_provisions"], key=lambda p: p["ground"])} == {
        "erased": erasure.erased, "consent_events": 3, "sessions": 2, "provisions": 1,
        "retained": [{"category": "payment_reference", "purpose": "bookkeeping", "count": 1,
                      "until": kept_until.isoformat()}],
        "retained_provisions": [{"ground": "prior_consent", **provision},
                                {"ground": "protect_life_body_property", **provision},
                                {"ground": "protect_life_body_property", **provision}],
    }
    assert erasure_audits(store) == [{"records": sum(erasure.erased.values()), "retained": 1,
                                      "provisions_retained": 3}]
    # The processing log loses its link to Alice only: her subject row stays (retained).
    assert audit_entries(store, ALICE) == [] and audit_entries(store, BOB) == bob_audit


def test_a_provision_exactly_its_retention_old_is_erased_not_retained(bookkeeping):
    fill_every_table(bookkeeping, ALICE, bookkeeping=False, recent=True)

    erasure = erase_subject(
        bookkeeping, ALICE, now=RECENT + bookkeeping.policy.third_party.record_retention)

    assert erasure.retained_provisions == [] and erasure.third_party_provisions == 2


def test_an_erasure_of_an_unknown_address_completes_its_request_with_an_empty_report(
    bookkeeping,
):
    request_id = open_request(bookkeeping, CAROL, "erasure", now=LATER)

    erasure = erase_subject(bookkeeping, CAROL, now=LATER, request_id=request_id)

    assert (erasure.subject_found, erasure.receipt_id, erasure.completed_at) == (
        False, request_id, LATER)
    [entry] = list_requests(bookkeeping, CAROL)
    assert (entry.status, entry.completed_at, dict(entry.detail)) == (
        "completed", LATER, EMPTY_DETAIL)
    assert erasure_audits(bookkeeping) == [
        {"records": 0, "retained": 0, "provisions_retained": 0}]


def test_an_erasure_no_request_asked_for_has_an_empty_receipt(bookkeeping):
    fill_every_table(bookkeeping, ALICE, bookkeeping=False, recent=False)

    assert erase_subject(bookkeeping, ALICE, now=LATER).receipt_id == ""
    assert erase_subject(bookkeeping, CAROL, now=LATER).receipt_id == ""


def test_a_legal_duty_record_expiring_at_the_erasure_is_erased_not_retained(bookkeeping):
    fill_every_table(bookkeeping, ALICE, bookkeeping=True, recent=False)
    expires_at = bookkeeping_expiry(bookkeeping)
    assert expires_at > NOW

    erasure = erase_subject(bookkeeping, ALICE, now=expires_at)

    assert erasure.retained == [] and erasure.erased["payment_reference"] == 2
