"""The gateway's threading rule: store calls on its threads (short ones on SQLite, on the
event loop when nothing is in flight), one at a time on SQLite, in parallel on PostgreSQL;
a bounded queue of waiting calls beyond which a call is refused at once."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from walletauth.policy.loader import load_policy
from walletauth.server.store_gateway import PARALLEL_STORE_CALLS, StoreGateway, serial_for
from walletauth.server.web.errors import ServerError
from walletauth.store import Secrets, Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path}/walletauth.db", policy=load_policy("abcrecords"),
                        secrets=Secrets.load_or_create(tmp_path / "secrets"))
    try:
        yield opened
    finally:
        opened.close()


def where_it_ran(_store: Store) -> int:
    return threading.get_ident()


async def test_a_call_gets_the_gateways_store_and_runs_on_its_thread(store):
    gateway = StoreGateway(store, serial=True)
    try:
        handed = await gateway.run(lambda given, extra: (given, extra), "extra")
        assert handed == (store, "extra")
        assert await gateway.run(where_it_ran) != threading.get_ident()
    finally:
        await gateway.close()


async def test_a_short_call_on_sqlite_runs_on_the_event_loop_when_nothing_is_in_flight(store):
    gateway = StoreGateway(store, serial=True)
    try:
        assert await gateway.run_short(where_it_ran) == threading.get_ident()
        assert await gateway.run(where_it_ran) != threading.get_ident()
    finally:
        await gateway.close()


async def test_a_short_call_waits_its_turn_behind_a_call_in_flight(store):
    gateway = StoreGateway(store, serial=True)
    started, release = threading.Event(), threading.Event()
    order: list[str] = []

    def slow(_store: Store) -> None:
        started.set()
        release.wait(5)
        order.append("slow")

    def short(_store: Store) -> int:
        order.append("short")
        return threading.get_ident()

    try:
        in_flight = asyncio.ensure_future(gateway.run(slow))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
        queued = asyncio.ensure_future(gateway.run_short(short))
        await asyncio.sleep(0.01)
        assert order == []
        release.set()
        await in_flight
        assert await queued != threading.get_ident()
        assert order == ["slow", "short"]
        assert await gateway.run_short(where_it_ran) == threading.get_ident()
    finally:
        release.set()
        await gateway.close()


async def test_calls_on_sqlite_never_overlap_and_on_postgresql_they_do(store):
    async def most_at_once(gateway: StoreGateway) -> int:
        lock = threading.Lock()
        running, seen = 0, 0

        def call(_store: Store) -> None:
            nonlocal running, seen
            with lock:
                running += 1
                seen = max(seen, running)
            threading.Event().wait(0.02)
            with lock:
                running -= 1

        await asyncio.gather(*(gateway.run(call) for _ in range(PARALLEL_STORE_CALLS * 2)))
        return seen

    serial, parallel = StoreGateway(store, serial=True), StoreGateway(store, serial=False)
    try:
        assert await most_at_once(serial) == 1
        assert 1 < await most_at_once(parallel) <= PARALLEL_STORE_CALLS
    finally:
        await serial.close()
        await parallel.close()


async def test_a_short_call_on_postgresql_still_runs_on_a_store_thread(store):
    gateway = StoreGateway(store, serial=False)
    try:
        assert await gateway.run_short(where_it_ran) != threading.get_ident()
    finally:
        await gateway.close()


async def test_the_store_opens_on_the_gateways_thread_and_closes_there(tmp_path):
    opened_on: list[int] = []

    def opener() -> Store:
        opened_on.append(threading.get_ident())
        return Store.open(f"sqlite:///{tmp_path}/w.db", policy=load_policy("abcrecords"),
                          secrets=Secrets.load_or_create(tmp_path / "secrets"))

    gateway = await StoreGateway.open(opener, serial=True)
    try:
        assert opened_on == [await gateway.run(where_it_ran)]
    finally:
        await gateway.close()


def test_store_calls_are_serial_on_sqlite_only():
    assert serial_for("sqlite:///data/walletauth.db")
    assert not serial_for("postgresql+psycopg://db/walletauth")


async def test_a_call_that_waits_for_a_thread_reports_its_wait(store):
    waits: list[float] = []
    gateway = StoreGateway(store, serial=True, on_wait=waits.append)
    started, release = threading.Event(), threading.Event()

    def slow(_store: Store) -> None:
        started.set()
        release.wait(5)

    try:
        in_flight = asyncio.ensure_future(gateway.run(slow))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
        queued = asyncio.ensure_future(gateway.run(where_it_ran))
        await asyncio.sleep(0.05)
        release.set()
        await in_flight
        await queued
        assert len(waits) == 2
        assert waits[1] >= 0.04  # it waited for the thread the slow call held
        assert 0 <= waits[0] < waits[1]
    finally:
        release.set()
        await gateway.close()


async def test_a_call_beyond_the_bounded_queue_is_a_503_with_retry_after_at_once(store):
    gateway = StoreGateway(store, serial=False, max_waiting=2)
    release = threading.Event()

    def held(_store: Store) -> None:
        release.wait(5)

    try:
        running = [asyncio.ensure_future(gateway.run(held))
                   for _ in range(PARALLEL_STORE_CALLS + 2)]
        await asyncio.sleep(0.05)  # eight running, two waiting: full
        with pytest.raises(ServerError) as refused:
            await gateway.run(where_it_ran)
        assert refused.value.code == "service_unavailable"
        assert refused.value.retry_after == 1
        with pytest.raises(ServerError):
            gateway.refuse_if_full()
        # What must be written once done elsewhere still goes in, after those queued.
        owed = asyncio.ensure_future(gateway.run_always(where_it_ran))
        release.set()
        await asyncio.gather(*running)
        assert await owed != threading.get_ident()
        gateway.refuse_if_full()  # room again
        assert await gateway.run(where_it_ran) != threading.get_ident()
    finally:
        release.set()
        await gateway.close()
