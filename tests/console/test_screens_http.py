"""The console's read-only screens over HTTP: they render from real data, show no
address, and show a count under 5 as "<5"."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.rights.helpers import leaks
from tests.server.conftest import Wallet
from walletauth import rights
from walletauth.store import console_counts, outbox
from walletauth.store.audit import audit_entries


def people(console, how_many: int) -> list[Wallet]:
    store, now = console.runtime.store, console.runtime.clock()
    wallets = [Wallet() for _ in range(how_many)]
    for index, wallet in enumerate(wallets):
        store.put_record(wallet.address, "contact_email", "service_provision",
                         {"email": f"p{index}@x.io"}, now=now, source="signup")
        if index < 2:
            store.set_consent(wallet.address, "quality_marketing", True, now=now)
    return wallets


def test_the_overview_shows_counts_but_no_one(console):
    wallets = people(console, 7)
    console.sign_in()
    page = console.http.get("/console/overview")
    assert page.status_code == 200
    assert re.search(r'id="subjects">7<', page.text)
    assert "<svg" in page.text and "<script" not in page.text
    # 2 consents this week: shown as <5 in the chart, never as the figure itself.
    assert "granted" in page.text and "&lt;5" in page.text
    table = page.text.split('id="records-table"')[1]
    assert ">7<" in table
    for wallet in wallets:
        assert leaks(page.text.encode(), wallet.address) == []


def test_a_small_population_is_shown_as_under_five(console):
    people(console, 3)
    console.sign_in()
    page = console.http.get("/console/overview")
    assert re.search(r'id="subjects">&lt;5<', page.text)
    assert 'id="subjects">3<' not in page.text


def test_the_overview_is_the_first_screen_after_sign_in(console):
    console.sign_in()
    landing = console.http.get("/console/", follow_redirects=False)
    assert (landing.status_code, landing.headers["location"]) == (303, "/console/overview")


def failed_notice(console, wallet) -> None:
    """A restriction whose notice to a service failed once."""
    store, now = console.runtime.store, console.runtime.clock()
    store.put_record(wallet.address, "contact_email", "service_provision", {"email": "a@x.io"},
                     now=now, source="signup")
    store.set_consent(wallet.address, "quality_marketing", True, now=now)
    rights.restrict(store, wallet.address, ["quality_marketing"], now=now, notify=["catalogue"])
    (row,) = console_counts.outbox(store)
    outbox.failed(store.engine, row.notice_id, row.endpoint, error="http_503",
                  retry_in=timedelta(hours=6), now=now)


def test_the_outbox_lists_failed_notices_and_retries_them_now(console, wallet):
    failed_notice(console, wallet)
    console.sign_in()
    page = console.http.get("/console/notices")
    assert page.status_code == 200
    assert "http_503" in page.text and "subject.restricted" in page.text
    assert leaks(page.text.encode(), wallet.address) == []
    refused = console.post("/console/notices/retry", {"reason": ""})
    assert refused.json()["code"] == "console_form_invalid"
    done = console.post("/console/notices/retry", {"reason": "receiver back up"})
    assert done.status_code == 200
    (row,) = console_counts.outbox(console.runtime.store)
    assert row.next_attempt_at == console.runtime.clock()
    entry = [e for e in audit_entries(console.runtime.store)
             if e.event == "operator_action"][-1]
    assert (entry.detail["action"], entry.detail["notices"]) == ("notices_retry", 1)


def test_an_abandoned_notice_is_shown_so_and_not_retried(console, wallet, clock):
    failed_notice(console, wallet)
    clock.advance(timedelta(days=31))
    console.sign_in()
    assert "abandoned" in console.http.get("/console/notices").text
    console.post("/console/notices/retry", {"reason": "try"})
    (row,) = console_counts.outbox(console.runtime.store)
    assert row.next_attempt_at != console.runtime.clock()


def test_retention_shows_a_dry_run_then_purges(console, clock):
    wallets = people(console, 6)
    store = console.runtime.store
    expiry = min(r.expires_at for r in _all_records(console, wallets))
    clock.advance(expiry - clock() + timedelta(seconds=1))
    console.sign_in()
    page = console.http.get("/console/retention")
    assert page.status_code == 200
    assert "the operator&#x27;s setting" in page.text  # neither shipped text sets a period
    preview = console_counts.purge_preview(store, now=clock())
    assert sum(preview.records.values()) > 0
    held = len(store.subject_records(wallets[0].address, now=clock() - timedelta(days=1)))
    assert held == 1  # the dry run deleted nothing
    done = console.post("/console/retention/purge", {"reason": "monthly purge"})
    assert done.status_code == 200, done.text
    assert console_counts.purge_preview(store, now=clock()).records == {}
    entry = [e for e in audit_entries(store) if e.event == "operator_action"][-1]
    assert entry.detail["action"] == "purge"
    assert entry.detail["records"] == sum(preview.records.values())


def _all_records(console, wallets) -> list:
    store, now = console.runtime.store, console.runtime.clock()
    return [record for wallet in wallets for record in store.subject_records(wallet.address,
                                                                              now=now)]


def test_the_policy_screen_shows_the_version_and_consents_per_version(console):
    people(console, 7)
    console.sign_in()
    page = console.http.get("/console/policy")
    assert page.status_code == 200
    policy = console.runtime.policy
    assert f"version <strong>{policy.version}</strong>" in page.text
    table = page.text.split('id="consents-per-version"')[1]
    assert "quality_marketing" in table and "&lt;5" in table  # 2 grants


def test_the_record_of_processing_is_a_page_and_a_csv(console):
    import csv
    import io

    people(console, 7)
    console.sign_in()
    page = console.http.get("/console/processing")
    assert page.status_code == 200
    assert "ABCRECORDS" in page.text or console.runtime.policy.contact.email in page.text
    download = console.http.get("/console/processing.csv")
    assert download.headers["content-type"].startswith("text/csv")
    assert download.headers["content-disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    policy = console.runtime.policy
    pairs = {(p, c.id) for c in policy.categories.values() for p in c.retention}
    assert {(row["purpose"], row["category"]) for row in rows} == pairs
    email = next(r for r in rows
                 if (r["purpose"], r["category"]) == ("service_provision", "contact_email"))
    assert email["live_records"] == "7"
    assert email["retention_source"] == "the operator's setting"
    assert email["basis"] == "necessary" and email["basis_source"] == "the operator's setting"
    assert "prior_consent (consent)" in email["recipients"]
    small = next(r for r in rows
                 if (r["purpose"], r["category"]) == ("service_provision", "wallet_address"))
    assert small["live_records"] == "0"


def test_the_record_of_processing_of_metalive_labels_what_the_text_does_not_set():
    from walletauth.console.processing import OPERATOR_SETTING, activities
    from walletauth.policy.loader import load_policy

    policy = load_policy("metalive")
    rows = list(activities(policy, {("email", "support"): 3}))
    assert rows and all(row["controller"] == "PRIME HOLDINGS Inc." for row in rows)
    assert all(row["contact"] == "support@prime-meta.io" for row in rows)
    assert {row["basis_source"] for row in rows} == {OPERATOR_SETTING}
    assert all("no joint use" in row["recipients"] for row in rows)
    assert all(row["live_records"] in {"0", "<5"} for row in rows)
