"""The service's own bookkeeping runs out too: purge closes requests a dead process left
``received``, deletes requests-log entries past the log's retention and abandons notices
no receiver took within the retry period. Counts only in the report and audit entry."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.store.conftest import ALICE, BOB, NOW
from walletauth.store import StoreError
from walletauth.store.audit import audit_entries
from walletauth.store.erasure import erase_subject
from walletauth.store.outbox import PendingNotice, pending_count
from walletauth.store.purge import (
    INTERRUPTED_REQUEST_AFTER,
    NOTICE_ABANDON_AFTER,
    REQUESTS_LOG_RETENTION,
)
from walletauth.store.requests_log import finish_request, list_requests, open_request
from walletauth.store.rights_schema import rights_requests

DAY = timedelta(days=1)


def notice(store, endpoint: str, at) -> PendingNotice:
    return PendingNotice(notice_id=f"ntc_{endpoint}_{at.timestamp():.0f}", endpoint=endpoint,
                         type="subject.erased", occurred_at=at, policy_id=store.policy.id,
                         policy_version=store.policy.version)


def statuses(store, address) -> list[tuple[str, str, str | None]]:
    return sorted((r.kind, r.status, r.reason) for r in list_requests(store, address))


def test_the_defaults_are_three_years_thirty_days_and_an_hour():
    assert REQUESTS_LOG_RETENTION == 3 * 365 * DAY
    assert NOTICE_ABANDON_AFTER == 30 * DAY
    assert INTERRUPTED_REQUEST_AFTER.total_seconds() == 3600


def test_a_request_a_dead_process_left_received_is_closed_as_interrupted(store):
    store.record_login(ALICE, 1, now=NOW)
    open_request(store, ALICE, "erase", now=NOW)  # the erasure's transaction never committed
    open_request(store, ALICE, "erase:music", now=NOW)  # handed over, waits for the operator

    too_soon = store.purge(now=NOW + INTERRUPTED_REQUEST_AFTER - timedelta(seconds=1))
    assert too_soon.requests_interrupted == 0
    assert statuses(store, ALICE) == [("erase", "received", None),
                                      ("erase:music", "received", None)]

    report = store.purge(now=NOW + INTERRUPTED_REQUEST_AFTER, batch_size=1)

    assert report.requests_interrupted == 1
    assert statuses(store, ALICE) == [("erase", "denied", "interrupted"),
                                      ("erase:music", "received", None)]
    [closed] = [r for r in list_requests(store, ALICE) if r.kind == "erase"]
    assert closed.completed_at == NOW + INTERRUPTED_REQUEST_AFTER
    assert store.purge(now=NOW + 2 * INTERRUPTED_REQUEST_AFTER).requests_interrupted == 0


def test_receipts_outlive_the_erasure_then_go_after_the_log_retention(store):
    store.record_login(ALICE, 1, now=NOW)
    store.record_login(BOB, 1, now=NOW)
    erased = open_request(store, ALICE, "erase", now=NOW)
    erase_subject(store, ALICE, now=NOW, request_id=erased)
    later = NOW + 400 * DAY
    finish_request(store, open_request(store, BOB, "export", now=later), "completed", now=later)

    kept = store.purge(now=NOW + REQUESTS_LOG_RETENTION - DAY)
    assert kept.requests_removed == 0
    assert statuses(store, ALICE) == [("erase", "completed", None)]

    report = store.purge(now=NOW + REQUESTS_LOG_RETENTION, batch_size=1)

    assert report.requests_removed == 1
    assert list_requests(store, ALICE) == []
    assert statuses(store, BOB) == [("export", "completed", None)]


def test_a_request_never_closed_goes_after_the_log_retention_too(store):
    open_request(store, ALICE, "export:music", now=NOW)

    report = store.purge(now=NOW + REQUESTS_LOG_RETENTION)

    assert report.requests_removed == 1
    with store.engine.connect() as connection:
        assert connection.execute(
            sa.select(sa.func.count()).select_from(rights_requests)).scalar_one() == 0


def test_notices_no_receiver_took_are_abandoned_after_the_retry_period(store):
    store.record_login(ALICE, 1, now=NOW)
    store.record_login(BOB, 1, now=NOW)
    erase_subject(store, ALICE, now=NOW,
                  notices=[notice(store, "music", NOW), notice(store, "video", NOW)])
    fresh = NOW + 20 * DAY
    erase_subject(store, BOB, now=fresh, notices=[notice(store, "music", fresh)])

    kept = store.purge(now=NOW + NOTICE_ABANDON_AFTER - timedelta(seconds=1))
    assert (kept.notices_abandoned, pending_count(store.engine)) == (0, 3)

    report = store.purge(now=NOW + NOTICE_ABANDON_AFTER, batch_size=1)

    assert report.notices_abandoned == 2
    assert pending_count(store.engine) == 1
    [entry] = [e for e in audit_entries(store) if e.event == "purge"][-1:]
    assert entry.detail["notices_abandoned"] == 2
    assert ALICE.lower()[2:] not in str(entry.detail).lower()


def test_the_bounds_are_the_operators_to_set(store):
    open_request(store, ALICE, "export", now=NOW)
    store.record_login(ALICE, 1, now=NOW)
    erase_subject(store, ALICE, now=NOW, notices=[notice(store, "music", NOW)])

    bounds = {"requests_retention": DAY, "notice_abandon_after": DAY, "interrupted_after": DAY}

    first = store.purge(now=NOW + 2 * DAY, **bounds)
    # Closed as interrupted just now: the log's retention counts from the closing.
    second = store.purge(now=NOW + 3 * DAY, **bounds)

    assert (first.requests_interrupted, first.requests_removed,
            first.notices_abandoned) == (1, 0, 1)
    assert (second.requests_interrupted, second.requests_removed) == (0, 1)
    detail = [e for e in audit_entries(store) if e.event == "purge"][-1].detail
    assert (detail["requests_interrupted"], detail["requests_removed"]) == (0, 1)


@pytest.mark.parametrize("bound", ["requests_retention", "notice_abandon_after",
                                   "interrupted_after"])
@pytest.mark.parametrize("value", [timedelta(0), -DAY, 30])
def test_a_bound_that_is_no_positive_duration_is_refused(store, bound, value):
    open_request(store, ALICE, "export", now=NOW)

    with pytest.raises(StoreError) as refused:
        store.purge(now=NOW + 5 * 365 * DAY, **{bound: value})

    assert refused.value.code == "invalid_argument"
    assert statuses(store, ALICE) == [("export", "received", None)]
