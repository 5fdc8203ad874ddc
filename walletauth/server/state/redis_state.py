"""Short-lived state in Redis: a nonce's use recorded by ``SET NX PX`` (one round trip;
exactly one caller creates the key; a sign-in's session is created in the same script, see
``_SIGN_IN``), sessions with a TTL (rotated by a refresh within
their family, see ``_ROTATE_SESSION``), rate counters per fixed window (an atomic INCR +
PEXPIRE script that also reads the previous window's counter, for the sliding estimate of
:class:`~walletauth.server.state.base.Hits`).

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
ends every session of the address on every worker at once.

Each worker talks to Redis through a bounded pool that waits a little for a free
connection (``BlockingConnectionPool``): redis-py's default pool refused the 101st
concurrent command with ``MaxConnectionsError``, which reached clients as a 500. A
command that still finds no connection, or a Redis that does not answer, is
``service_unavailable`` (503 with ``Retry-After``), never a 500."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, Final, ParamSpec, TypeVar

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from walletauth.server.state.base import Hits
from walletauth.server.web.errors import ServerError
from walletauth.store.ephemeral import Rotation
from walletauth.store.logins import SignIn

PREFIX: Final = "walletauth:"

# Whether a nonce issued at second ``issued`` may be used: not if it predates the epoch
# (started at ``lost`` if Redis has none: it lost its data).
_NONCE_AFTER_EPOCH: Final = """
local function after_epoch(epoch_key, issued, lost)
  local epoch = redis.call('GET', epoch_key)
  if not epoch then
    redis.call('SET', epoch_key, lost)
    epoch = lost
  end
  return tonumber(issued) >= tonumber(epoch)
end
"""

# A session, its place in the subject's index, and the index's TTL (never shortened: it
# lives as long as the subject's longest session).
_NEW_SESSION: Final = """
local function new_session(session_key, index_key, session_id, milliseconds)
  redis.call('SET', session_key, '1', 'PX', milliseconds)
  redis.call('SADD', index_key, session_id)
  if redis.call('PTTL', index_key) < tonumber(milliseconds) then
    redis.call('PEXPIRE', index_key, milliseconds)
  end
end
"""

# The epoch check and the nonce's use in one step. ARGV: milliseconds to remember the
# use, the nonce's issue second, the epoch to start if Redis has none.
_USE_NONCE: Final = _NONCE_AFTER_EPOCH + """
if not after_epoch(KEYS[2], ARGV[2], ARGV[3]) then return 0 end
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 1 end
return 0
"""
EPOCH_KEY: Final = f"{PREFIX}used-nonces-since"

# A sign-in's nonce use and its session in one step: the session exists only if this
# use of the nonce won, and the nonce is used only with the session created. KEYS: the
# used nonce, the epoch, the session, the subject's index; ARGV as _USE_NONCE's, then the
# session's milliseconds and id. The used nonce's value is the session's id, so a retry
# of this very call (redis-py repeats a command whose reply was lost) finds its own win
# and answers it again, instead of reading its own use as somebody else's.
_SIGN_IN: Final = _NONCE_AFTER_EPOCH + _NEW_SESSION + """
if not after_epoch(KEYS[2], ARGV[2], ARGV[3]) then return 0 end
if not redis.call('SET', KEYS[1], ARGV[5], 'NX', 'PX', ARGV[1]) then
  if redis.call('GET', KEYS[1]) == ARGV[5] then return 1 end
  return 0
