"""Running the store's blocking calls off the event loop.

SQLite lets one writer in at a time, and a writer that finds the database locked backs
off by sleeping (``busy_timeout``): writers racing from a thread pool spend most of
their time asleep, which caps sign-ins at a few hundred a second with a p99 near a
second. So on SQLite every store call goes through one thread, in arrival order. On
PostgreSQL they run in parallel in the shared thread pool.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool

P = ParamSpec("P")
T = TypeVar("T")


class StoreCalls:
    def __init__(self, *, serial: bool) -> None:
        self._executor = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="walletauth-store")
            if serial
            else None
        )

    @classmethod
    def for_url(cls, url: str) -> StoreCalls:
        return cls(serial=url.startswith("sqlite"))

    async def run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self._executor is None:
            return await run_in_threadpool(function, *args, **kwargs)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(function, *args, **kwargs)
        )

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
