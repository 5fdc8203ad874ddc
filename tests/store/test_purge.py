"""Retention: purge disposes of what is past its time, in batches, beside live traffic."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.store.conftest import ALICE, BOB, CAROL, NOW
from tests.store.test_privacy import forms_of
from walletauth.store import StoreError
from walletauth.store.audit import audit_entries
from walletauth.store.schema import records

DAY = timedelta(days=1)


def stored_records(store) -> int:
    with store.engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(records)).scalar_one()


def sign_in_with_email(store, address, now):
    store.record_login(address, 1, now=now, ip="192.0.2.10")
    store.put_record(address, "contact_email", "service_provision", {"email": "a@x.io"},
                     now=now, source="test")


def test_expired_records_go_and_live_ones_stay(store):
    for address in (ALICE, BOB):
        sign_in_with_email(store, address, NOW)

    report = store.purge(now=NOW + 31 * DAY, batch_size=1)

    assert report.records == {("access_log", "service_provision"): 2}
    later = NOW + 31 * DAY
    for address in (ALICE, BOB):
        kept = store.records(address, "service_provision", now=later)
        assert sorted(r.category for r in kept) == ["contact_email", "wallet_address"]
    assert report.subjects == 0


def test_purge_is_idempotent(store):
    sign_in_with_email(store, ALICE, NOW)
    first = store.purge(now=NOW + 31 * DAY)
    entries = len(audit_entries(store))

    second = store.purge(now=NOW + 31 * DAY)

    assert first.records_removed == 1
    assert second.records_removed == 0 and not second.anything_removed
    assert len(audit_entries(store)) == entries  # nothing purged, nothing to log


def test_the_purge_audit_entry_holds_counts_and_no_personal_data(store):
    sign_in_with_email(store, ALICE, NOW)
    store.set_consent(ALICE, "quality_marketing", True, now=NOW)
    store.record_login(ALICE, 1, now=NOW, ip="192.0.2.10")

    store.purge(now=NOW + 400 * DAY)

    [entry] = [e for e in audit_entries(store) if e.event == "purge"]
    assert entry.subject_ref is None and entry.purpose is None and entry.category is None
    assert entry.detail["records"] == [
        {"category": "access_log", "purpose": "quality_marketing", "count": 1},
        {"category": "access_log", "purpose": "service_provision", "count": 2},
        {"category": "contact_email", "purpose": "service_provision", "count": 1},
        {"category": "wallet_address", "purpose": "service_provision", "count": 1},
    ]
    assert entry.detail["subjects"] == 1
    text = repr(entry).encode()
    assert not [name for name, form in forms_of(ALICE).items() if form in text]
    assert b"a@x.io" not in text and b"192.0.2" not in text


def test_a_subject_left_with_nothing_is_removed_with_its_key(store):
    store.record_login(ALICE, 1, now=NOW)
    store.set_consent(ALICE, "partner_guidance", True, now=NOW)
    store.record_login(BOB, 1, now=NOW + 200 * DAY)
    alice_ref = store.subject_ref(ALICE)

    report = store.purge(now=NOW + 366 * DAY)

    assert report.subjects == 1
    assert store.consent_history(ALICE) == []
    assert all(entry.subject_ref != alice_ref for entry in audit_entries(store))
    with store.keys.engine.connect() as connection:
        keys_left = connection.execute(sa.text("select count(*) from keystore_subject_keys"))
        assert keys_left.scalar_one() == 1  # Bob's
    assert len(store.records(BOB, "service_provision", now=NOW + 366 * DAY)) == 1


def test_a_subject_with_a_live_record_is_kept_after_its_wallet_record_expires(store):
    store.record_login(ALICE, 1, now=NOW)
    store.put_record(ALICE, "contact_email", "service_provision", {"email": "a@x.io"},
                     now=NOW + 100 * DAY, source="test")

    report = store.purge(now=NOW + 366 * DAY)

    assert report.subjects == 0
    [email] = store.records(ALICE, "service_provision", now=NOW + 366 * DAY)
    assert email.data == {"email": "a@x.io"}


def test_expired_nonces_and_sessions_are_cleaned_up(store):
    store.use_nonce("expired-nonce", remember_until=NOW + timedelta(minutes=5))
    store.use_nonce("live-nonce-1", remember_until=NOW + 2 * DAY)
    store.create_session("expired-session-0123456789", ALICE, expires_at=NOW + DAY)
    store.create_session("live-session-0123456789ab", ALICE, expires_at=NOW + 30 * DAY)

    report = store.purge(now=NOW + DAY + timedelta(seconds=1))

    assert (report.nonces, report.sessions) == (1, 1)
    assert not store.use_nonce("live-nonce-1", remember_until=NOW + 2 * DAY)  # still used
    assert store.session_active("live-session-0123456789ab", now=NOW + DAY)


def test_purge_runs_safely_beside_writes(store):
    for index in range(60):
        address = f"0x{index + 1:040x}"
        store.record_login(address, 1, now=NOW, ip="192.0.2.1")
    purge_at = NOW + 40 * DAY
    errors: list[BaseException] = []
    written: list[int] = []

    def write_live_records(address: str) -> None:
        try:
            for _ in range(15):
                written.append(store.put_record(
                    address, "contact_email", "service_provision", {"email": "w@x.io"},
                    now=purge_at, source="test",
                ))
                store.record_login(address, 1, now=purge_at, ip="192.0.2.2")
        except BaseException as error:
            errors.append(error)

    def purge() -> None:
        try:
            store.purge(now=purge_at, batch_size=7)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write_live_records, args=(a,)) for a in (ALICE, BOB, CAROL)]
    threads.append(threading.Thread(target=purge))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    again = store.purge(now=purge_at)
    assert again.records.get(("access_log", "service_provision"), 0) == 0
    for address in (ALICE, BOB, CAROL):
        emails = store.records(address, "service_provision", now=purge_at, category="contact_email")
        assert len(emails) == 15
        logs = store.records(address, "service_provision", now=purge_at, category="access_log")
        assert len(logs) == 15
    # 60 wallet records + 3 wallets, 45 emails, 45 access logs; the 60 old logs are gone
    assert stored_records(store) == 60 + 3 + 45 + 45


def test_bad_batch_sizes_are_refused(store):
    with pytest.raises(StoreError) as refused:
        store.purge(now=NOW, batch_size=0)

    assert refused.value.code == "invalid_argument"


def test_a_record_is_kept_until_its_expiry_and_disposed_of_at_that_instant(store):
    """Retention is exact: live (readable and kept) until ``expires_at``, gone from then on,
    whether read or purged; a purge a moment early removes nothing."""
    store.record_login(ALICE, 1, now=NOW, ip="192.0.2.10")
    [log] = store.records(ALICE, "service_provision", now=NOW, category="access_log")
    expiry = log.expires_at
    just_before = expiry - timedelta(microseconds=1)

    early = store.purge(now=just_before)

    assert early.records_removed == 0
    assert store.records(ALICE, "service_provision", now=just_before, category="access_log")
    assert store.records(ALICE, "service_provision", now=expiry, category="access_log") == []

    on_time = store.purge(now=expiry)

    assert on_time.records == {("access_log", "service_provision"): 1}
    assert store.records(ALICE, "service_provision", now=just_before, category="access_log") == []
