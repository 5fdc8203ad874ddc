"""Short-lived login state behind one small interface: used nonces, sessions (in families
that a refresh rotates), rate counters.

Two implementations: Redis (when ``WALLETAUTH_REDIS_URL`` is set; shared by every
worker and fast) and the store's SQL tables (run off the event loop). Nonces are
stateless (:mod:`walletauth.server.signin.nonces`); what is kept is that one was used, and
both record that atomically, so of any number of concurrent verifies with one nonce
exactly one wins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from walletauth.store.ephemeral import Rotation


@dataclass(frozen=True)
class Hits:
    """A key's hits over the last window length, estimated as a sliding window from two
    fixed ones: the current window's hits plus the previous window's, weighted by the
    share of the previous window still inside the sliding one.

    Fixed windows alone let a client spend its limit at the end of one window and again
    at the start of the next: twice the limit within a second. Here hits made just
    before a window's end still count in full just after it and fade out over the next
    window, so a burst can spend the limit once, then the allowance returns at the
    limit's pace. Still one counter per window to keep, and one round trip to Redis.
    """

    current: int
    """Hits in the current fixed window."""
    previous: int
    """Hits in the fixed window before it."""
    elapsed: float
    """Share of the current window gone by, in [0, 1)."""
    window_seconds: float

    @property
    def count(self) -> int:
        """The estimated hits in the last window length (rounded up: never below)."""
        # Less a rounding error's worth: 10 * 0.7 is 7.000000000000001 in floating point.
        return math.ceil(self.previous * (1 - self.elapsed) - 1e-9) + self.current

    def retry_after(self, limit: int) -> int:
        """Whole seconds until one more hit keeps ``count`` within ``limit``."""
        room = limit - 1 - self.current
        if room >= 0:
            # The previous window's weight must fall to ``room``: at share ``1 - room/P``.
            fading = 1 - room / self.previous if self.previous > room else self.elapsed
            wait = (fading - self.elapsed) * self.window_seconds
        else:
            # The current window's hits fade out through the next one.
            fading = 1 - (limit - 1) / self.current
            wait = (1 - self.elapsed + fading) * self.window_seconds
        return max(1, math.ceil(wait))


class HitCounter(Protocol):
    async def count_hit(self, key: str, *, window: timedelta, now: datetime) -> Hits:
        """Add one hit to ``key`` and return its hits (this one included)."""

    async def peek_hits(self, key: str, *, window: timedelta, now: datetime) -> Hits:
        """The hits of ``key``, adding none (zero if never hit)."""

    async def take_slot(
        self, key: str, *, limit: int, window: timedelta, now: datetime
    ) -> int | None:
        """Take one of ``key``'s ``limit`` slots per ``window``: ``None`` if fewer than
        ``limit`` were taken in the last ``window`` (this one is then taken too), else the
        whole seconds until the oldest of them frees, taking nothing.

        An exact sliding log, for allowances counted per day: the two-window estimate of
        :class:`Hits` keeps a hit made early in a window for up to twice the window, so a
        wallet refused just after a window began was told to come back in 36 hours for a
        limit per day. A log holds at most ``limit`` moments per key, so it suits small
        limits (rights requests), not the per-IP ones counted on every sign-in."""


class ShortLivedState(Protocol):
    async def use_nonce(
        self, nonce: str, *, issued_at: datetime, remember_until: datetime, now: datetime
    ) -> bool:
        """Record ``nonce`` as used until ``remember_until``; true for exactly one caller,
        and never for a nonce issued before the state's own memory of used nonces began
        (a state that can forget, as Redis without persistence does on a restart, must
        refuse what it may have forgotten)."""

    async def create_session(
        self, session_id: str, address: str, *, expires_at: datetime, now: datetime
    ) -> None: ...

    async def session_active(self, session_id: str, *, now: datetime) -> bool:
        """Whether ``session_id`` was created, has not expired and was not revoked."""

    async def rotate_session(
        self, session_id: str, new_session_id: str, address: str, *, now: datetime
    ) -> Rotation:
        """A refresh: ``new_session_id`` replaces the active ``session_id`` in its family,
        with the same expiry; a ``session_id`` rotated before ends its family (``reused``)."""

    async def end_family_if_rotated(self, session_id: str) -> bool:
        """If ``session_id`` was rotated by a refresh, end every session of its family."""

    async def revoke_session(self, session_id: str) -> None: ...

    async def revoke_sessions_of(self, address: str) -> int:
        """End every session of ``address`` (on erasure); returns how many were live."""

    async def ping(self) -> None:
        """Raise if the backing service does not answer."""

    async def close(self) -> None: ...
