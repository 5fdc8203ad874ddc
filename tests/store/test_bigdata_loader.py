"""The big-data benchmark's bulk loader writes what the store itself would: the store reads
every loaded subject back through its normal API (refs, sealed addresses, keys, records,
consents), so the loader cannot drift from the schema or the sealing unnoticed."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from benchmarks.bigdata import (
    CONSENT_COLUMNS,
    KEY_COLUMNS,
    RECORD_COLUMNS,
    SUBJECT_COLUMNS,
    Loader,
    address_of,
    is_expired,
)
from tests.store.conftest import NOW, table_counts
from walletauth.rights import erase_subject, export_subject
from walletauth.store import Store
from walletauth.store.keyschema import subject_keys
from walletauth.store.logins import SignIn
from walletauth.store.schema import consent_events, records, subjects
from walletauth.store.subject_state import consents

LOADED = 200


@pytest.fixture
def loaded(store: Store) -> Store:
    loader = Loader(store, NOW)
    # Two calls with small chunks: ids continue from the rows already there.
    loader.load(0, 120, chunk=50)
    loader.load(120, LOADED - 120, chunk=50)
    return store


def test_the_loader_writes_every_column_of_its_tables() -> None:
    """A column added by a migration must be added to the loader (or this fails)."""
    assert set(SUBJECT_COLUMNS) == {column.name for column in subjects.columns}
    assert set(KEY_COLUMNS) == {column.name for column in subject_keys.columns}
    assert set(RECORD_COLUMNS) == {column.name for column in records.columns} - {"id"}
    assert set(CONSENT_COLUMNS) == {column.name for column in consent_events.columns} - {"id"}


def test_loaded_subjects_export_with_their_records_and_consents(loaded: Store) -> None:
    counts = table_counts(loaded)
    assert counts["subjects"] == counts["keystore_subject_keys"] == LOADED
    assert counts["records"] == 4 * LOADED
    assert counts["consent_events"] == 2 * LOADED
    for index in (0, 3, 4, 57, 120, LOADED - 1):
        document = export_subject(loaded, address_of(index), now=NOW)
        kept = {(record["category"], record["purpose"]): record["data"]
                for record in document["records"]}
        assert set(kept) == {("wallet_address", "service_provision"),
                             ("access_log", "service_provision"),
                             ("access_log", "quality_marketing"),
                             ("contact_email", "service_provision")}
        live = loaded.subject_records(address_of(index), now=NOW)
        assert len(live) == (3 if is_expired(index) else 4), index
        assert kept[("contact_email", "service_provision")] == {
            "email": f"user{index}@example.org"}
        assert kept[("wallet_address", "service_provision")]["chain_id"] == 1
        assert kept[("access_log", "quality_marketing")]["ip"].endswith(".0/24")
        assert consents(loaded, address_of(index))["quality_marketing"] is True
        assert consents(loaded, address_of(index))["partner_guidance"] is False


def test_a_loaded_wallet_signs_in_as_the_same_subject(loaded: Store) -> None:
    address = address_of(42)
    [first_before] = [record.data["first_sign_in"] for record in
                      loaded.records(address, "service_provision", now=NOW,
                                     category="wallet_address")]
    later = NOW + timedelta(minutes=5)
    assert signed_in(loaded, address, later, "loaded-nonce-1", "s" * 32)
    assert loaded.session_active("s" * 32, now=later)
    assert table_counts(loaded)["subjects"] == LOADED
    [wallet] = loaded.records(address, "service_provision", now=later, category="wallet_address")
    assert wallet.data["first_sign_in"] == first_before
    assert wallet.data["last_sign_in"] == later.isoformat()
    # A new wallet after the load gets a fresh subject id (the id sequence was moved on).
    assert signed_in(loaded, "0x" + "ab" * 20, later, "loaded-nonce-2", "t" * 32)
    assert table_counts(loaded)["subjects"] == LOADED + 1


def signed_in(store: Store, address: str, now: datetime, nonce: str, session_id: str) -> bool:
    (outcome,) = store.sign_in_many([SignIn(
        address=address, chain_id=1, now=now, nonce=nonce, nonce_issued_at=now,
        nonce_remember_until=now + timedelta(minutes=10), session_id=session_id,
        session_expires_at=now + timedelta(hours=1),
    )])
    return outcome.result()


def test_purge_removes_the_expired_tenth_and_erasure_shreds_loaded_keys(loaded: Store) -> None:
    report = loaded.purge(now=NOW)
    expired = sum(is_expired(index) for index in range(LOADED))
    assert report.records == {("access_log", "service_provision"): expired}
    assert report.subjects == report.orphan_keys == 0
    assert table_counts(loaded)["records"] == 4 * LOADED - expired
    receipt = erase_subject(loaded, address_of(3), now=NOW)
    assert sum(receipt.erased.values()) == 3  # its expired record went with the purge
    assert receipt.consent_events == 2
    assert table_counts(loaded)["keystore_subject_keys"] == LOADED - 1
    with loaded.engine.connect() as connection:
        left = connection.execute(
            sa.select(sa.func.count()).select_from(subjects)
            .where(subjects.c.ref == loaded.subject_ref(address_of(3)))).scalar_one()
    assert left == 0
