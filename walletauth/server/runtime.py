"""Everything a running app holds: opened once at start-up, closed at shutdown."""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from walletauth.policy import Policy
from walletauth.policy.loader import load_policy
from walletauth.server.config.keys import RS256_KEYS, KeyRing, open_keyring, published_jwks
from walletauth.server.config.services import ServiceRegistry
from walletauth.server.config.settings import Settings
from walletauth.server.signin.login import Clock, LoginParts, LoginService
from walletauth.server.signin.nonces import NonceMinter
from walletauth.server.signin.session_cookie import SessionCookies
from walletauth.server.signin.tokens import TokenIssuer
from walletauth.server.signin.writes import (
    REDIS_BATCH,
    SQLITE_BATCH,
    GroupCommit,
    NonceFirst,
    SignInWrites,
)
from walletauth.server.state.base import HitCounter, ShortLivedState
from walletauth.server.state.redis_state import RedisState
from walletauth.server.state.sql_state import SqlState
from walletauth.server.store_gateway import StoreGateway, serial_for
from walletauth.server.web.errors import ServerError
from walletauth.server.web.local_hits import LocalHits
from walletauth.server.web.metrics import Metrics
from walletauth.server.web.ratelimit import RateLimiter
from walletauth.store import Secrets, Store, migrate

log = logging.getLogger("walletauth.server")

HEALTH_PROBE_ID = "walletauth-health-probe"


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    policy: Policy
    gateway: StoreGateway
    state: ShortLivedState
    keyring: KeyRing[ec.EllipticCurvePrivateKey]
    tokens: TokenIssuer
    login: LoginService
    metrics: Metrics
    clock: Clock
    limiter: RateLimiter
    id_token_keyring: KeyRing[rsa.RSAPrivateKey] | None = None
    """The RS256 keys of the OpenID Provider's ID tokens; ``None`` without OIDC clients."""

    @classmethod
    async def start(cls, settings: Settings, metrics: Metrics, clock: Clock) -> Runtime:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        policy = load_policy(settings.policy)
        secrets = Secrets.load_or_create(settings.data_dir / "secrets")
        gateway = await StoreGateway.open(
            functools.partial(open_store, settings, policy, secrets),
            serial=serial_for(settings.sqlalchemy_url), on_wait=metrics.pool_waited("store"),
            max_waiting=settings.store_max_waiting,
        )
        # Newest secrets version first: new indexes go under it, erasure looks under all.
        index_keys = [
            _derive(secrets.version(number).subject_hmac_key, b"session-index")
            for number in sorted(secrets.versions, reverse=True)
        ]
        state = open_state(settings, gateway, index_keys,
                           on_redis_wait=metrics.pool_waited("redis"))
        nonce_epoch = await begin_nonce_epoch(state, now=clock())
        keyring = KeyRing.load_or_create(
            settings.data_dir, token_ttl=settings.access_token_ttl, now=clock()
        )
        tokens = TokenIssuer(
            keyring,
            issuer=settings.issuer,
            audience=settings.token_audience,
            leeway=settings.clock_skew,
        )
        # Keys for hashing rate-limit keys and log refs, derived so they serve nothing else.
        base_key = secrets.current.subject_hmac_key
        limiter = RateLimiter(
            hit_counter(state), settings.rate_limits, key=_derive(base_key, b"rate-limits")
        )
        # Every secrets version still held checks nonces, so a rotation voids none in flight.
        nonce_keys = {
            number: _derive(secrets.version(number).subject_hmac_key, b"sign-in-nonces")
            for number in secrets.versions
        }
        # Every secrets version opens cookies, so a rotation does not sign everyone out.
        cookie_keys = [
            _derive(secrets.version(number).subject_hmac_key, b"session-cookies")
            for number in sorted(secrets.versions, reverse=True)
        ]
        parts = LoginParts(
            state=state,
            nonces=NonceMinter(nonce_keys, ttl=settings.nonce_ttl, not_before=nonce_epoch),
            writes=sign_in_writes(state, gateway),
            tokens=tokens,
            limiter=limiter,
            cookies=SessionCookies(cookie_keys),
            metrics=metrics,
            clock=clock,
            log_key=_derive(base_key, b"log-refs"),
        )
        login = LoginService(settings, parts)
        return cls(
            settings, policy, gateway, state, keyring, tokens, login, metrics, clock, limiter,
            open_id_token_keyring(settings, now=clock()),
        )

    def jwks(self, now: datetime) -> dict[str, list[dict[str, str]]]:
        """Every published public key: the ES256 ones, and the RS256 ones if kept."""
        rings: list[KeyRing[Any]] = [self.keyring]
        if self.id_token_keyring is not None:
            rings.append(self.id_token_keyring)
        return published_jwks(rings, now)

    @property
    def store(self) -> Store:
        """The store, for tests and tools beside the server; the server itself reaches it
        only through :attr:`gateway` (``tests/server/test_one_way_into_the_store.py``)."""
        return self.gateway.store

    @cached_property
    def services(self) -> ServiceRegistry:
        """The registered services, read from the settings once per worker."""
        return ServiceRegistry.from_settings(self.settings)

    def notice_services(self) -> list[str]:
        """The names of the registered services that receive signed notices."""
        return list(self.services.notice_endpoints())

    def health_checks(self) -> dict[str, Callable[[], Awaitable[None]]]:
        checks: dict[str, Callable[[], Awaitable[None]]] = {"database": self._ping_database}
        if self.settings.redis_url:
            checks["redis"] = self.state.ping
        return checks

    async def _ping_database(self) -> None:
        # A read through the store, the same path as a signed-in request.
        await self.gateway.run(Store.session_active, HEALTH_PROBE_ID, now=self.clock())

    async def stop(self) -> None:
        await self.state.close()
        await self.gateway.close()


