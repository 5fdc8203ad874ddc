"""The one way from the server into the store: :class:`StoreGateway`.

The rule: every blocking store call the server makes (routes, the sign-in, the
short-lived state on SQL, the notice worker's outbox turns, start-up and shutdown, the
operator's console through its host, the OpenID Provider of :mod:`walletauth.oidc`) is
``await runtime.gateway.run(function, *args)``, which calls ``function(store, *args)`` on
the gateway's threads, never on a thread of its own choosing (no ``run_in_threadpool``,
no ``asyncio.to_thread``; ``tests/server/test_one_way_into_the_store.py`` checks it). How
many threads follows from the database:

- SQLite lets one writer in at a time, and a writer that finds the database locked backs
  off by sleeping (``busy_timeout``): writers racing from a thread pool spend most of
  their time asleep, which caps sign-ins at a few hundred a second with a p99 near a
  second. So on SQLite the gateway has ONE thread: calls run one at a time, in arrival
  order, and never meet one another at the database's lock.
- PostgreSQL runs them in parallel: at most :data:`PARALLEL_STORE_CALLS` at once, within
  the engine's connection pool (see :mod:`walletauth.store.engines`), so a burst never
  makes the pool open and close connections per call.

One refinement, inside the same rule: the sign-in on SQLite is short (a few one-row
statements, about 0.2 ms of CPU), shorter than the hop to the store thread and back,
which also costs two waits for the GIL while the event loop and that thread take turns.
So :meth:`StoreGateway.run_short` runs it on the event loop itself when no other call is
in flight; calls still go one at a time and in arrival order, so the loop never waits for
the store thread's lock. It can wait for another process's (the ``purge`` CLI's short
batches), which blocks the loop for that long; a thread would not. The measurements are
in ``benchmarks/README.md``.

The queue is bounded: beyond the running calls, at most ``WALLETAUTH_STORE_MAX_WAITING``
(:data:`MAX_WAITING`) wait, and one more is refused at once, ``service_unavailable`` with
``Retry-After``, rather than queued for seconds behind a burst. :meth:`StoreGateway.run_always`
is exempt, for what must be written once done elsewhere (a notice's answer) and the close.

Whatever reaches the store from the server takes the store as its first argument, so the
gateway is the only holder the server calls through: a route passes ``Store.records``,
``rights.erase_subject`` or a helper of its own, never a store it got hold of.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Concatenate, Generic, ParamSpec, TypeVar

from walletauth.server.web.errors import ServerError
from walletauth.store import Store

P = ParamSpec("P")
T = TypeVar("T")

PARALLEL_STORE_CALLS = 8
"""Store calls at once on PostgreSQL; within the engines' pool size, so none waits for
or opens a connection of its own."""
MAX_WAITING = 256
"""Store calls that may wait for a thread beyond those running (a worker's queue): a burst
larger than this is answered 503 with ``Retry-After`` at once rather than queued for
seconds behind it (``WALLETAUTH_STORE_MAX_WAITING``)."""
RETRY_AFTER_SECONDS = 1


def serial_for(url: str) -> bool:
    """One store call at a time for this database URL (SQLite's single writer)."""
    return url.startswith("sqlite")


def _executor(serial: bool) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(
        max_workers=1 if serial else PARALLEL_STORE_CALLS, thread_name_prefix="walletauth-store"
    )


class StoreGateway:
    """The store and the threads its calls run on (see the module's docstring)."""

    def __init__(
        self, store: Store, *, serial: bool, executor: ThreadPoolExecutor | None = None,
        on_wait: Callable[[float], None] | None = None, max_waiting: int = MAX_WAITING,
    ) -> None:
        """``on_wait`` is told how long each call handed to a thread waited for one (on
        PostgreSQL: for a pooled connection, as the threads are no more than those); at
        most ``max_waiting`` calls wait, one more is ``service_unavailable``."""
        self._store = store
        self._serial = serial
        self._on_wait = on_wait
        self._in_flight = 0  # calls handed to the executor, not yet done (loop thread only)
        self._max_in_flight = (1 if serial else PARALLEL_STORE_CALLS) + max_waiting
        self._executor = executor or _executor(serial)

    @classmethod
    async def open(
        cls, opener: Callable[[], Store], *, serial: bool,
        on_wait: Callable[[float], None] | None = None, max_waiting: int = MAX_WAITING,
    ) -> StoreGateway:
        """Open the store on the gateway's own thread: opening migrates and connects."""
        executor = _executor(serial)
        try:
            store = await asyncio.get_running_loop().run_in_executor(executor, opener)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(
            store, serial=serial, executor=executor, on_wait=on_wait, max_waiting=max_waiting
        )

    @property
    def serial(self) -> bool:
        """One store call at a time, in arrival order (SQLite)."""
        return self._serial

    @property
    def store(self) -> Store:
        """The store itself, for what runs outside the server (tests, the CLI's checks);
        the server calls it only through :meth:`run`."""
        return self._store

    async def run(
        self, function: Callable[Concatenate[Store, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``function(store, *args, **kwargs)`` on the gateway's threads; with the queue
        full, ``service_unavailable`` at once (see :meth:`refuse_if_full`)."""
        self.refuse_if_full()
        return await self.run_always(function, *args, **kwargs)

    async def run_always(
        self, function: Callable[Concatenate[Store, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """:meth:`run` even with the queue full: for what must be written once done
        elsewhere (a notice's answer, received already) and for closing the store."""
        loop = asyncio.get_running_loop()
        self._in_flight += 1
        call = functools.partial(function, self._store, *args, **kwargs)
        try:
            if self._on_wait is None:
                return await loop.run_in_executor(self._executor, call)
            return await loop.run_in_executor(self._executor, _Timed(call, self._on_wait))
        finally:
            self._in_flight -= 1

    def refuse_if_full(self, *, waiting: int = 0) -> None:
        """Raise ``service_unavailable`` (``Retry-After``) if a call now would find the
        queue full: a caller about to spend something it cannot take back (a nonce) asks
        first, so the client may send the same request again. ``waiting``: calls the
        caller holds back to make together (a batch), counted as queued."""
        in_hand = self._in_flight + waiting
        if in_hand >= self._max_in_flight:
            raise ServerError(
                "service_unavailable",
                f"this worker has {in_hand} store calls in hand; try again shortly",
                retry_after=RETRY_AFTER_SECONDS,
            )

    async def run_short(
        self, function: Callable[Concatenate[Store, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """:meth:`run` for a call known to be short: on SQLite, with no other call in
        flight, it runs right here on the event loop (see the module's docstring)."""
        if self._serial and self._in_flight == 0:
            return function(self._store, *args, **kwargs)
        return await self.run(function, *args, **kwargs)

    async def close(self) -> None:
        """Close the store on the gateway's thread, after the calls queued before."""
        try:
            await self.run_always(Store.close)
        finally:
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
