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

import math
from collections import deque
from datetime import datetime, timedelta

from walletauth.server.state.base import Hits

_NO_HITS: dict[str, int] = {}
_SWEEP_EVERY = 1024
"""Keys of slot logs kept before the first sweep for freed ones."""


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
        self._slots: dict[str, deque[float]] = {}
        """Key -> the moments (POSIX seconds) its slots were taken, oldest first."""
        self._slots_sweep_at = _SWEEP_EVERY

    async def take_slot(
        self, key: str, *, limit: int, window: timedelta, now: datetime
    ) -> int | None:
        return self.take(key, limit=limit, window=window, now=now)

    def take(self, key: str, *, limit: int, window: timedelta, now: datetime) -> int | None:
        seconds = window.total_seconds()
        moment = now.timestamp()
        taken = self._slots.setdefault(key, deque())
        while taken and taken[0] <= moment - seconds:
            taken.popleft()
        if len(taken) >= limit:
            return max(1, math.ceil(taken[0] + seconds - moment))
        taken.append(moment)
        self._sweep_slots(moment - seconds)
        return None

    def _sweep_slots(self, cutoff: float) -> None:
        """Forget keys whose every slot has freed, now and then: a wallet that never comes
        back would otherwise stay in memory for the worker's life."""
        if len(self._slots) < self._slots_sweep_at:
            return
        for key in [key for key, taken in self._slots.items() if taken[-1] <= cutoff]:
            del self._slots[key]
        self._slots_sweep_at = max(_SWEEP_EVERY, 2 * len(self._slots))

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
