"""Short-lived state in the store's SQL tables, for a deployment without Redis.

The store is synchronous; each call goes through the gateway (see
:mod:`walletauth.server.store_gateway`) so the loop keeps serving other requests.
"""

from __future__ import annotations

from datetime import UTC, datetime

from walletauth.server.store_gateway import StoreGateway
from walletauth.store import Store
from walletauth.store.ephemeral import Rotation

PING_SESSION_ID = "walletauth-health-probe"


class SqlState:
    def __init__(self, gateway: StoreGateway) -> None:
        self._gateway = gateway

    async def use_nonce(
        self, nonce: str, *, issued_at: datetime, remember_until: datetime, now: datetime
    ) -> bool:
        # The SQL table is as durable as the records: it forgets nothing before its time.
        return await self._gateway.run(Store.use_nonce, nonce, remember_until=remember_until)

    async def create_session(
        self, session_id: str, address: str, *, expires_at: datetime, now: datetime
    ) -> None:
        await self._gateway.run(
            Store.create_session, session_id, address, expires_at=expires_at
        )

    async def session_active(self, session_id: str, *, now: datetime) -> bool:
        return await self._gateway.run(Store.session_active, session_id, now=now)

    async def rotate_session(
        self, session_id: str, new_session_id: str, address: str, *, now: datetime
    ) -> Rotation:
        return await self._gateway.run(
            Store.rotate_session, session_id, new_session_id, now=now
        )

    async def end_family_if_rotated(self, session_id: str) -> bool:
        return await self._gateway.run(Store.end_family_if_rotated, session_id)

    async def revoke_session(self, session_id: str) -> None:
        await self._gateway.run(Store.revoke_session, session_id)

    async def revoke_sessions_of(self, address: str) -> int:
        return await self._gateway.run(Store.revoke_sessions_of, address)

    async def ping(self) -> None:
        """A read of the sessions table: the same path a signed-in request takes."""
        await self._gateway.run(Store.session_active, PING_SESSION_ID, now=datetime.now(UTC))

    async def close(self) -> None:
        """The store is closed by its owner, the runtime."""

