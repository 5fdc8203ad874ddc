"""Short-lived state in Redis: ``SET NX PX`` nonces consumed by ``GETDEL``, sessions
with a TTL, fixed-window rate counters with an atomic INCR + PEXPIRE script."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Final

from redis.asyncio import Redis

from walletauth.server.state.base import Hits

PREFIX: Final = "walletauth:"

# INCR and PEXPIRE in one step, so a crash between them never leaves an immortal counter.
_COUNT_HIT: Final = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count
"""


def _milliseconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds() * 1000))


class RedisState:
    def __init__(self, client: Redis) -> None:
        self._client = client
        self._count_hit = client.register_script(_COUNT_HIT)

    @classmethod
    def from_url(cls, url: str) -> RedisState:
        return cls(Redis.from_url(url, decode_responses=True))

    async def issue_nonce(self, nonce: str, *, expires_at: datetime, now: datetime) -> None:
        created = await self._client.set(
            f"{PREFIX}nonce:{nonce}", "1", nx=True, px=_milliseconds_until(expires_at, now)
        )
        if not created:
            raise ValueError("nonce collision: a nonce must be issued once")

    async def consume_nonce(self, nonce: str, *, now: datetime) -> bool:
        return await self._client.getdel(f"{PREFIX}nonce:{nonce}") is not None

    async def create_session(
        self, session_id: str, address: str, *, expires_at: datetime, now: datetime
    ) -> None:
        # Only the fact that the session lives: the address travels sealed in the cookie.
        await self._client.set(
            f"{PREFIX}session:{session_id}", "1", px=_milliseconds_until(expires_at, now)
        )

    async def session_active(self, session_id: str, *, now: datetime) -> bool:
        return bool(await self._client.exists(f"{PREFIX}session:{session_id}"))

    async def revoke_session(self, session_id: str) -> None:
        await self._client.delete(f"{PREFIX}session:{session_id}")

    async def count_hit(self, key: str, *, window: timedelta, now: datetime) -> Hits:
        window_seconds = window.total_seconds()
        window_index = math.floor(now.timestamp() / window_seconds)
        window_end = (window_index + 1) * window_seconds
        count = await self._count_hit(
            keys=[f"{PREFIX}hits:{key}:{window_index}"],
            args=[math.ceil(window_seconds * 1000)],
        )
        retry_after = max(1, math.ceil(window_end - now.timestamp()))
        return Hits(count=int(count), retry_after_seconds=retry_after)

    async def ping(self) -> None:
        await self._client.ping()

    async def close(self) -> None:
        await self._client.aclose()
