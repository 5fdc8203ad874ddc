"""Short-lived login state behind one small interface: used nonces, sessions (in families
that a refresh rotates), rate counters.

Two implementations: Redis (when ``WALLETAUTH_REDIS_URL`` is set; shared by every
worker and fast) and the store's SQL tables (run off the event loop). Nonces are
stateless (:mod:`walletauth.server.nonces`); what is kept is that one was used, and
both record that atomically, so of any number of concurrent verifies with one nonce
exactly one wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from walletauth.store.ephemeral import Rotation


@dataclass(frozen=True)
class Hits:
    """How often a key was hit in the current window, and when the window ends."""

    count: int
    retry_after_seconds: int


class HitCounter(Protocol):
    async def count_hit(self, key: str, *, window: timedelta, now: datetime) -> Hits:
        """Add one hit to ``key`` and return the hits of the current window."""

    async def peek_hits(self, key: str, *, window: timedelta, now: datetime) -> Hits:
        """The hits of ``key`` in the current window, adding none (zero if never hit)."""


class ShortLivedState(Protocol):
    async def use_nonce(self, nonce: str, *, remember_until: datetime, now: datetime) -> bool:
        """Record ``nonce`` as used until ``remember_until``; true for exactly one caller."""

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
