"""Verifying walletauth access tokens offline, against the issuer's published keys.

The only network traffic is the JWKS fetch (``GET {issuer}/.well-known/jwks.json``),
cached and rate-limited by :class:`~walletauth.sdk.jwks.KeyCache`. Everything else (the
signature, the ES256-only allow-list, issuer, audience, times) is checked locally.

Revocation: an access token is a bearer credential that stays valid until ``exp``.
A service that must honour sign-out or erasure sooner passes ``revocation_check``, a
callable ``session_id -> revoked?``; walletauth answers it at
``POST /services/v1/sessions/status``, so ``revocation_check=client.session_revoked``
(a :class:`~walletauth.sdk.client.Client` of the service) is the usual choice. It runs
after the token has verified, so it is never called with attacker-chosen ids; if it
raises, the token is refused with ``revocation_unavailable`` (fail closed) rather than
trusted.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Final, Self
from urllib.parse import urlsplit

import httpx
from jwt import PyJWK

from walletauth.sdk.errors import SdkError
from walletauth.sdk.jwks import KeyCache, parse_jwks
from walletauth.sdk.session import WalletSession
from walletauth.sdk.tokens import TokenRules, decode_session, presented_token, signing_kid

JWKS_PATH: Final = "/.well-known/jwks.json"
MAX_JWKS_BYTES: Final = 64 * 1024
"""A JWKS with a handful of EC keys is about a kilobyte; anything huge is refused."""

RevocationCheck = Callable[[str], bool]
AsyncRevocationCheck = Callable[[str], bool | Awaitable[bool]]
Clock = Callable[[], float]
"""Seconds since the epoch; injectable so tests move time instead of sleeping."""


def jwks_url_for(issuer: str) -> str:
    """Where an issuer publishes its keys."""
    return issuer.rstrip("/") + JWKS_PATH


class _VerifierCore:
    """What the sync and async verifiers share: configuration, cache, key selection."""

    def __init__(
        self,
        jwks_url: str | None,
        *,
        issuer: str,
        audience: str,
        leeway: float,
        cache_ttl: float,
        refetch_cooldown: float,
        stale_if_error: float,
        clock: Clock,
    ) -> None:
        if not issuer or not audience:
            raise ValueError("issuer and audience must be non-empty")
        if leeway < 0:
            raise ValueError(f"leeway must be >= 0 seconds, not {leeway}")
        self.jwks_url = jwks_url or jwks_url_for(issuer)
        if urlsplit(self.jwks_url).scheme not in {"http", "https"}:
            raise ValueError(f"the JWKS URL must be http(s), not {self.jwks_url!r}")
        self.rules = TokenRules(issuer=issuer, audience=audience, leeway=leeway)
        self._keys = KeyCache(
            ttl=cache_ttl, refetch_cooldown=refetch_cooldown, stale_if_error=stale_if_error
        )
        self._clock = clock

    def _keys_from(self, response: httpx.Response) -> dict[str, PyJWK]:
        if response.status_code != httpx.codes.OK:
            raise self._unavailable(f"answered HTTP {response.status_code}")
        if len(response.content) > MAX_JWKS_BYTES:
            raise self._unavailable(f"answered more than {MAX_JWKS_BYTES} bytes")
        try:
            return parse_jwks(response.json())
        except ValueError as error:  # also JSONDecodeError and UnicodeDecodeError
            raise self._unavailable(f"answered something unusable: {error}") from None

    def _unavailable(self, what: str) -> SdkError:
        return SdkError("jwks_unavailable", f"the JWKS at {self.jwks_url} {what}")

    def _key_after_fetch(self, kid: str, now: float, fetch_error: SdkError | None) -> PyJWK:
        if not self._keys.usable(now):
            raise fetch_error or self._unavailable("was not fetched recently; retry shortly")
        key = self._keys.key(kid)
        if key is not None:
            return key
        if fetch_error is not None:
            # The key may well exist; we could not ask. That is an outage, not a bad token.
            raise SdkError(
                "jwks_unavailable", f"key {kid!r} is not cached and {fetch_error.message}"
            )
        raise SdkError("token_invalid", f"no published signing key has kid {kid!r}")


def _revocation_failed(error: Exception) -> SdkError:
    return SdkError(
        "revocation_unavailable",
        f"the revocation check failed ({type(error).__name__}); the token is refused",
    )


_REVOKED_MESSAGE: Final = "the session was ended; sign in again"


class SessionVerifier(_VerifierCore):
    """Verifies access tokens in threads or plain scripts (httpx.Client underneath).

    ``SessionVerifier(issuer="https://login.example", audience="music")`` fetches keys
    from the issuer's well-known JWKS URL; pass ``jwks_url`` first to point elsewhere.
    Thread-safe: one fetch at a time, others wait for its result instead of fetching.
    """

    def __init__(
        self,
        jwks_url: str | None = None,
        *,
        issuer: str,
        audience: str,
        leeway: float = 10.0,
        cache_ttl: float = 300.0,
        refetch_cooldown: float = 30.0,
        stale_if_error: float = 300.0,
        revocation_check: RevocationCheck | None = None,
        http_client: httpx.Client | None = None,
        timeout: float = 5.0,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(
            jwks_url,
            issuer=issuer,
            audience=audience,
            leeway=leeway,
            cache_ttl=cache_ttl,
            refetch_cooldown=refetch_cooldown,
            stale_if_error=stale_if_error,
            clock=clock,
        )
        self._revocation_check = revocation_check
        self._owns_client = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout)
        self._lock = threading.Lock()

    def verify(self, token: str | None) -> WalletSession:
        """The session a token vouches for, or :class:`SdkError` saying why not."""
        token = presented_token(token)
        kid = signing_kid(token)
        now = self._clock()
        session = decode_session(token, self._signing_key(kid, now), self.rules, now)
        self._refuse_if_revoked(session)
        return session

    def refresh_keys(self) -> int:
        """Fetch the key set now (e.g. at start-up); the number of usable keys."""
        with self._lock:
            now = self._clock()
            try:
                keys = self._fetch_keys()
            except SdkError:
                self._keys.fetch_failed(now)
                raise
            self._keys.fetch_succeeded(keys, now)
            return len(keys)

    def _signing_key(self, kid: str, now: float) -> PyJWK:
        with self._lock:
            fetch_error = None
            reason = self._keys.fetch_reason(kid, now)
            if reason is not None:
                self._keys.fetch_started(reason, now)
                try:
                    self._keys.fetch_succeeded(self._fetch_keys(), now)
                except SdkError as error:
                    self._keys.fetch_failed(now)
                    fetch_error = error
            return self._key_after_fetch(kid, now, fetch_error)

    def _fetch_keys(self) -> dict[str, PyJWK]:
        try:
            response = self._http.get(self.jwks_url, headers={"Accept": "application/json"})
        except httpx.HTTPError as error:
            raise self._unavailable(f"could not be reached: {error}") from None
        return self._keys_from(response)

    def _refuse_if_revoked(self, session: WalletSession) -> None:
        if self._revocation_check is None:
            return
        try:
            revoked = self._revocation_check(session.session_id)
        except Exception as error:  # any failure of the hook must refuse, not admit
            raise _revocation_failed(error) from error
        if revoked:
            raise SdkError("token_revoked", _REVOKED_MESSAGE)

    def close(self) -> None:
        if self._owns_client:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncSessionVerifier(_VerifierCore):
    """:class:`SessionVerifier` for asyncio code (httpx.AsyncClient underneath).

    ``revocation_check`` may be a plain function or a coroutine function.
    """

    def __init__(
        self,
        jwks_url: str | None = None,
        *,
        issuer: str,
        audience: str,
        leeway: float = 10.0,
        cache_ttl: float = 300.0,
        refetch_cooldown: float = 30.0,
        stale_if_error: float = 300.0,
        revocation_check: AsyncRevocationCheck | None = None,
        http_client: httpx.AsyncClient | None = None,
        timeout: float = 5.0,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(
            jwks_url,
            issuer=issuer,
            audience=audience,
            leeway=leeway,
            cache_ttl=cache_ttl,
            refetch_cooldown=refetch_cooldown,
            stale_if_error=stale_if_error,
            clock=clock,
        )
        self._revocation_check = revocation_check
        self._owns_client = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self._lock = asyncio.Lock()

    async def verify(self, token: str | None) -> WalletSession:
        """The session a token vouches for, or :class:`SdkError` saying why not."""
        token = presented_token(token)
        kid = signing_kid(token)
        now = self._clock()
        key = await self._signing_key(kid, now)
        session = decode_session(token, key, self.rules, now)
        await self._refuse_if_revoked(session)
        return session

    async def refresh_keys(self) -> int:
        """Fetch the key set now (e.g. at start-up); the number of usable keys."""
        async with self._lock:
            now = self._clock()
            try:
                keys = await self._fetch_keys()
            except SdkError:
                self._keys.fetch_failed(now)
                raise
            self._keys.fetch_succeeded(keys, now)
            return len(keys)

    async def _signing_key(self, kid: str, now: float) -> PyJWK:
        async with self._lock:
            fetch_error = None
            reason = self._keys.fetch_reason(kid, now)
            if reason is not None:
                self._keys.fetch_started(reason, now)
                try:
                    self._keys.fetch_succeeded(await self._fetch_keys(), now)
                except SdkError as error:
                    self._keys.fetch_failed(now)
                    fetch_error = error
            return self._key_after_fetch(kid, now, fetch_error)

    async def _fetch_keys(self) -> dict[str, PyJWK]:
        try:
            response = await self._http.get(self.jwks_url, headers={"Accept": "application/json"})
        except httpx.HTTPError as error:
            raise self._unavailable(f"could not be reached: {error}") from None
        return self._keys_from(response)

    async def _refuse_if_revoked(self, session: WalletSession) -> None:
        if self._revocation_check is None:
            return
        try:
            revoked = self._revocation_check(session.session_id)
            if inspect.isawaitable(revoked):
                revoked = await revoked
        except Exception as error:  # any failure of the hook must refuse, not admit
            raise _revocation_failed(error) from error
        if revoked:
            raise SdkError("token_revoked", _REVOKED_MESSAGE)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
