"""Short-lived state in the store's SQL tables, for a deployment without Redis.

The store is synchronous and thread-safe; each call runs off the event loop (see
:mod:`walletauth.server.store_calls`) so the loop keeps serving other requests.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from walletauth.server.state.base import Hits
from walletauth.server.store_calls import StoreCalls
from walletauth.store import Store

PING_SESSION_ID = "walletauth-health-probe"


class SqlState:
    def __init__(self, store: Store, calls: StoreCalls) -> None:
        self._store = store
        self._calls = calls

    async def issue_nonce(self, nonce: str, *, expires_at: datetime, now: datetime) -> None:
        await self._calls.run(self._store.issue_nonce, nonce, expires_at=expires_at)

    async def consume_nonce(self, nonce: str, *, now: datetime) -> bool:
        return await self._calls.run(self._store.consume_nonce, nonce, now=now)

    async def create_session(
        self, session_id: str, address: str, *, expires_at: datetime, now: datetime
    ) -> None:
        await self._calls.run(
            self._store.create_session, session_id, address, expires_at=expires_at
        )

    async def session_active(self, session_id: str, *, now: datetime) -> bool:
        return await self._calls.run(self._store.session_active, session_id, now=now)

    async def revoke_session(self, session_id: str) -> None:
        await self._calls.run(self._store.revoke_session, session_id)

    async def revoke_sessions_of(self, address: str) -> int:
        return await self._calls.run(self._store.revoke_sessions_of, address)

    async def count_hit(self, key: str, *, window: timedelta, now: datetime) -> Hits:
        count = await self._calls.run(
            self._store.count_hit, key, window=int(window.total_seconds()), now=now
        )
        return Hits(count=count, retry_after_seconds=_seconds_left(window, now))

    async def ping(self) -> None:
        """A read of the sessions table: the same path a signed-in request takes."""
        await self._calls.run(self._store.session_active, PING_SESSION_ID, now=datetime.now(UTC))

    async def close(self) -> None:
        """The store is closed by its owner, the runtime."""


def _seconds_left(window: timedelta, now: datetime) -> int:
    # The store counts in fixed windows aligned to the epoch, like the Redis counters.
    seconds = window.total_seconds()
    return max(1, math.ceil(seconds - now.timestamp() % seconds))
