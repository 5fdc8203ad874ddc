"""Rate-limit counters in this worker's memory, for a deployment without Redis.

Counting a hit in the database cost a write transaction per request; in memory it is a
dict update. The price: each worker counts on its own, so with N workers a client gets
up to N times the limit. A deployment with several workers (or hosts) that wants
shared limits sets ``WALLETAUTH_REDIS_URL``, whose counters every worker shares.

Two fixed windows aligned to the epoch, like the Redis counters, weighed into a sliding
one (:class:`~walletauth.server.state.base.Hits`); a window's counts are dropped once the
window after the next is counted, so memory holds two windows' keys (which are keyed
hashes, never an IP or an address).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from walletauth.server.state.base import Hits

_NO_HITS: dict[str, int] = {}


class _Windows:
    """The counts of one window length: the current fixed window's and the one before."""

    __slots__ = ("current", "index", "previous")

    def __init__(self, index: int) -> None:
        self.index = index
        self.current: dict[str, int] = {}
        self.previous: dict[str, int] = _NO_HITS

    def move_to(self, index: int) -> None:
        """Make ``index`` current; a clock that went back counts into the newest window."""
        if index <= self.index:
            return
        self.previous = self.current if index == self.index + 1 else _NO_HITS
        self.current = {}
        self.index = index


class LocalHits:
    def __init__(self) -> None:
        self._windows: dict[float, _Windows] = {}
        """Window length in seconds -> its two windows' counts."""

    async def count_hit(self, key: str, *, window: timedelta, now: datetime) -> Hits:
        return self.count(key, window=window, now=now)

    async def peek_hits(self, key: str, *, window: timedelta, now: datetime) -> Hits:
        return self.peek(key, window=window, now=now)

    def count(self, key: str, *, window: timedelta, now: datetime) -> Hits:
        windows, seconds, elapsed = self._at(window, now)
        windows.current[key] = current = windows.current.get(key, 0) + 1
        return Hits(current, windows.previous.get(key, 0), elapsed, seconds)

    def peek(self, key: str, *, window: timedelta, now: datetime) -> Hits:
        """The hits of ``key``; changes no count."""
        windows, seconds, elapsed = self._at(window, now)
        return Hits(
            windows.current.get(key, 0), windows.previous.get(key, 0), elapsed, seconds
        )

    def _at(self, window: timedelta, now: datetime) -> tuple[_Windows, float, float]:
        """The windows of ``window``'s length moved to ``now``, the length in seconds,
        and the share of the current window gone by."""
        seconds = window.total_seconds()
        if seconds <= 0:
            raise ValueError("a rate-limit window is longer than zero seconds")
        position = now.timestamp() / seconds
        index = int(position // 1)
        windows = self._windows.get(seconds)
        if windows is None:
            windows = self._windows[seconds] = _Windows(index)
        windows.move_to(index)
        elapsed = min(max(position - windows.index, 0.0), 0.999999)
        return windows, seconds, elapsed
