"""Short-lived state in Redis: a nonce's use recorded by ``SET NX PX`` (one round trip;
exactly one caller creates the key), sessions with a TTL (rotated by a refresh within
their family, see ``_ROTATE_SESSION``), fixed-window rate counters with an atomic INCR +
PEXPIRE script.

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

from walletauth.server.state.base import Hits
from walletauth.store.ephemeral import Rotation

PREFIX: Final = "walletauth:"

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
# a session in between. Counts the ones a refresh did not replace.
_REVOKE_ALL: Final = """
local ended = 0
for _, session_id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local value = redis.call('GET', ARGV[1] .. session_id)
  if value and string.sub(value, 1, 8) ~= 'rotated:' then ended = ended + 1 end
  redis.call('DEL', ARGV[1] .. session_id)
end
redis.call('DEL', KEYS[1])
return ended
"""


# A session's value: "1" for a family's first session, the first one's id for a later
# one (the family's name), "rotated:<family>" once a refresh replaced it. A rotated
# session keeps its TTL, so that its reuse is recognised until the family expires.
_ROTATED: Final = "rotated:"

# Ends every session of a family: its index lists all but the first, which names it.
_END_FAMILY: Final = """
local function end_family(family, prefix)
  local index = prefix .. 'session-family:' .. family
  for _, session_id in ipairs(redis.call('SMEMBERS', index)) do
    redis.call('DEL', prefix .. 'session:' .. session_id)
  end
  redis.call('DEL', index, prefix .. 'session:' .. family)
end
"""

# KEYS: the session, its successor, the subject's index; ARGV: their ids, the key prefix.
# Rotates an active session (answers its remaining TTL), or ends the family of a rotated
# one (answers -1), or finds nothing (0): one step, so of concurrent refreshes one rotates.
_ROTATE_SESSION: Final = _END_FAMILY + """
local value = redis.call('GET', KEYS[1])
if not value then return 0 end
if string.sub(value, 1, 8) == 'rotated:' then
  end_family(string.sub(value, 9), ARGV[3])
  return -1
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then return 0 end
local family = value == '1' and ARGV[1] or value
local index = ARGV[3] .. 'session-family:' .. family
redis.call('SET', KEYS[1], 'rotated:' .. family, 'PX', ttl)
redis.call('SET', KEYS[2], family, 'PX', ttl)
redis.call('SADD', index, ARGV[1], ARGV[2])
redis.call('PEXPIRE', index, ttl)
redis.call('SADD', KEYS[3], ARGV[2])
if redis.call('PTTL', KEYS[3]) < ttl then redis.call('PEXPIRE', KEYS[3], ttl) end
return ttl
"""

_END_FAMILY_IF_ROTATED: Final = _END_FAMILY + """
local value = redis.call('GET', KEYS[1])
if not value or string.sub(value, 1, 8) ~= 'rotated:' then return 0 end
end_family(string.sub(value, 9), ARGV[1])
return 1
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
        self._count_hit = client.register_script(_COUNT_HIT)
        self._create_session = client.register_script(_CREATE_SESSION)
        self._revoke_all = client.register_script(_REVOKE_ALL)
        self._rotate_session = client.register_script(_ROTATE_SESSION)
        self._end_family_if_rotated = client.register_script(_END_FAMILY_IF_ROTATED)

    @classmethod
    def from_url(cls, url: str, *, subject_keys: Sequence[bytes] = ()) -> RedisState:
        return cls(Redis.from_url(url, decode_responses=True), subject_keys=subject_keys)

    def _index(self, address: str, key: bytes | None = None) -> str:
        key = self._subject_keys[0] if key is None else key
        ref = hmac.new(key, address.lower().encode(), hashlib.sha256).hexdigest()
        return f"{PREFIX}subject-sessions:{ref}"

    async def use_nonce(self, nonce: str, *, remember_until: datetime, now: datetime) -> bool:
        created = await self._client.set(
            f"{PREFIX}used-nonce:{nonce}", "1", nx=True,
            px=_milliseconds_until(remember_until, now),
        )
        return bool(created)

    async def create_session(
        self, session_id: str, address: str, *, expires_at: datetime, now: datetime
    ) -> None:
        # Only the fact that the session lives: the address travels sealed in the cookie.
        await self._create_session(
            keys=[f"{PREFIX}session:{session_id}", self._index(address)],
            args=[_milliseconds_until(expires_at, now), session_id],
        )

    async def session_active(self, session_id: str, *, now: datetime) -> bool:
        value = await self._client.get(f"{PREFIX}session:{session_id}")
        return value is not None and not value.startswith(_ROTATED)

    async def rotate_session(
        self, session_id: str, new_session_id: str, address: str, *, now: datetime
    ) -> Rotation:
        answer = int(await self._rotate_session(
            keys=[f"{PREFIX}session:{session_id}", f"{PREFIX}session:{new_session_id}",
                  self._index(address)],
            args=[session_id, new_session_id, PREFIX],
        ))
        if answer <= 0:
            return Rotation(None, reused=answer < 0)
        return Rotation(now + timedelta(milliseconds=answer))

    async def end_family_if_rotated(self, session_id: str) -> bool:
        return bool(await self._end_family_if_rotated(
            keys=[f"{PREFIX}session:{session_id}"], args=[PREFIX]
        ))

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