end
new_session(KEYS[3], KEYS[4], ARGV[5], ARGV[4])
return 1
"""

# _SIGN_IN for several sign-ins in one call (one round trip), each deciding as it would
# alone. KEYS: the epoch, then per sign-in its used nonce, session and subject's index;
# ARGV: per sign-in _SIGN_IN's five. Answers a 1 or 0 per sign-in, in order.
_SIGN_IN_MANY: Final = _NONCE_AFTER_EPOCH + _NEW_SESSION + """
local answers = {}
for i = 0, (#KEYS - 1) / 3 - 1 do
  local k, a = 2 + 3 * i, 1 + 5 * i
  local won = 0
  if after_epoch(KEYS[1], ARGV[a + 1], ARGV[a + 2]) then
    if redis.call('SET', KEYS[k], ARGV[a + 4], 'NX', 'PX', ARGV[a]) then
      new_session(KEYS[k + 1], KEYS[k + 2], ARGV[a + 4], ARGV[a + 3])
      won = 1
    elseif redis.call('GET', KEYS[k]) == ARGV[a + 4] then
      won = 1
    end
  end
  answers[i + 1] = won
end
return answers
"""

# INCR and PEXPIRE in one step, so a crash between them never leaves an immortal counter,
# and the previous window's count in the same round trip. A counter lives two windows:
# through its own and, as the previous one, through the next.
_COUNT_HIT: Final = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {count, tonumber(redis.call('GET', KEYS[2]) or '0')}
"""

# A slot of an allowance's log (a sorted set of the moments slots were taken), in one
# step. ARGV: now and the window in milliseconds, the limit, a member unique to this
# take. Answers -1 if taken, else the milliseconds until the oldest slot frees.
_TAKE_SLOT: Final = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return tonumber(oldest[2]) + window - now
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return -1
"""

_CREATE_SESSION: Final = _NEW_SESSION + """
new_session(KEYS[1], KEYS[2], ARGV[2], ARGV[1])
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


DEFAULT_MAX_CONNECTIONS: Final = 50
DEFAULT_POOL_TIMEOUT_SECONDS: Final = 2.0
RETRY_AFTER_SECONDS: Final = 1
"""What a client is told to wait when Redis is busy or away: overload passes quickly."""

_P = ParamSpec("_P")
_T = TypeVar("_T")


def _unavailable_when_redis_is(
    call: Callable[_P, Coroutine[Any, Any, _T]],
) -> Callable[_P, Coroutine[Any, Any, _T]]:
    """Answer a Redis that is down, slow or out of pooled connections as
    ``service_unavailable`` (redis-py raises ``ConnectionError`` for a pool wait that
    timed out and ``MaxConnectionsError``, a ``ConnectionError``, for a full pool)."""

    @wraps(call)
    async def answered(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return await call(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError) as error:
            raise ServerError(
                "service_unavailable",
                f"Redis is unavailable ({type(error).__name__})",
                retry_after=RETRY_AFTER_SECONDS,
            ) from error

    return answered
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


class _TimedPool(BlockingConnectionPool):
    """The bounded pool, telling ``on_wait`` how long each command waited for a
    connection: waits that grow are the first sign of a worker with too few."""

    on_wait: Callable[[float], None] | None = None

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        on_wait = self.on_wait
        if on_wait is None:
            return await super().get_connection(*args, **kwargs)
        asked = time.perf_counter()
        connection = await super().get_connection(*args, **kwargs)
        on_wait(time.perf_counter() - asked)
        return connection


@dataclass(frozen=True)
class _Counters:
    """The Redis keys counting a key in the fixed window of a moment and the one before."""

    current: str
    previous: str
    elapsed: float
    window_seconds: float

    def hits(self, current: int, previous: int) -> Hits:
        return Hits(current, previous, self.elapsed, self.window_seconds)


def _counters(key: str, window: timedelta, now: datetime) -> _Counters:
    window_seconds = window.total_seconds()
    position = now.timestamp() / window_seconds
    index = math.floor(position)
    return _Counters(
        current=f"{PREFIX}hits:{key}:{index}",
        previous=f"{PREFIX}hits:{key}:{index - 1}",
        elapsed=min(position - index, 0.999999),
        window_seconds=window_seconds,
    )


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
        self._take_slot = client.register_script(_TAKE_SLOT)
        self._create_session = client.register_script(_CREATE_SESSION)
        self._sign_in = client.register_script(_SIGN_IN)
        self._sign_in_many = client.register_script(_SIGN_IN_MANY)
        self._revoke_all = client.register_script(_REVOKE_ALL)
        self._rotate_session = client.register_script(_ROTATE_SESSION)
        self._end_family_if_rotated = client.register_script(_END_FAMILY_IF_ROTATED)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        subject_keys: Sequence[bytes] = (),
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        pool_timeout: float = DEFAULT_POOL_TIMEOUT_SECONDS,
        on_wait: Callable[[float], None] | None = None,
    ) -> RedisState:
        """A state on at most ``max_connections`` connections to ``url``; a command waits
        up to ``pool_timeout`` seconds for one before it is ``service_unavailable``, and
        ``on_wait`` is told how long each waited."""
        # A pooled connection Redis closed (a restart, an idle timeout) fails its next
        # command; two quick retries on a new connection hide that from the request.
        # Retrying can repeat a command whose reply was lost: a nonce's use then reads as
        # used (refused, the safe way; a sign-in's recognises its own), a rate counter
        # counts one more.
        retry = Retry(ExponentialBackoff(cap=0.2, base=0.02), retries=2)
        pool = _TimedPool.from_url(
            url, decode_responses=True, max_connections=max_connections, timeout=pool_timeout,
            retry=retry, retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )
        pool.on_wait = on_wait
        # from_pool: closing the client closes the pool, which it then owns.
        return cls(Redis.from_pool(pool), subject_keys=subject_keys)

    def _index(self, address: str, key: bytes | None = None) -> str:
        key = self._subject_keys[0] if key is None else key
        ref = hmac.new(key, address.lower().encode(), hashlib.sha256).hexdigest()
        return f"{PREFIX}subject-sessions:{ref}"

    @_unavailable_when_redis_is
    async def start(self, *, now: datetime) -> datetime:
        """Begin the epoch of used nonces now, unless Redis already holds one: nonces
        issued from the epoch's second on are accepted. Answers the epoch in effect."""
        held = await self._client.set(EPOCH_KEY, math.floor(now.timestamp()), nx=True, get=True)
        seconds = math.floor(now.timestamp()) if held is None else int(held)
        return datetime.fromtimestamp(seconds, UTC)

    @_unavailable_when_redis_is
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

    @_unavailable_when_redis_is
    async def use_nonce_with_session(
        self, nonce: str, *, issued_at: datetime, remember_until: datetime,
        session_id: str, address: str, session_expires_at: datetime, now: datetime,
    ) -> bool:
        """A sign-in's :meth:`use_nonce` and :meth:`create_session` in one round trip and
        one step: true, with the session created, for exactly one caller of a nonce."""
        used = await self._sign_in(
            keys=[f"{PREFIX}used-nonce:{nonce}", EPOCH_KEY, f"{PREFIX}session:{session_id}",
                  self._index(address)],
            args=[
                _milliseconds_until(remember_until, now),
                math.floor(issued_at.timestamp()),
                math.floor(now.timestamp()) + 1,
                _milliseconds_until(session_expires_at, now),
                session_id,
            ],
        )
        return bool(used)

    @_unavailable_when_redis_is
    async def use_nonces_with_sessions(
        self, sign_ins: Sequence[SignIn]
    ) -> list[bool]:
        """:meth:`use_nonce_with_session` for each of ``sign_ins`` (at its ``now``), in one
        round trip and one step: each answer as that sign-in would get alone, in order."""
        keys = [EPOCH_KEY]
        args: list[str | int] = []
        for sign_in in sign_ins:
            now = sign_in.now
            keys += [f"{PREFIX}used-nonce:{sign_in.nonce}",
                     f"{PREFIX}session:{sign_in.session_id}", self._index(sign_in.address)]
            args += [_milliseconds_until(sign_in.nonce_remember_until, now),
                     math.floor(sign_in.nonce_issued_at.timestamp()),
                     math.floor(now.timestamp()) + 1,
                     _milliseconds_until(sign_in.session_expires_at, now), sign_in.session_id]
        answers = await self._sign_in_many(keys=keys, args=args)
        return [bool(answer) for answer in answers]

    @_unavailable_when_redis_is
    async def create_session(
        self, session_id: str, address: str, *, expires_at: datetime, now: datetime
    ) -> None:
        # Only the fact that the session lives: the address travels sealed in the cookie.
        await self._create_session(
            keys=[f"{PREFIX}session:{session_id}", self._index(address)],
            args=[_milliseconds_until(expires_at, now), session_id],
        )

    @_unavailable_when_redis_is
    async def session_active(self, session_id: str, *, now: datetime) -> bool:
        value = await self._client.get(f"{PREFIX}session:{session_id}")
        # The pool decodes responses (from_url): a live session's value is text.
        return isinstance(value, str) and not value.startswith(_ROTATED)

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

    @_unavailable_when_redis_is
    async def revoke_session(self, session_id: str) -> None:
        await self._client.delete(f"{PREFIX}session:{session_id}")

    @_unavailable_when_redis_is
    async def revoke_sessions_of(self, address: str) -> int:
        """End every session of ``address``; returns how many were live."""
        ended = 0
        for key in self._subject_keys:
            ended += int(await self._revoke_all(keys=[self._index(address, key)],
                                                args=[f"{PREFIX}session:"]))
        return ended

    @_unavailable_when_redis_is
    async def count_hit(self, key: str, *, window: timedelta, now: datetime) -> Hits:
        counters = _counters(key, window, now)
        current, previous = await self._count_hit(
            keys=[counters.current, counters.previous],
            args=[math.ceil(2 * counters.window_seconds * 1000)],
        )
        return counters.hits(int(current), int(previous))

    @_unavailable_when_redis_is
    async def peek_hits(self, key: str, *, window: timedelta, now: datetime) -> Hits:
        counters = _counters(key, window, now)
        current, previous = await self._client.mget(counters.current, counters.previous)
        return counters.hits(int(current or 0), int(previous or 0))

    @_unavailable_when_redis_is
    async def take_slot(
        self, key: str, *, limit: int, window: timedelta, now: datetime
    ) -> int | None:
        now_ms = math.floor(now.timestamp() * 1000)
        wait_ms = await self._take_slot(
            keys=[f"{PREFIX}slots:{key}"],
            args=[now_ms, math.ceil(window.total_seconds() * 1000), limit,
                  f"{now_ms}:{secrets.token_hex(4)}"],
        )
        return None if int(wait_ms) < 0 else max(1, math.ceil(int(wait_ms) / 1000))

    @_unavailable_when_redis_is
    async def ping(self) -> None:
        await self._client.ping()

    async def close(self) -> None:
        await self._client.aclose()
