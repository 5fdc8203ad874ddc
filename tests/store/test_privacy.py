"""No address in the clear, anywhere; erasure destroys the key, so old copies stay sealed."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
from datetime import timedelta

import pytest
import sqlalchemy as sa
from eth_utils import keccak

from tests.policy.helpers import metalive_with_bookkeeping_toml
from tests.store.conftest import ALICE, BOB, NOW
from walletauth.policy import parse_policy
from walletauth.store import Store
from walletauth.store.audit import audit_entries
from walletauth.store.corrections import RecordChange, apply_changes
from walletauth.store.crypto import unseal
from walletauth.store.erasure import erase_subject
from walletauth.store.keyschema import subject_keys
from walletauth.store.schema import metadata, records, subjects
from walletauth.store.subjects import open_address


def forms_of(address: str) -> dict[str, bytes]:
    """Every way the address could leak: as text, as bytes, and plain hashes of them."""
    lower, raw = address.lower(), bytes.fromhex(address[2:])
    forms = {
        "lowercase hex": lower.encode(),
        "lowercase hex without 0x": lower[2:].encode(),
        "EIP-55": address.encode(),
        "EIP-55 without 0x": address[2:].encode(),
        "raw bytes": raw,
    }
    for name, value in (("lowercase", lower.encode()), ("EIP-55", address.encode()), ("raw", raw)):
        for digest_name, digest in (
            ("sha256", hashlib.sha256(value).digest()),
            ("keccak", keccak(value)),
        ):
            forms[f"{digest_name} of {name}"] = digest
            forms[f"{digest_name} hex of {name}"] = digest.hex().encode()
    return forms


def dump_of(store: Store, backend) -> bytes:
    if backend.name == "sqlite":
        return b"".join(path.read_bytes() for path in backend.data_files if path.exists())
    if shutil.which("pg_dump"):
        url = sa.make_url(backend.url).set(drivername="postgresql").render_as_string(False)
        return subprocess.run(
            ["pg_dump", "--data-only", "--inserts", url], check=True, capture_output=True
        ).stdout
    return every_value(store)


def every_value(store: Store) -> bytes:
    """The content of every column of every table, as text and bytes."""
    chunks = []
    with store.engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(sa.select(table)):
                chunks.extend(v if isinstance(v, bytes) else str(v).encode() for v in row)
    return b"\n".join(chunks)


def session_of(address: str) -> str:
    return f"session-{address[-8:]}-" + "s" * 24


def write_everything_about(store: Store, address: str) -> None:
    store.record_login(address, 1, now=NOW, ip="203.0.113.9", user_agent="curl/8.0")
    store.set_consent(address, "partner_guidance", True, now=NOW)
    store.put_record(
        address,
        "contact_email",
        "partner_guidance",
        {"email": "x@example.com"},
        now=NOW,
        source="test",
    )
    store.create_session(session_of(address), address, expires_at=NOW + timedelta(hours=1))
    store.audit(address, "export", now=NOW)


def test_no_form_of_the_address_is_stored_anywhere(store, backend):
    write_everything_about(store, ALICE)
    write_everything_about(store, BOB)

    dump = dump_of(store, backend) + every_value(store)

    assert dump, "the scan must see the stored data"
    for address in (ALICE, BOB):
        found = [name for name, form in forms_of(address).items() if form in dump]
        assert found == [], f"{address} is stored as {found}"


def test_the_address_is_kept_sealed_under_the_subjects_own_key(store):
    store.record_login(ALICE, 1, now=NOW)

    with store.engine.connect() as connection:
        row = connection.execute(sa.select(subjects)).one()
    key = store.keys.get(row.key_id)

    assert row.ref == store.subject_ref(ALICE)
    assert open_address(key, row.address_sealed) == ALICE


def test_a_wrapped_key_does_not_open_under_another_key_id(store):
    store.record_login(ALICE, 1, now=NOW)
    store.record_login(BOB, 1, now=NOW)
    with store.keys.engine.connect() as connection:
        first, second = connection.execute(sa.select(subject_keys)).all()
    master = store.secrets.current.master_key

    with pytest.raises(Exception, match="does not open"):
        unseal(master, first.wrapped, f"walletauth subject key {second.key_id}".encode())


def test_a_backup_taken_before_erasure_cannot_be_read_after_it(store, backend):
    write_everything_about(store, ALICE)
    store.record_login(BOB, 1, now=NOW)
    with store.engine.connect() as connection:
        backup = {
            "subjects": connection.execute(sa.select(subjects)).all(),
            "records": connection.execute(sa.select(records)).all(),
        }
    alice_ref = store.subject_ref(ALICE)
    [alice] = [row for row in backup["subjects"] if row.ref == alice_ref]
    alice_records = [row for row in backup["records"] if row.subject_id == alice.id]
    assert alice_records, "the backup holds Alice's sealed records"
    assert store.keys.get(alice.key_id) is not None

    report = erase_subject(store, ALICE, now=NOW + timedelta(days=1))

    assert report.subject_found and sum(report.erased.values()) == len(alice_records)
    # The backup still holds the sealed rows, but the key store no longer holds the key.
    assert store.keys.get(alice.key_id) is None
    assert store.keys.get_many([row.key_id for row in backup["subjects"]]).keys() == {
        row.key_id for row in backup["subjects"] if row.id != alice.id
    }
    # Bob's rows in the same backup still open with his key: only Alice was shredded.
    [bob] = [row for row in backup["subjects"] if row.ref == store.subject_ref(BOB)]
    assert open_address(store.keys.get(bob.key_id), bob.address_sealed) == BOB


def test_a_copy_of_the_sqlite_records_file_is_unreadable_after_erasure(
    tmp_path, secrets, abcrecords
):
    data_file = tmp_path / "walletauth.db"
    store = Store.open(f"sqlite:///{data_file}", policy=abcrecords, secrets=secrets)
    write_everything_about(store, ALICE)
    backup_file = tmp_path / "backup.db"
    with sqlite3.connect(data_file) as live, sqlite3.connect(backup_file) as copy:
        live.backup(copy)  # SQLite's online backup: what an operator's nightly job does

    erase_subject(store, ALICE, now=NOW + timedelta(days=1))

    backup = sa.create_engine(f"sqlite:///{backup_file}")
    with backup.connect() as connection:
        [subject] = connection.execute(sa.select(subjects)).all()
        sealed = connection.execute(sa.select(records)).all()
    backup.dispose()
    assert subject.ref == store.subject_ref(ALICE)  # the backup still finds Alice's rows...
    assert sealed
    assert store.keys.get(subject.key_id) is None  # ...but nothing can open them any more
    assert (tmp_path / "walletauth.keys.db").exists()  # the keys live in their own file
    assert not list(tmp_path.glob("backup.keys.db*"))
    store.close()


def test_an_erasure_and_a_correction_leave_no_page_of_theirs_in_the_sqlite_wal(
    tmp_path, secrets, abcrecords
):
    """The pages a deletion zeroes (secure_delete) live on in the WAL until a checkpoint
    moves them into the file: both whole-subject deletions truncate it at once."""
    wal = tmp_path / "walletauth.db-wal"
    store = Store.open(
        f"sqlite:///{tmp_path / 'walletauth.db'}", policy=abcrecords, secrets=secrets
    )
    try:
        write_everything_about(store, ALICE)
        write_everything_about(store, BOB)
        [email] = [
            r
            for r in store.records(BOB, "partner_guidance", now=NOW)
            if r.category == "contact_email"
        ]
        assert wal.stat().st_size > 0

        apply_changes(
            store,
            BOB,
            [RecordChange("delete", record_id=email.id)],
            editable=frozenset({"contact_email"}),
            now=NOW,
        )
        assert wal.stat().st_size == 0

        store.audit(ALICE, "export", now=NOW)
        assert wal.stat().st_size > 0
        erase_subject(store, ALICE, now=NOW + timedelta(days=1))
        assert wal.stat().st_size == 0
    finally:
        store.close()


def test_erasure_removes_everything_of_the_subject_and_unlinks_its_audit_entries(store):
    write_everything_about(store, ALICE)
    write_everything_about(store, BOB)
    alice_entries = len(audit_entries(store, ALICE))
    assert alice_entries >= 2

    report = erase_subject(store, ALICE, now=NOW + timedelta(days=1))

    assert report.erased == {"wallet_address": 1, "access_log": 1, "contact_email": 1}
    assert (report.consent_events, report.sessions, report.retained) == (1, 1, [])
    assert store.records(ALICE, "service_provision", now=NOW) == []
    assert store.consent_history(ALICE) == []
    assert audit_entries(store, ALICE) == []
    assert not store.session_active(session_of(ALICE), now=NOW)
    assert store.session_active(session_of(BOB), now=NOW)
    unlinked = [entry for entry in audit_entries(store) if entry.subject_ref is None]
    assert {entry.event for entry in unlinked} >= {"erasure", "consent_change", "export"}
    assert all(
        entry.subject_ref == store.subject_ref(BOB)
        for entry in audit_entries(store)
        if entry.subject_ref is not None
    )
    assert len(store.records(BOB, "partner_guidance", now=NOW)) == 1
    assert erase_subject(store, ALICE, now=NOW + timedelta(days=2)).subject_found is False


def test_a_sign_in_after_erasure_starts_a_new_subject_with_a_new_key(store):
    store.record_login(ALICE, 1, now=NOW)
    erase_subject(store, ALICE, now=NOW)

    store.record_login(ALICE, 1, now=NOW + timedelta(days=1))

    [wallet] = store.records(
        ALICE, "service_provision", now=NOW + timedelta(days=1), category="wallet_address"
    )
    assert wallet.data["first_sign_in"] == (NOW + timedelta(days=1)).isoformat()


def test_store_erasure_keeps_only_what_a_named_law_requires_like_the_rights_erasure(
    backend, secrets
):
    # METALIVE "may record" posting logs (no law named): an erasure takes them. An operator
    # policy naming a bookkeeping duty keeps payment references, by the store's own call
    # as by the wallet owner's erasure request.
    policy = parse_policy(metalive_with_bookkeeping_toml(), origin="metalive + bookkeeping")
    store = Store.open(
        backend.url, policy=policy, secrets=secrets, keystore_url=backend.keystore_url
    )
    try:
        store.record_login(ALICE, 1, now=NOW, ip="203.0.113.9")
        store.put_record(
            ALICE,
            "posting_log",
            "fraud_prevention",
            {"ip": "203.0.113.9", "at": NOW.isoformat()},
            now=NOW,
            source="chat",
        )
        payment = {"provider": "card", "reference": "tx-1", "amount": 500, "at": NOW.isoformat()}
        store.put_record(ALICE, "payment_reference", "payment", payment, now=NOW, source="shop")
        store.put_record(ALICE, "payment_reference", "bookkeeping", payment, now=NOW, source="shop")

        report = erase_subject(store, ALICE, now=NOW + timedelta(days=1))

        [kept] = report.retained
        assert (kept.category, kept.purpose, kept.count) == ("payment_reference", "bookkeeping", 1)
        assert report.erased == {
            "wallet_address": 1,
            "access_log": 1,
            "posting_log": 1,
            "payment_reference": 1,
        }
        later = NOW + timedelta(days=2)
        assert store.records(ALICE, "fraud_prevention", now=later) == []
        assert store.records(ALICE, "payment", now=later) == []
        assert len(store.records(ALICE, "bookkeeping", now=later)) == 1
    finally:
        store.close()
