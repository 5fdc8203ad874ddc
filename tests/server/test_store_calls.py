"""Store calls off (or, short ones on SQLite, on) the event loop."""

from __future__ import annotations

import asyncio
import threading

from walletauth.server.store_calls import StoreCalls


def where_it_ran() -> int:
    return threading.get_ident()


async def test_a_short_call_on_sqlite_runs_on_the_event_loop_when_nothing_is_in_flight():
    calls = StoreCalls(serial=True)
    try:
        assert await calls.run_short(where_it_ran) == threading.get_ident()
        assert await calls.run(where_it_ran) != threading.get_ident()
    finally:
        calls.close()


async def test_a_short_call_waits_its_turn_behind_a_call_in_flight():
    calls = StoreCalls(serial=True)
    started, release = threading.Event(), threading.Event()
    order: list[str] = []

    def slow() -> None:
        started.set()
        release.wait(5)
        order.append("slow")

    def short() -> int:
        order.append("short")
        return threading.get_ident()

    try:
        in_flight = asyncio.ensure_future(calls.run(slow))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
        queued = asyncio.ensure_future(calls.run_short(short))
        await asyncio.sleep(0.01)
        assert order == []
        release.set()
        await in_flight
        assert await queued != threading.get_ident()
        assert order == ["slow", "short"]
        assert await calls.run_short(where_it_ran) == threading.get_ident()
    finally:
        release.set()
        calls.close()


async def test_a_short_call_on_postgresql_still_runs_on_a_store_thread():
    calls = StoreCalls(serial=False)
    try:
        assert await calls.run_short(where_it_ran) != threading.get_ident()
    finally:
        calls.close()


def test_store_calls_are_serial_on_sqlite_only():
    sqlite, postgresql = (StoreCalls.for_url("sqlite:///data/walletauth.db"),
                          StoreCalls.for_url("postgresql+psycopg://db/walletauth"))
    try:
        assert sqlite.serial
        assert not postgresql.serial
    finally:
        sqlite.close()
        postgresql.close()


async def test_a_call_that_waits_for_a_thread_reports_its_wait():
    waits: list[float] = []
    calls = StoreCalls(serial=True, on_wait=waits.append)
    started, release = threading.Event(), threading.Event()

    def slow() -> None:
        started.set()
        release.wait(5)

    try:
        in_flight = asyncio.ensure_future(calls.run(slow))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
        queued = asyncio.ensure_future(calls.run(where_it_ran))
        await asyncio.sleep(0.05)
        release.set()
        await in_flight
        await queued
        assert len(waits) == 2
        assert waits[1] >= 0.04  # it waited for the thread the slow call held
        assert 0 <= waits[0] < waits[1]
    finally:
        release.set()
        calls.close()
