"""The requests log as the store keeps it: a request closed with its reason and time, and
the subject's own list in (received_at, id) order, paged from where the last page ended.
Found by mutation testing (benchmarks/README.md, "Mutation testing")."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.store.conftest import ALICE, BOB, NOW
from walletauth.store import StoreError
from walletauth.store.audit import audit_entries
from walletauth.store.requests_log import (
    finish_audited,
    finish_request,
    list_requests,
    open_request,
)
from walletauth.store.rights_schema import rights_requests

HOUR = timedelta(hours=1)


def test_a_finished_request_keeps_its_id_status_reason_time_and_detail(store):
    request = open_request(store, ALICE, "erase", now=NOW)

    finish_request(
        store, request, "denied", now=NOW + HOUR, reason="legal_hold", detail={"kept": 2}
    )

    [entry] = list_requests(store, ALICE)
    assert (entry.id, entry.kind, entry.status, entry.reason) == (
        request,
        "erase",
        "denied",
        "legal_hold",
    )
    assert (entry.received_at, entry.completed_at, dict(entry.detail)) == (
        NOW,
        NOW + HOUR,
        {"kept": 2},
    )


def received(store, address: str, at_and_ids: list[tuple[int, str]]) -> None:
    """Requests with chosen ids (the log's are random) received ``hours`` after NOW."""
    with store.engine.begin() as connection:
        for hours, request_id in at_and_ids:
            connection.execute(
                sa.insert(rights_requests).values(
                    id=request_id,
                    subject_ref=store.subject_ref(address),
                    kind="export",
                    status="received",
                    reason=None,
                    received_at=NOW + hours * HOUR,
                    completed_at=None,
                    detail={},
                )
            )


def test_the_list_is_in_received_order_then_by_id_and_pages_on_that_key(store):
    # Inserted out of order; two share a time, so the id decides between them.
    received(store, ALICE, [(2, "req_a"), (1, "req_c"), (1, "req_b"), (3, "req_0")])
    received(store, BOB, [(1, "req_bob")])

    everything = [entry.id for entry in list_requests(store, ALICE)]
    pages, after = [], None
    for _ in range(5):  # four pages, then an empty one (bounded: a paging bug may loop)
        page = list_requests(store, ALICE, after=after, limit=1)
        if not page:
            break
        pages.append(page[0].id)
        after = (page[0].received_at, page[0].id)
    two = [entry.id for entry in list_requests(store, ALICE, limit=2)]
    after_tie = [entry.id for entry in list_requests(store, ALICE, after=(NOW + HOUR, "req_b"))]

    assert everything == pages == ["req_b", "req_c", "req_a", "req_0"]
    assert two == ["req_b", "req_c"]
    assert after_tie == ["req_c", "req_a", "req_0"]


@pytest.mark.parametrize("limit", [0, -1, 1.5, "2"])
def test_a_limit_that_is_no_positive_count_is_refused(store, limit):
    with pytest.raises(StoreError) as refused:
        list_requests(store, ALICE, limit=limit)
    assert refused.value.code == "invalid_argument"


def test_listing_does_not_wait_for_a_writer(store, backend):
    """A read-only transaction: on SQLite it begins DEFERRED and reads beside a writer
    holding the write lock (IMMEDIATE would wait the busy timeout, 10 s, then fail)."""
    request = open_request(store, ALICE, "export", now=NOW)
    writing, listed = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:
        with store.engine.begin() as connection:
            connection.execute(sa.update(rights_requests).values(detail={"held": 1}))
            writing.set()
            listed.wait(timeout=30)

    writer = threading.Thread(target=hold_the_write_lock)
    writer.start()
    try:
        assert writing.wait(timeout=30)
        entries = list_requests(store, ALICE)
    finally:
        listed.set()
        writer.join()
    assert [(entry.id, dict(entry.detail)) for entry in entries] == [(request, {})]


def test_a_request_completed_with_its_audit_entry_has_both_or_neither(store):
    """finish_audited (the export's completion): the request completed and the subject's
    audit entry in one transaction; an entry the audit log refuses (a wallet address in
    its detail) leaves the request received and no entry."""
    store.record_login(ALICE, 1, now=NOW)
    completed = open_request(store, ALICE, "export", now=NOW)
    refused = open_request(store, ALICE, "export", now=NOW)
    before = audit_entries(store, ALICE)

    finish_audited(store, completed, ALICE, "export", now=NOW + HOUR, detail={"records": 2},
                   audit_detail={"records": 2, "withheld": 1})
    with pytest.raises(StoreError):
        finish_audited(store, refused, ALICE, "export", now=NOW + HOUR,
                       detail={"records": 2}, audit_detail={"records": ALICE})

    entries = {entry.id: entry for entry in list_requests(store, ALICE)}
    assert (entries[completed].status, entries[completed].completed_at) == ("completed",
                                                                            NOW + HOUR)
    assert dict(entries[completed].detail) == {"records": 2}
    assert (entries[refused].status, entries[refused].completed_at) == ("received", None)
    [logged] = audit_entries(store, ALICE)[len(before):]
    assert (logged.event, logged.at, dict(logged.detail)) == (
        "export", NOW + HOUR, {"records": 2, "withheld": 1})
    assert logged.subject_ref == store.subject_ref(ALICE)
