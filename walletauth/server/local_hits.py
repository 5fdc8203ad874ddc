"""Rate-limit counters in this worker's memory, for a deployment without Redis.

Counting a hit in the database cost a write transaction per request; in memory it is a
dict update. The price: each worker counts on its own, so with N workers a client gets
up to N times the limit. A deployment with several workers (or hosts) that wants
shared limits sets ``WALLETAUTH_REDIS_URL``, whose counters every worker shares.

Fixed windows aligned to the epoch, like the Redis counters; a window's counts are
dropped as soon as a later window of the same length is counted, so memory holds one
window's keys (which are keyed hashes, never an IP or an address).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from walletauth.server.state.base import Hits


class LocalHits:
    def __init__(self) -> None:
        self._windows: dict[float, tuple[int, dict[str, int]]] = {}
        """Window length in seconds -> (index of its current window, hits per key)."""

    async def count_hit(self, key: str, *, window: timedelta, now: datetime) -> Hits:
        return self.count(key, window=window, now=now)

    def count(self, key: str, *, window: timedelta, now: datetime) -> Hits:
        seconds = window.total_seconds()
        if seconds <= 0:
            raise ValueError("a rate-limit window is longer than zero seconds")
        moment = now.timestamp()
        index = math.floor(moment / seconds)
        current, counts = self._windows.get(seconds, (index, {}))
        if index > current:
            counts = {}
        elif index < current:  # a clock that went back counts into the newest window
            index = current
        counts[key] = count = counts.get(key, 0) + 1
        self._windows[seconds] = (index, counts)
        retry_after = max(1, math.ceil((index + 1) * seconds - moment))
        return Hits(count=count, retry_after_seconds=retry_after)
