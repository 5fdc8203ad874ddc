"""Purge destroys subject keys no subject points at (left by an interrupted erasure),
once they are older than the grace that protects a sign-in in flight."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.store.conftest import ALICE, BOB, CAROL
from walletauth.rights import erase_subject
from walletauth.store import StoreError
from walletauth.store.audit import audit_entries
from walletauth.store.erasure import orphan_keys
from walletauth.store.keyschema import subject_keys
from walletauth.store.purge import orphan_key_batches


class Crash(Exception):
    pass


def key_ids(store) -> set[str]:
    with store.keys.engine.connect() as connection:
        return set(connection.execute(sa.select(subject_keys.c.key_id)).scalars())


def erase_interrupted_before_the_key_goes(store, monkeypatch, address, now):
    """The erasure commits, then the process dies before destroying the subject's key."""
    def crash(_key_ids):
        raise Crash

    with monkeypatch.context() as patched:
        patched.setattr(store.keys, "destroy", crash)
        with pytest.raises(Crash):
            erase_subject(store, address, now=now)


def test_a_key_left_by_an_interrupted_erasure_is_destroyed_and_counted(store, monkeypatch):
    now = datetime.now(UTC)
    for address in (ALICE, BOB):
        store.record_login(address, 1, now=now)
    keys_before = key_ids(store)
    erase_interrupted_before_the_key_goes(store, monkeypatch, ALICE, now)
    [orphan] = orphan_keys(store, created_before=now + timedelta(seconds=1))

    report = store.purge(now=now + timedelta(seconds=1), orphan_grace=timedelta(0))

    assert report.orphan_keys == 1
    assert key_ids(store) == keys_before - {orphan}
    assert store.subject_records(BOB, now=now)  # the other subject can still be read
    [entry] = [e for e in audit_entries(store) if e.event == "purge"]
    assert entry.detail["orphan_keys"] == 1
    assert orphan not in str(entry.detail)  # counts only, no key ids
    again = store.purge(now=now + timedelta(seconds=1), orphan_grace=timedelta(0))
    assert again.orphan_keys == 0


def test_a_young_key_without_a_subject_is_spared_as_a_sign_in_in_flight(store):
    in_flight, _key = store.keys.create()  # made just before its subject row

    report = store.purge(now=datetime.now(UTC))
    later = store.purge(now=datetime.now(UTC) + timedelta(days=1))

    assert report.orphan_keys == 0 and later.orphan_keys == 0  # wall clock, not `now`
    assert in_flight in key_ids(store)


def test_orphans_are_found_page_by_page_among_live_subjects(store, monkeypatch):
    now = datetime.now(UTC)
    for address in (ALICE, BOB, CAROL):
        store.record_login(address, 1, now=now)
    erase_interrupted_before_the_key_goes(store, monkeypatch, BOB, now)
    strays = [store.keys.create()[0] for _ in range(3)]
    live = key_ids(store) - set(orphan_keys(store, created_before=now + timedelta(minutes=1)))

    report = store.purge(now=now + timedelta(minutes=1), batch_size=2,
                         orphan_grace=timedelta(0))

    assert report.orphan_keys == 4
    assert key_ids(store) == live and len(live) == 2
    assert not set(strays) & key_ids(store)


def test_each_page_is_checked_in_one_statement_with_one_parameter(store):
    """The check runs over every key on every purge: a parameter per key id (an expanding
    IN) cost about 15 us a key, most of a purge at a million subjects."""
    now = datetime.now(UTC)
    for index in range(12):
        store.record_login(f"0x{index + 1:040x}", 1, now=now)
    strays = {store.keys.create()[0] for _ in range(5)}
    statements = []

    def seen(_connection, _cursor, statement, parameters, _context, _many):
        statements.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", seen)
    try:
        found = [orphans for orphans in orphan_key_batches(
            store.engine, store.keys.engine, created_before=now + timedelta(minutes=1),
            batch_size=8)]
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", seen)

    assert {key_id for orphans in found for key_id in orphans} == strays
    checks = [parameters for statement, parameters in statements if "subjects" in statement]
    assert len(checks) == 3  # 17 keys in pages of 8
    assert all(len(parameters) == 1 for parameters in checks), checks


def test_a_negative_grace_is_refused(store):
    with pytest.raises(StoreError) as refused:
        store.purge(now=datetime.now(UTC), orphan_grace=timedelta(seconds=-1))
    assert refused.value.code == "invalid_argument"


def test_a_key_made_exactly_at_the_cut_off_is_not_yet_an_orphan(store, monkeypatch):
    """``created_before`` is exclusive: a key stamped at that very instant may still be a
    sign-in's in flight (found by mutation testing: ``<=`` survived)."""
    now = datetime.now(UTC)
    store.record_login(ALICE, 1, now=now)
    erase_interrupted_before_the_key_goes(store, monkeypatch, ALICE, now)
    with store.keys.engine.connect() as connection:
        [(key_id, made_at)] = connection.execute(
            sa.select(subject_keys.c.key_id, subject_keys.c.created_at)).all()

    assert orphan_keys(store, created_before=made_at) == []
    assert orphan_keys(store, created_before=made_at + timedelta(microseconds=1)) == [key_id]
