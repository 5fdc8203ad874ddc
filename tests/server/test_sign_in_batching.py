"""Group commit of the sign-ins' writes on SQLite (walletauth.server.signin.writes.GroupCommit):
the writes that reach the store together share one transaction, and each caller gets its
own answer, only once that transaction is committed."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from eth_account import Account

from walletauth.policy.loader import load_policy
from walletauth.server.signin.writes import SQLITE_BATCH, GroupCommit
from walletauth.server.store_gateway import StoreGateway
from walletauth.store import Secrets, Store, StoreError
from walletauth.store.logins import SignIn
from walletauth.store.subject_state import suspend

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Traced:
    """A store on SQLite whose records database logs every statement it runs, in order,
    together with the answers the test's callers get."""

    def __init__(self, data_dir: Path) -> None:
        self.store = Store.open(f"sqlite:///{data_dir}/walletauth.db",
                                policy=load_policy("abcrecords"),
                                secrets=Secrets.load_or_create(data_dir / "secrets"))
        self.log: list[str] = []
        sa.event.listen(self.store.engine, "connect", self._trace)
        self.store.engine.dispose()  # connections opened from now on are traced

    def _trace(self, dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.set_trace_callback(self.log.append)

    def commits(self) -> int:
        return self.log.count("COMMIT")


@pytest.fixture
def traced(tmp_path: Path) -> Iterator[Traced]:
    traced = Traced(tmp_path)
    try:
        yield traced
    finally:
        traced.store.close()


@pytest.fixture
async def calls(traced: Traced) -> AsyncIterator[StoreGateway]:
    calls = StoreGateway(traced.store, serial=True)
    try:
        yield calls
    finally:
        await calls.close()  # closes the store too; closing it again is harmless


def write_of(address: str, name: str, *, nonce: str | None = None) -> SignIn:
    return SignIn(
        address=address, chain_id=1, now=NOW, nonce=nonce or f"nonce-{name}",
        nonce_issued_at=NOW, nonce_remember_until=NOW + timedelta(minutes=20),
        session_id=f"session-{name}-0123456789abcdef",
        session_expires_at=NOW + timedelta(days=14), ip="192.0.2.1",
        user_agent="Mozilla/5.0 Firefox/128.0",
    )


async def answered(traced: Traced, name: str, writing: Any) -> Any:
    try:
        return await writing
    finally:
        traced.log.append(f"answered {name}")


def addresses(count: int) -> list[str]:
    return [Account.create().address for _ in range(count)]


async def test_concurrent_writes_share_one_commit_and_each_gets_its_own_answer(traced, calls):
    refused, *others = addresses(9)
    suspend(traced.store, refused, "service_provision", now=NOW)
    writes = GroupCommit(calls, max_batch=SQLITE_BATCH)
    traced.log.clear()
    batch = {f"wallet-{index}": write_of(address, f"wallet-{index}")
             for index, address in enumerate(others)}
    batch["replay"] = write_of(others[0], "replay", nonce="nonce-wallet-0")
    batch["refused"] = write_of(refused, "refused")

    answers = await asyncio.gather(
        *(answered(traced, name, writes.write(write)) for name, write in batch.items()),
        return_exceptions=True,
    )

    assert answers[:8] == [True] * 8
    assert answers[8] is False
    assert isinstance(answers[9], StoreError)
    assert answers[9].code == "purpose_suspended"
    assert traced.commits() == 1
    assert traced.log.index("COMMIT") < min(
        traced.log.index(f"answered {name}") for name in batch
    )
    for name, write in batch.items():
        assert traced.store.session_active(write.session_id, now=NOW) == (
            name.startswith("wallet-")
        )


async def test_a_batch_holds_at_most_max_batch_sign_ins(traced, calls):
    writes = GroupCommit(calls, max_batch=3)

    answers = await asyncio.gather(*(
        writes.write(write_of(address, f"wallet-{index}"))
        for index, address in enumerate(addresses(7))
    ))

    assert answers == [True] * 7
    assert traced.commits() == 3  # 3 + 3 + 1


async def test_a_batch_of_one_is_a_transaction_per_sign_in(traced, calls):
    writes = GroupCommit(calls, max_batch=1)  # PostgreSQL's

    answers = await asyncio.gather(*(
        writes.write(write_of(address, f"wallet-{index}"))
        for index, address in enumerate(addresses(4))
    ))

    assert answers == [True] * 4
    assert traced.commits() == 4
    assert "SAVEPOINT sign_in" not in traced.log


async def test_writes_queued_behind_a_call_in_flight_share_the_commit_after_it(traced, calls):
    writes = GroupCommit(calls, max_batch=SQLITE_BATCH)
    started, release = threading.Event(), threading.Event()

    def slow(_store: Store) -> None:
        started.set()
        release.wait(5)

    in_flight = asyncio.ensure_future(calls.run(slow))
    await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
    writing = asyncio.gather(*(
        writes.write(write_of(address, f"wallet-{index}"))
        for index, address in enumerate(addresses(5))
    ))
    await asyncio.sleep(0.01)
    assert traced.commits() == 0 and not writing.done()
    release.set()
    await in_flight

    assert await writing == [True] * 5
    assert traced.commits() == 1


async def test_a_failing_commit_is_every_callers_error(traced, calls):
    with traced.store.engine.begin() as connection:  # a deferred foreign key checked at COMMIT
        connection.exec_driver_sql(
            "CREATE TABLE commit_fails (subject_id INTEGER REFERENCES subjects (id)"
            " DEFERRABLE INITIALLY DEFERRED)")
        connection.exec_driver_sql(
            "CREATE TRIGGER commit_fails AFTER INSERT ON sessions"
            " BEGIN INSERT INTO commit_fails VALUES (-1); END")
    writes = GroupCommit(calls, max_batch=SQLITE_BATCH)
    traced.log.clear()

    answers = await asyncio.gather(*(
        writes.write(write_of(address, f"wallet-{index}"))
        for index, address in enumerate(addresses(3))
    ), return_exceptions=True)

    assert [type(answer) for answer in answers] == [sqlite3.IntegrityError] * 3
    assert traced.log[-2:] == ["COMMIT", "ROLLBACK"]  # one transaction, its commit refused
    assert not traced.store.session_active(write_of("", "wallet-0").session_id, now=NOW)


def test_a_batch_holds_at_least_one_sign_in(traced, calls):
    with pytest.raises(ValueError):
        GroupCommit(calls, max_batch=0)