def prepare_data_dir(settings: Settings) -> None:
    """Create the data dir (private: it holds signing keys and secrets) and migrate.

    ``Store.open`` migrates too; doing it once before workers start keeps them from
    racing to create the same tables."""
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    migrate(settings.sqlalchemy_url, settings.keystore_url)


def open_id_token_keyring(settings: Settings, *, now: datetime | None = None
                          ) -> KeyRing[rsa.RSAPrivateKey] | None:
    """The RS256 ring, opened (its first key made) where the OpenID Provider is served
    (:attr:`Settings.serves_openid_provider`, which mounts its routes too): generating an
    RSA key is the one slow step of a first start, which nothing else should pay."""
    if not settings.serves_openid_provider:
        return None
    return open_keyring(settings.data_dir, RS256_KEYS, token_ttl=settings.access_token_ttl,
                        now=now)


def open_store(settings: Settings, policy: Policy, secrets: Secrets) -> Store:
    return Store.open(
        settings.sqlalchemy_url, policy=policy, secrets=secrets, keystore_url=settings.keystore_url
    )


def open_state(
    settings: Settings,
    gateway: StoreGateway,
    session_index_keys: Sequence[bytes] = (),
    *,
    on_redis_wait: Callable[[float], None] | None = None,
) -> ShortLivedState:
    if settings.redis_url:
        return RedisState.from_url(
            settings.redis_url,
            subject_keys=session_index_keys,
            max_connections=settings.redis_max_connections,
            pool_timeout=settings.redis_pool_timeout,
            on_wait=on_redis_wait,
        )
    return SqlState(gateway)


async def begin_nonce_epoch(state: ShortLivedState, *, now: datetime) -> datetime | None:
    """Start Redis's epoch of used nonces if it has none; answers the epoch in effect,
    before which this worker must date no nonce. Redis down at start is no reason not to
    start: the first nonce used once it answers starts the epoch then, refusing the nonces
    issued before (the safe direction)."""
    if not isinstance(state, RedisState):
        return None
    try:
        return await state.start(now=now)
    except ServerError as error:  # the state answers an absent Redis so
        log.warning("Redis did not answer at start (%s); nonces issued before it"
                    " answers will be refused once", type(error).__name__)
        return None


def hit_counter(state: ShortLivedState) -> HitCounter:
    """Redis counts for every worker; without it each worker counts in memory (a database
    write per request would cost more than the request)."""
    return state if isinstance(state, RedisState) else LocalHits()


def sign_in_writes(state: ShortLivedState, gateway: StoreGateway) -> SignInWrites:
    if isinstance(state, RedisState):
        return NonceFirst(state, gateway, max_batch=REDIS_BATCH)
    # Group commit on SQLite only (see walletauth.server.signin.writes).
    return GroupCommit(gateway, max_batch=SQLITE_BATCH if gateway.serial else 1)


def _derive(key: bytes, label: bytes) -> bytes:
    return hmac.new(key, b"walletauth.server:" + label, hashlib.sha256).digest()
