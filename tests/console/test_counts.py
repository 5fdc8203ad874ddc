"""The console's read-only figures (walletauth.store.console_counts), on SQLite and
PostgreSQL: what the overview draws and the inbox lists."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.store import conftest as store_fixtures
from tests.store.conftest import ALICE, BOB, CAROL, NOW
from walletauth.rights import record_provision
from walletauth.store import StoreError, console_counts
from walletauth.store.requests_log import finish_request, open_request

backend = store_fixtures.backend
secrets = store_fixtures.secrets
abcrecords = store_fixtures.abcrecords
store = store_fixtures.store


def test_an_empty_store_counts_nothing(store):
    figures = console_counts.overview(store, now=NOW)
    assert figures.subjects == 0
    assert figures.records == {}
    assert figures.expiring == {30: 0, 90: 0, 365: 0}
    assert figures.requests == {}
    assert sum(figures.days_to_close.values()) == 0
    assert (figures.notices_pending, figures.notices_failed) == (0, 0)
    assert len(figures.consents) == 12
    assert all(g == w == 0 for _s, g, w in figures.consents)


def test_the_overview_counts_subjects_records_consents_and_requests(store):
    for index, who in enumerate((ALICE, BOB, CAROL)):
        store.put_record(who, "contact_email", "service_provision", {"email": f"{index}@x.io"},
                         now=NOW - timedelta(days=7 * index), source="signup")
    store.set_consent(ALICE, "quality_marketing", True, now=NOW - timedelta(days=3))
    store.set_consent(BOB, "quality_marketing", True, now=NOW - timedelta(days=10))
    store.set_consent(BOB, "quality_marketing", False, now=NOW - timedelta(days=2))
    quick = open_request(store, ALICE, "export", now=NOW - timedelta(hours=2))
    finish_request(store, quick, "completed", now=NOW - timedelta(hours=1))
    slow = open_request(store, BOB, "erase:catalogue", now=NOW - timedelta(days=20))
    finish_request(store, slow, "completed", now=NOW - timedelta(days=1))
    open_request(store, CAROL, "erase:catalogue", now=NOW)

    figures = console_counts.overview(store, now=NOW)
    assert figures.subjects == 3
    assert figures.records[("contact_email", "service_provision")] == 3
    last_week, week_before = figures.consents[-1], figures.consents[-2]
    assert (last_week[1], last_week[2]) == (1, 1)  # Alice granted, Bob withdrew
    assert (week_before[1], week_before[2]) == (1, 0)  # Bob granted
    assert figures.requests == {"completed": 2, "received": 1}
    assert figures.days_to_close["under 1 day"] == 1
    assert figures.days_to_close["14-30 days"] == 1
    expiries = [r.expires_at for who in (ALICE, BOB, CAROL)
                for r in store.subject_records(who, now=NOW)]
    assert figures.expiring == {
        days: sum(NOW < at <= NOW + timedelta(days=days) for at in expiries)
        for days in (30, 90, 365)}


def test_records_expiring_soon_are_counted_in_each_horizon(store):
    store.put_record(ALICE, "contact_email", "service_provision", {"email": "a@x.io"}, now=NOW,
                     source="signup")
    (record,) = [r for r in store.subject_records(ALICE, now=NOW)
                 if r.category == "contact_email"]
    ten_days_before = record.expires_at - timedelta(days=10)
    figures = console_counts.overview(store, now=ten_days_before)
    assert figures.expiring[30] >= 1
    assert figures.expiring[90] >= figures.expiring[30]


def test_records_past_their_expiry_are_not_counted(store):
    store.put_record(ALICE, "contact_email", "service_provision", {"email": "a@x.io"}, now=NOW,
                     source="signup")
    later = NOW + timedelta(days=365 * 30)
    assert console_counts.overview(store, now=later).records == {}


def test_the_requests_log_lists_newest_first_and_names_no_address(store):
    first = open_request(store, ALICE, "erase:catalogue", now=NOW - timedelta(minutes=5))
    second = open_request(store, BOB, "export", now=NOW)
    finish_request(store, second, "completed", now=NOW)
    listed = console_counts.logged_requests(store)
    assert [entry.id for entry in listed] == [second, first]
    assert [entry.id for entry in console_counts.logged_requests(store, status="received")] == [
        first]
    assert all(ALICE.lower()[2:] not in repr(entry).lower() for entry in listed)
    assert console_counts.logged_request(store, first).kind == "erase:catalogue"
    assert console_counts.logged_request(store, "req_nothing") is None


@pytest.mark.parametrize("limit", [0, 501, True])
def test_a_page_out_of_bounds_is_refused(store, limit):
    with pytest.raises(StoreError) as refused:
        console_counts.logged_requests(store, limit=limit)
    assert refused.value.code == "invalid_argument"


def test_the_purge_dry_run_counts_what_the_purge_then_removes(store):
    for who in (ALICE, BOB):
        store.put_record(who, "contact_email", "service_provision", {"email": "x@x.io"},
                         now=NOW, source="signup")
    store.put_record(CAROL, "inquiry", "service_provision", {"message": "hello"}, now=NOW,
                     source="inquiry")
    stale = open_request(store, ALICE, "export", now=NOW)  # never finished: interrupted
    open_request(store, BOB, "erase:catalogue", now=NOW)  # waits for the operator
    # A provision record keeps Bob (and its key) until the provision's own retention ends.
    record_provision(store, BOB, "police", ["contact_email"], "required_by_law", now=NOW)
    last_expiry = max(r.expires_at for who in (ALICE, BOB, CAROL)
                      for r in store.subject_records(who, now=NOW))
    later = max(last_expiry, NOW + store.policy.third_party.record_retention) - timedelta(days=1)
    preview = console_counts.purge_preview(store, now=later)
    assert sum(preview.records.values()) > 0
    assert preview.requests_interrupted == 1
    assert (preview.subjects, preview.provisions) == (2, 0)
    before = console_counts.purge_preview(store, now=later)
    report = store.purge(now=later)
    assert (preview.records, preview.subjects, preview.nonces, preview.sessions,
            preview.requests_interrupted, preview.requests_removed, preview.notices_abandoned,
            preview.provisions) == (
        report.records, report.subjects, report.nonces, report.sessions,
        report.requests_interrupted, report.requests_removed, report.notices_abandoned,
        report.provisions)
    assert before == preview  # the dry run deleted nothing
    after = console_counts.purge_preview(store, now=later)
    assert after.records == {} and after.subjects == 0 and after.requests_interrupted == 0
    gone = console_counts.purge_preview(store, now=later + timedelta(days=2))
    assert (gone.provisions, gone.subjects) == (1, 1)
    assert console_counts.logged_request(store, stale).reason == "interrupted"
