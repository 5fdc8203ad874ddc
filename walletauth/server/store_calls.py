"""Running the store's blocking calls off the event loop.

SQLite lets one writer in at a time, and a writer that finds the database locked backs
off by sleeping (``busy_timeout``): writers racing from a thread pool spend most of
their time asleep, which caps sign-ins at a few hundred a second with a p99 near a
second. So on SQLite every store call goes through one thread, in arrival order. On
PostgreSQL they run in parallel on a few threads of their own: no more at once than the
engine's connection pool keeps open (see :mod:`walletauth.store.engines`), so a burst
never makes the pool open and close connections per call.

The sign-in on SQLite is short (a few one-row statements, about 0.2 ms of CPU), shorter
than the hop to the store thread and back, which also costs two waits for the GIL while
the event loop and that thread take turns: so :meth:`StoreCalls.run_short` runs it on
the event loop itself whenever no other store call is in flight (``benchmarks/login.py``,
two or three runs each way: 591-759 -> 799-1,003 logins/s, p50 13-17 -> 7-9 ms, p99 30-43 ->
19-44 ms). Only then: calls still go one at a time and in arrival order, so the loop never
waits for the store thread's lock. It can wait for another process's (the ``purge`` CLI's
short batches), which blocks the loop for that long; a thread would not. The sign-ins of
one turn of the loop go as one call (group commit, :mod:`walletauth.server.signin.writes`),
which holds the loop for the whole batch: its cap bounds that.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

PARALLEL_STORE_CALLS = 8
"""Store calls at once on PostgreSQL; within the engines' pool size, so none waits for
or opens a connection of its own."""


class StoreCalls:
    def __init__(self, *, serial: bool, on_wait: Callable[[float], None] | None = None) -> None:
        """``on_wait`` is told how long each call handed to a thread waited for one (on
        PostgreSQL: for a pooled connection, as the threads are no more than those)."""
        self._serial = serial
        self._on_wait = on_wait
        self._in_flight = 0  # calls handed to the executor, not yet done (loop thread only)
        self._executor = ThreadPoolExecutor(
            max_workers=1 if serial else PARALLEL_STORE_CALLS,
            thread_name_prefix="walletauth-store",
        )

    @classmethod
    def for_url(cls, url: str, *, on_wait: Callable[[float], None] | None = None) -> StoreCalls:
        return cls(serial=url.startswith("sqlite"), on_wait=on_wait)

    @property
    def serial(self) -> bool:
        """One store call at a time, in arrival order (SQLite)."""
        return self._serial

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        self._in_flight += 1
        call = functools.partial(function, *args, **kwargs)
        try:
            if self._on_wait is None:
                return await loop.run_in_executor(self._executor, call)
            return await loop.run_in_executor(self._executor, _Timed(call, self._on_wait))
        finally:
            self._in_flight -= 1

    async def run_short(
        self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """:meth:`run` for a call known to be short: on SQLite, with no other call in
        flight, it runs right here on the event loop (see the module's docstring)."""
        if self._serial and self._in_flight == 0:
            return function(*args, **kwargs)
        return await self.run(function, *args, **kwargs)

    def close(self) -> None:
        self._executor.shutdown(wait=True)


class _Timed(Generic[T]):
    """A call that reports, as it starts on a thread, how long it waited for one."""

    __slots__ = ("_call", "_on_wait", "_queued")

    def __init__(self, call: Callable[[], T], on_wait: Callable[[float], None]) -> None:
        self._call = call
        self._on_wait = on_wait
        self._queued = time.perf_counter()

    def __call__(self) -> T:
        self._on_wait(time.perf_counter() - self._queued)
        return self._call()
