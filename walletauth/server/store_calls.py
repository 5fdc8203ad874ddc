"""Running the store's blocking calls off the event loop.

SQLite lets one writer in at a time, and a writer that finds the database locked backs
off by sleeping (``busy_timeout``): writers racing from a thread pool spend most of
their time asleep, which caps sign-ins at a few hundred a second with a p99 near a
second. So on SQLite every store call goes through one thread, in arrival order. On
PostgreSQL they run in parallel on a few threads of their own: no more at once than the
engine's connection pool keeps open (see :mod:`walletauth.store.engines`), so a burst
never makes the pool open and close connections per call.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

PARALLEL_STORE_CALLS = 8
"""Store calls at once on PostgreSQL; within the engines' pool size, so none waits for
or opens a connection of its own."""


class StoreCalls:
    def __init__(self, *, serial: bool) -> None:
        self._executor = ThreadPoolExecutor(
            max_workers=1 if serial else PARALLEL_STORE_CALLS,
            thread_name_prefix="walletauth-store",
        )

    @classmethod
    def for_url(cls, url: str) -> StoreCalls:
        return cls(serial=url.startswith("sqlite"))

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(function, *args, **kwargs)
        )

    def close(self) -> None:
        self._executor.shutdown(wait=True)
