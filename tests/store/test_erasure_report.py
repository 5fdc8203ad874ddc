"""What an erasure reports, field by field: its receipt, the notices it enqueued, the law
each retained record and provision rests on (withheld or not), the requests-log entry it
completes and its audit entry. Found by mutation testing (benchmarks/README.md, "Mutation
testing"): the other erasure tests check which rows go, not what the report says."""

from __future__ import annotations

import sqlalchemy as sa

from tests.store.conftest import ALICE, CAROL, NOW
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


def erasure_audits(store) -> list[dict]:
    return [dict(entry.detail) for entry in audit_entries(store) if entry.event == "erasure"]


def test_an_erasure_answering_a_request_reports_its_receipt_notices_and_grounds(bookkeeping):
    store = bookkeeping
    fill_every_table(store, ALICE, bookkeeping=True, recent=True)
    record_provision(store, ALICE, "Prefectural Police", ["posting_log"],
                     "protect_life_body_property", now=RECENT, withheld="investigation_hindrance")
    request_id = open_request(store, ALICE, "erasure", now=LATER)
    notices = [notice(store, "https://a.example/hook", LATER),
               notice(store, "https://b.example/hook", LATER)]

    erasure = erase_subject(store, ALICE, now=LATER, request_id=request_id, notices=notices)

    assert (erasure.receipt_id, erasure.completed_at, erasure.notices) == (request_id, LATER, 2)
    duty = store.policy.purpose("bookkeeping")
    assert duty.legal_source is not None
    assert [(r.ground, r.clause) for r in erasure.retained] == [
        (duty.legal_source.model_dump(), duty.clause)]
    assert all(isinstance(r, RetainedRecords) and r.count == 1 for r in erasure.retained)
    retention = store.policy.third_party.record_retention
    made_on = store.policy.ground("protect_life_body_property")
    withholding = WITHHOLDING_GROUNDS["investigation_hindrance"]
    # Sorted here: PostgreSQL orders the NULL ``withheld`` last, SQLite first.
    assert sorted(erasure.retained_provisions, key=lambda p: p.withheld or "") == [
        RetainedProvisionRecords("protect_life_body_property", 1, RECENT + retention,
                                 made_on.text.model_dump(), made_on.clause),
        RetainedProvisionRecords(None, 1, RECENT + retention, withholding.text(),
                                 withholding.clause, "investigation_hindrance"),
    ]
    [entry] = list_requests(store, ALICE)
    assert (entry.status, entry.completed_at) == ("completed", LATER)
    assert entry.detail["provisions"] == 1 and len(entry.detail["retained_provisions"]) == 2
    assert erasure_audits(store) == [{"records": sum(erasure.erased.values()), "retained": 1,
                                      "provisions_retained": 2}]


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
    with bookkeeping.engine.connect() as connection:
        expires_at = connection.execute(
            sa.select(records.c.expires_at).where(records.c.purpose == "bookkeeping")
        ).scalar_one()
    assert expires_at > NOW

    erasure = erase_subject(bookkeeping, ALICE, now=expires_at)

    assert erasure.retained == [] and erasure.erased["payment_reference"] == 2
