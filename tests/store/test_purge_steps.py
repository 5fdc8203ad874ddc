"""A purge in bounded steps (walletauth.store.purge.purge_step) disposes of exactly what
one purge does: the same data on two stores, one purged at once, one in steps, leaves
identical raw tables, on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets as random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.services import require_postgres
from tests.store.conftest import ALICE, BOB, CAROL, NOW
from tests.store.test_bookkeeping_retention import notice
from tests.store.test_orphan_keys import erase_interrupted_before_the_key_goes
from walletauth.rights import record_provision
from walletauth.store import Store, StoreError
from walletauth.store.audit import audit_entries
from walletauth.store.erasure import erase_subject
from walletauth.store.keyschema import keystore_metadata
from walletauth.store.purge import MAX_STEP_BUDGET, PHASES, purge_step
from walletauth.store.requests_log import finish_request, open_request
from walletauth.store.schema import audit_log, metadata

DAVE = "0x1111111111111111111111111111111111111111"
EVE = "0x2222222222222222222222222222222222222222"
LATER = NOW + timedelta(days=6 * 365)
BOUNDS = {"orphan_grace": timedelta(0)}  # the test's keys are made moments ago


@pytest.fixture
def twin(backend, secrets, abcrecords, tmp_path) -> Iterator[Store]:
    """A second, empty store of the same kind and secrets."""
    if backend.name == "postgres":
        base = require_postgres()
        name = f"walletauth_test_{random.token_hex(6)}"
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    else:
        (tmp_path / "twin").mkdir()
        url = f"sqlite:///{tmp_path / 'twin' / 'walletauth.db'}"
    opened = Store.open(url, policy=abcrecords, secrets=secrets)
    try:
        yield opened
    finally:
        opened.close()
        if backend.name == "postgres":
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def with_everything_due(store: Store, monkeypatch) -> None:
    """Some of every kind a purge disposes of, and some it keeps."""
    for index, who in enumerate((ALICE, BOB, CAROL, DAVE)):
        store.put_record(who, "contact_email", "service_provision", {"email": f"{index}@x.io"},
                         now=NOW, source="signup")
        store.put_record(who, "inquiry", "service_provision", {"message": "hi"}, now=NOW,
                         source="inquiry")
    store.put_record(EVE, "contact_email", "service_provision", {"email": "e@x.io"},
                     now=LATER, source="signup")  # still held
    record_provision(store, BOB, "police", ["contact_email"], "required_by_law", now=NOW)
    open_request(store, ALICE, "export", now=NOW)  # interrupted
    done = open_request(store, CAROL, "export", now=NOW - timedelta(days=4 * 365))
    finish_request(store, done, "completed", now=NOW - timedelta(days=4 * 365))
    open_request(store, BOB, "erase:catalogue", now=NOW)  # waits for the operator
    for index in range(5):
        store.use_nonce(f"expired-nonce-{index}", remember_until=NOW + timedelta(minutes=5))
    store.create_session("expired-session-0123456789", DAVE, expires_at=NOW + timedelta(days=1))
    store.record_login("0x3333333333333333333333333333333333333333", 1, now=NOW)
    erase_subject(store, "0x3333333333333333333333333333333333333333", now=NOW,
                  notices=[notice(store, "music", NOW), notice(store, "video", NOW)])
    erase_interrupted_before_the_key_goes(
        store, monkeypatch, "0x1111111111111111111111111111111111111111", NOW)


def copy_into(source: Store, target: Store) -> None:
    for (from_engine, to_engine), meta in (((source.engine, target.engine), metadata),
                                          ((source.keys.engine, target.keys.engine),
                                           keystore_metadata)):
        with from_engine.connect() as reading, to_engine.begin() as writing:
            for table in meta.sorted_tables:
                writing.execute(table.delete())
            for table in meta.sorted_tables:
                rows = [dict(row._mapping) for row in reading.execute(sa.select(table))]
                if rows:
                    writing.execute(table.insert(), rows)
            if to_engine.dialect.name == "postgresql":
                for table in meta.sorted_tables:
                    # Copied ids leave the sequences behind: the next audit entry would
                    # take an id already copied.
                    for column in table.primary_key.columns:
                        sequence = writing.execute(sa.text(
                            "SELECT pg_get_serial_sequence(:t, :c)"),
                            {"t": table.name, "c": column.name}).scalar()
                        if sequence:
                            writing.execute(sa.text(
                                f"SELECT setval('{sequence}', COALESCE((SELECT MAX({column.name})"
                                f" FROM {table.name}), 0) + 1, false)"))


def raw(store: Store) -> dict[str, list[tuple[object, ...]]]:
    """Every row of both databases but the audit log's, in a stable order."""
    tables = {}
    for engine, meta in ((store.engine, metadata), (store.keys.engine, keystore_metadata)):
        with engine.connect() as connection:
            for table in meta.sorted_tables:
                if table is not audit_log:
                    tables[table.name] = sorted(
                        (tuple(row) for row in connection.execute(sa.select(table))), key=repr)
    return tables


def purged_totals(store: Store) -> dict[str, int]:
    totals: dict[str, int] = {}
    for entry in audit_entries(store):
        if entry.event == "purge":
            for name, value in entry.detail.items():
                if name == "records":
                    value = sum(each["count"] for each in value)
                totals[name] = totals.get(name, 0) + value
    return totals


def test_steps_dispose_of_exactly_what_one_purge_does(store, twin, monkeypatch):
    with_everything_due(store, monkeypatch)
    copy_into(store, twin)
    assert raw(store) == raw(twin)

    report = store.purge(now=LATER, **BOUNDS)
    steps = []
    resume = ""
    while True:
        step = purge_step(twin, now=LATER, budget=2, resume=resume, **BOUNDS)
        assert step.done.records_removed + sum(
            getattr(step.done, name) for name in PHASES if name != "records") <= 2
        steps.append(step)
        if step.finished:
            break
        resume = step.resume

    assert raw(store) == raw(twin)
    assert report.records_removed == 6 and report.orphan_keys == 1
    assert report.subjects >= 3 and report.notices_abandoned == 2
    assert len(steps) > 10
    assert purged_totals(twin) == purged_totals(store)
    last = steps[-1].left
    assert (last.records, last.subjects, last.nonces, last.requests_removed) == ({}, 0, 0, 0)
    # Counted as the dry run does: the first step's "left" plus its own work is the whole.
    first = steps[0]
    assert (first.left.nonces + first.done.nonces, first.left.subjects + first.done.subjects
            ) == (report.nonces, report.subjects)


def test_a_finished_purge_has_nothing_more_to_do(store):
    store.put_record(ALICE, "contact_email", "service_provision", {"email": "a@x.io"},
                     now=NOW, source="signup")
    first = purge_step(store, now=LATER, budget=MAX_STEP_BUDGET)
    assert first.finished and first.done.records_removed == 1
    again = purge_step(store, now=LATER, budget=1)
    assert again.finished and not again.done.anything_removed


@pytest.mark.parametrize(("budget", "resume"), [
    (0, ""), (MAX_STEP_BUDGET + 1, ""), (True, ""), (5, "9"), (5, "x"), (5, "5:'; drop"),
    (5, "1:abc"),
])
def test_a_step_out_of_bounds_is_refused(store, budget, resume):
    with pytest.raises(StoreError) as refused:
        purge_step(store, now=datetime.now(UTC), budget=budget, resume=resume)
    assert refused.value.code == "invalid_argument"
