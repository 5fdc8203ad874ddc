"""Short-lived state in Redis: a nonce's use recorded by ``SET NX PX`` (one round trip;
exactly one caller creates the key), sessions with a TTL, fixed-window rate counters
with an atomic INCR + PEXPIRE script.

Redis may forget (a restart without persistence, a flush, a failover to a replica that
lagged): a used nonce it forgot would be accepted again, so a captured sign-in body
would replay for the rest of the nonce's life. So Redis also keeps the *epoch* from
which its memory of used nonces runs, and a nonce issued before it is refused: a worker
sets it when it starts (if absent), and a nonce use that finds it absent — Redis lost
everything — sets it to the next second, refusing every nonce issued until then. The
cost of a loss is one failed sign-in for whoever was signing in; never a replay.
Redis must not evict keys (``maxmemory-policy noeviction``): an evicted used-nonce key
is forgotten without the epoch moving.

Each subject's sessions are also listed in a set named by a keyed hash of the address
(never the address itself), living as long as its longest session, so an erasure
ends every session of the address on every worker at once."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from walletauth.server.state.base import Hits

PREFIX: Final = "walletauth:"

# The epoch check and the nonce's use in one step. ARGV: milliseconds to remember the
# use, the nonce's issue second, the epoch to start if Redis has none (it lost its data).
_USE_NONCE: Final = """
local epoch = redis.call('GET', KEYS[2])
if not epoch then
  redis.call('SET', KEYS[2], ARGV[3])
  epoch = ARGV[3]
end
if tonumber(ARGV[2]) < tonumber(epoch) then return 0 end
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 1 end
return 0
"""
EPOCH_KEY: Final = f"{PREFIX}used-nonces-since"

# INCR and PEXPIRE in one step, so a crash between them never leaves an immortal counter.
_COUNT_HIT: Final = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count
"""

# The session, its place in the subject's index, and the index's TTL (never shortened:
# it lives as long as the subject's longest session) in one step.
_CREATE_SESSION: Final = """
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
end
return 1
"""

# Every session listed in the index, and the index, in one step: a sign-in cannot slip
# a session in between.
_REVOKE_ALL: Final = """
local ended = 0
for _, session_id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  ended = ended + redis.call('DEL', ARGV[1] .. session_id)
end
redis.call('DEL', KEYS[1])
return ended
"""


def _milliseconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds() * 1000))


def _window_counter(key: str, window: timedelta, now: datetime) -> tuple[str, int]:
    """The Redis key counting ``key`` in the fixed window of ``now``, and the seconds
    until that window ends."""
    window_seconds = window.total_seconds()
    window_index = math.floor(now.timestamp() / window_seconds)
    window_end = (window_index + 1) * window_seconds
    retry_after = max(1, math.ceil(window_end - now.timestamp()))
    return f"{PREFIX}hits:{key}:{window_index}", retry_after


class RedisState:
    def __init__(self, client: Redis, *, subject_keys: Sequence[bytes] = ()) -> None:
        """``subject_keys`` name the per-subject session indexes: new sessions go under
        the first, erasure looks under all (so a secrets rotation loses no session).
        Every worker must use the same keys (the runtime derives them from the
        secrets); without any, a random key serves this instance alone."""
        self._client = client
        self._subject_keys = tuple(subject_keys) or (secrets.token_bytes(32),)
        self._use_nonce = client.register_script(_USE_NONCE)
        self._count_hit = client.register_script(_COUNT_HIT)
        self._create_session = client.register_script(_CREATE_SESSION)
        self._revoke_all = client.register_script(_REVOKE_ALL)

    @classmethod
    def from_url(cls, url: str, *, subject_keys: Sequence[bytes] = ()) -> RedisState:
        # A pooled connection Redis closed (a restart, an idle timeout) fails its next
        # command; two quick retries on a new connection hide that from the request.
        # Retrying can repeat a command whose reply was lost: a nonce's use then reads as
        # used (refused, the safe way), a rate counter counts one more.
        retry = Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=2)
        client = Redis.from_url(
            url, decode_responses=True, retry=retry,
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )
        return cls(client, subject_keys=subject_keys)

    def _index(self, address: str, key: bytes | None = None) -> str:
        key = self._subject_keys[0] if key is None else key
        ref = hmac.new(key, address.lower().encode(), hashlib.sha256).hexdigest()
        return f"{PREFIX}subject-sessions:{ref}"

    async def start(self, *, now: datetime) -> None:
        """Begin the epoch of used nonces now, unless Redis already holds one: nonces
        issued from this second on are accepted."""
        await self._client.set(EPOCH_KEY, math.floor(now.timestamp()), nx=True)

    async def use_nonce(
        self, nonce: str, *, issued_at: datetime, remember_until: datetime, now: datetime
    ) -> bool:
        used = await self._use_nonce(
            keys=[f"{PREFIX}used-nonce:{nonce}", EPOCH_KEY],
            args=[
                _milliseconds_until(remember_until, now),
                math.floor(issued_at.timestamp()),
                # Lost data: whatever was issued up to this second may have been used.
                math.floor(now.timestamp()) + 1,
            ],
        )
        return bool(used)

    async def create_session(
        self, session_id: str, address: str, *, expires_at: datetime, now: datetime
    ) -> None:
        # Only the fact that the session lives: the address travels sealed in the cookie.
        await self._create_session(
            keys=[f"{PREFIX}session:{session_id}", self._index(address)],
            args=[_milliseconds_until(expires_at, now), session_id],
        )

    async def session_active(self, session_id: str, *, now: datetime) -> bool:
        return bool(await self._client.exists(f"{PREFIX}session:{session_id}"))

    async def revoke_session(self, session_id: str) -> None:
        await self._client.delete(f"{PREFIX}session:{session_id}")

    async def revoke_sessions_of(self, address: str) -> int:
        """End every session of ``address``; returns how many were live."""
        ended = 0
        for key in self._subject_keys:
            ended += int(await self._revoke_all(keys=[self._index(address, key)],
                                                args=[f"{PREFIX}session:"]))
        return ended

    async def count_hit(self, key: str, *, window: timedelta, now: datetime) -> Hits:
        counter, retry_after = _window_counter(key, window, now)
        count = await self._count_hit(
            keys=[counter], args=[math.ceil(window.total_seconds() * 1000)]
        )
        return Hits(count=int(count), retry_after_seconds=retry_after)

    async def peek_hits(self, key: str, *, window: timedelta, now: datetime) -> Hits:
        counter, retry_after = _window_counter(key, window, now)
        count = await self._client.get(counter)
        return Hits(count=int(count or 0), retry_after_seconds=retry_after)

    async def ping(self) -> None:
        await self._client.ping()

    async def close(self) -> None:
        await self._client.aclose()
