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

    async def peek_hits(self, key: str, *, window: timedelta, now: datetime) -> Hits:
        return self.peek(key, window=window, now=now)

    def count(self, key: str, *, window: timedelta, now: datetime) -> Hits:
        seconds, timestamp = _seconds(window), now.timestamp()
        index, counts = self._current_window(seconds, timestamp)
        counts[key] = count = counts.get(key, 0) + 1
        self._windows[seconds] = (index, counts)
        return Hits(count=count, retry_after_seconds=_retry_after(seconds, index, timestamp))

    def peek(self, key: str, *, window: timedelta, now: datetime) -> Hits:
        """The hits of ``key`` in the current window; changes nothing."""
        seconds, timestamp = _seconds(window), now.timestamp()
        index, counts = self._current_window(seconds, timestamp)
        return Hits(
            count=counts.get(key, 0), retry_after_seconds=_retry_after(seconds, index, timestamp)
        )

    def _current_window(self, seconds: float, timestamp: float) -> tuple[int, dict[str, int]]:
        """The index of the window ``timestamp`` counts into, and its counts (a fresh
        dict, not yet kept, when ``timestamp`` has moved past the held one)."""
        index = math.floor(timestamp / seconds)
        current, counts = self._windows.get(seconds, (index, {}))
        if index > current:
            return index, {}
        # A clock that went back counts into the newest window.
        return current, counts


def _seconds(window: timedelta) -> float:
    seconds = window.total_seconds()
    if seconds <= 0:
        raise ValueError("a rate-limit window is longer than zero seconds")
    return seconds


def _retry_after(seconds: float, index: int, timestamp: float) -> int:
    return max(1, math.ceil((index + 1) * seconds - timestamp))
