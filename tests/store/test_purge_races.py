"""Purge beside a write in flight on the same row, interleaved for real on PostgreSQL: a
sign-in of a subject purge would remove, and the close of a request purge would close as
interrupted, each holding its row when purge chooses its batch and committing after.

The order is forced with PostgreSQL's own locks, not with sleeps: the sign-in is held
after its subject lookup (which locks the subject row) by a session row of the same id
another transaction inserted and has not committed; the close is an update left
uncommitted. Purge runs in a thread; the test waits until it has finished or waits on a
lock itself (``pg_stat_activity``), then lets the write commit.

Two things keep the write: the batch's chooser locks what it chooses (``FOR UPDATE SKIP
LOCKED`` skips a row held by a write; a row changed by a write that committed meanwhile
is re-checked against the chooser's condition), and the DELETE/UPDATE checks the
condition again on the row it writes. Either alone suffices, so these tests fail only
when both are gone (shown by hand: benchmarks/README.md, "Mutation testing"). On SQLite
every write transaction takes the one write lock first (``BEGIN IMMEDIATE``): purge's
batch runs wholly before or after the sign-in or close, so there is nothing to interleave.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.store.conftest import ALICE, BOB, NOW
from tests.store.test_purge_report import subject_id
from walletauth.store.console_counts import purge_preview
from walletauth.store.ephemeral import create_session
from walletauth.store.logins import SignIn
from walletauth.store.purge import INTERRUPTED_REQUEST_AFTER
from walletauth.store.requests_log import finish_in, list_requests, open_request
from walletauth.store.schema import records, subjects

pytestmark = pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)

DAY = timedelta(days=1)
SESSION = "session-of-the-sign-in-in-flight"
PATIENCE = 30.0
"""Seconds any one wait may take before the test fails instead of hanging."""


def waiting_statements(engine: sa.Engine) -> list[str]:
    """The statements of this database's connections now waiting on a lock."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.text(
                    "SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database()"
                )
            ).scalars()
        )


def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {PATIENCE:.0f} s for {what}")
        time.sleep(0.005)


def finished_or_waiting(engine: sa.Engine, work: Future, *, others_waiting: int) -> bool:
    """``work`` is done, or waits on a lock beside the ``others_waiting`` already waiting."""
    return work.done() or len(waiting_statements(engine)) > others_waiting


def test_a_sign_in_landing_while_purge_chooses_keeps_its_subject(store, pool):
    store.record_login(BOB, 1, now=NOW)
    store.record_login(ALICE, 1, now=NOW)
    alice = subject_id(store, ALICE)
    with store.engine.begin() as connection:  # Alice: left with nothing, due to go at NOW
        connection.execute(sa.delete(records).where(records.c.subject_id == alice))
        connection.execute(
            sa.update(subjects).where(subjects.c.id == alice).values(retained_until=NOW)
        )
    purge_at = NOW + DAY
    assert purge_preview(store, now=purge_at).subjects == 1

    with store.engine.connect() as blocker:
        # Bob's, so it locks nothing of Alice's: her sign-in waits on this id only once it
        # has locked her row and sends its writes.
        create_session(blocker, SESSION, subject_id(store, BOB), purge_at + DAY)
        signing_in = pool.submit(
            store.sign_in_many,
            [
                SignIn(
                    address=ALICE,
                    chain_id=1,
                    now=purge_at,
                    nonce="nonce-of-the-sign-in",
                    nonce_issued_at=purge_at,
                    nonce_remember_until=purge_at + timedelta(minutes=10),
                    session_id=SESSION,
                    session_expires_at=purge_at + 14 * DAY,
                )
            ],
        )
        until(
            lambda: any(
                "INSERT INTO sessions" in statement
                for statement in waiting_statements(store.engine)
            ),
            "the sign-in to hold Alice's row and wait on the session id",
        )
        purging = pool.submit(store.purge, now=purge_at)
        until(
            lambda: finished_or_waiting(store.engine, purging, others_waiting=1),
            "purge to finish or wait",
        )
        blocker.rollback()

    (outcome,) = signing_in.result(timeout=PATIENCE)
    assert outcome.result() is True
    report = purging.result(timeout=PATIENCE)
    assert report.subjects == 0
    assert subject_id(store, ALICE) == alice
    assert store.session_active(SESSION, now=purge_at)
    [wallet] = store.records(ALICE, "service_provision", now=purge_at, category="wallet_address")
    assert wallet.data["last_sign_in"] == purge_at.isoformat()
    assert store.purge(now=purge_at).subjects == 0  # signed in now: nothing to remove


def test_a_close_landing_while_purge_chooses_is_not_overwritten_as_interrupted(store, pool):
    store.record_login(ALICE, 1, now=NOW)
    request = open_request(store, ALICE, "erase", now=NOW)
    purge_at = NOW + INTERRUPTED_REQUEST_AFTER + timedelta(minutes=1)
    assert purge_preview(store, now=purge_at).requests_interrupted == 1

    with store.engine.connect() as closing:
        finish_in(closing, request, "completed", None, {"records": 3}, purge_at)
        purging = pool.submit(store.purge, now=purge_at)
        until(
            lambda: finished_or_waiting(store.engine, purging, others_waiting=0),
            "purge to finish or wait",
        )
        closing.commit()

    report = purging.result(timeout=PATIENCE)
    assert report.requests_interrupted == 0
    [entry] = list_requests(store, ALICE)
    assert (entry.status, entry.reason, entry.completed_at, dict(entry.detail)) == (
        "completed",
        None,
        purge_at,
        {"records": 3},
    )
