"""What a successful verify writes: the nonce's use, the sign-in's records, the session.

On SQL (no Redis) all three are one store transaction (:meth:`Store.sign_in`): one
subject lookup, one key-store read, one commit, and a nonce that was used already
leaves nothing behind. With Redis, the nonce's use is a ``SET NX`` there first (the
atomic step), then the store's one transaction, then the session in Redis.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from walletauth.server.nonces import NonceCheck
from walletauth.server.state.base import ShortLivedState
from walletauth.server.store_calls import StoreCalls
from walletauth.store import Store


@dataclass(frozen=True)
class SignInWrite:
    nonce: NonceCheck
    address: str
    chain_id: int
    ip: str
    user_agent: str | None
    session_id: str
    session_expires_at: datetime
    now: datetime


class SignInWrites(Protocol):
    async def write(self, sign_in: SignInWrite) -> bool:
        """Store ``sign_in``; False, with nothing stored, if its nonce was used already."""


class OneTransaction:
    """Nonce, records and session in the store's tables, in one transaction."""

    def __init__(self, store: Store, calls: StoreCalls) -> None:
        self._store = store
        self._calls = calls

    async def write(self, sign_in: SignInWrite) -> bool:
        return await self._calls.run_short(
            self._store.sign_in,
            sign_in.address,
            sign_in.chain_id,
            now=sign_in.now,
            ip=sign_in.ip,
            user_agent=sign_in.user_agent,
            nonce=sign_in.nonce.nonce,
            nonce_remember_until=sign_in.nonce.remember_until,
            session_id=sign_in.session_id,
            session_expires_at=sign_in.session_expires_at,
        )


class NonceFirst:
    """The nonce's use and the session in the short-lived state (Redis), the records in
    the store."""

    def __init__(self, state: ShortLivedState, store: Store, calls: StoreCalls) -> None:
        self._state = state
        self._store = store
        self._calls = calls

    async def write(self, sign_in: SignInWrite) -> bool:
        now = sign_in.now
        if not await self._state.use_nonce(
            sign_in.nonce.nonce, remember_until=sign_in.nonce.remember_until, now=now
        ):
            return False
        await self._calls.run(
            self._store.record_login, sign_in.address, sign_in.chain_id, now=now,
            ip=sign_in.ip, user_agent=sign_in.user_agent,
        )
        await self._state.create_session(
            sign_in.session_id, sign_in.address, expires_at=sign_in.session_expires_at, now=now
        )
        return True
