"""Signing in, refreshing, signing out and recognising who is signed in.

The order of a verify matters: rate limit, check the message, its (stateless,
HMAC-authenticated) nonce and its signature, and only then use the nonce, atomically and
together with the sign-in's writes (:mod:`walletauth.server.signin.writes`), so of
concurrent verifies with one nonce exactly one wins and a bad signature never burns
somebody's nonce. Only a successful sign-in stores anything about the wallet; a failed
one at most counts a rate-limit hit under a keyed hash (see :meth:`LoginService._checked`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from walletauth.errors import WalletAuthError
from walletauth.rights.errors import RightsError
from walletauth.rights.requests import refuse_request_proof
from walletauth.server.config.settings import Settings
from walletauth.server.signin.nonces import NonceCheck, NonceMinter
from walletauth.server.signin.session_cookie import SessionCookies, SessionCredential
from walletauth.server.signin.tokens import IssuedToken, TokenIssuer
from walletauth.server.signin.writes import SignInWrites
from walletauth.server.state.base import ShortLivedState
from walletauth.server.web.errors import ServerError
from walletauth.server.web.metrics import Metrics
from walletauth.server.web.ratelimit import RateLimiter
from walletauth.siwe import SiweError, SiweMessage, VerifiedLogin
from walletauth.siwe.verify import (
    Expectations,
    acontract_login,
    check_signed,
    expectations,
    plain_key_failure,
    plain_key_login,
)
from walletauth.store.logins import SignIn

log = logging.getLogger("walletauth.server.signin.login")

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Client:
    """Where a request comes from, as far as the store may record it."""

    ip: str
    user_agent: str | None


@dataclass(frozen=True)
class Principal:
    """Who is signed in, and in which session."""

    address: str
    chain_id: int
    session_id: str


@dataclass(frozen=True)
class SignedIn:
    principal: Principal
    access: IssuedToken
    cookie: str | None = None
    """The new session cookie's value, on sign-in and refresh."""
    cookie_expires_at: datetime | None = None
    """When a refreshed session's cookie runs out: its family's, set at sign-in."""


@dataclass(frozen=True)
class LoginParts:
    """What a :class:`LoginService` works with, opened by the runtime."""

    state: ShortLivedState
    nonces: NonceMinter
    writes: SignInWrites
    tokens: TokenIssuer
    limiter: RateLimiter
    cookies: SessionCookies
    metrics: Metrics
    clock: Clock
    log_key: bytes


class LoginService:
    def __init__(self, settings: Settings, parts: LoginParts) -> None:
        self._settings = settings
        self._state = parts.state
        self._nonces = parts.nonces
        self._writes = parts.writes
        self._tokens = parts.tokens
        self._limiter = parts.limiter
        self._cookies = parts.cookies
        self._metrics = parts.metrics
        self._clock = parts.clock
        self._latest_seen = parts.clock()
        self._log_key = parts.log_key
        self._rpc: Mapping[int, object] | None = dict(settings.rpc_urls) or None
        self._expected_by_domain, self._expected_elsewhere = _domain_expectations(settings)

    async def new_nonce(self, client: Client) -> str:
        now = self._clock()
        await self._limiter.nonce_requested(client.ip, now=now)
        nonce = self._nonces.issue(now=now)
        self._metrics.nonces_issued.inc()
        return nonce

    async def verify(self, message: str, signature: str, client: Client) -> SignedIn:
        now = self._clock()
        try:
            await self._limiter.verify_requested(client.ip, now=now)
            signed_in = await self._verify(message, signature, client, now)
        except WalletAuthError as error:
            self._metrics.login(error.code)
            raise
        self._metrics.login("ok")
        return signed_in

    async def _verify(self, text: str, signature: str, client: Client, now: datetime) -> SignedIn:
        message, login, nonce = await self._checked(text, signature, client.ip, now)
        cookie, credential = self._cookies.issue(login.address, login.chain_id)
        written = await self._writes.write(SignIn(
            address=login.address, chain_id=login.chain_id, now=now, nonce=nonce.nonce,
            nonce_issued_at=nonce.issued_at, nonce_remember_until=nonce.remember_until,
            session_id=credential.session_id,
            session_expires_at=now + self._settings.session_ttl, ip=client.ip,
            user_agent=client.user_agent,
        ))
        if not written:
            self._refused(message, _nonce_unknown())
        if log.isEnabledFor(logging.INFO):  # the keyed hash only when it is written
            log.info("signed in %s", self.subject_ref(login.address))
        principal = Principal(login.address, login.chain_id, credential.session_id)
        return SignedIn(principal=principal, access=self._issue(principal, now), cookie=cookie)

    async def check_signed_message(
        self, text: str, signature: str, *, client_ip: str, now: datetime
    ) -> VerifiedLogin:
        """Check a signed EIP-4361 message as a sign-in does (domain, chain, age, signature
        incl. contract wallets) and use its nonce, without signing in: the proof of
        identity of a signed-in wallet's requests reuses it. The caller checks that the
        message names its request."""
        message, login, nonce = await self._checked(
            text, signature, client_ip, now, request_proof=True
        )
        if not await self._state.use_nonce(
            nonce.nonce, issued_at=nonce.issued_at, remember_until=nonce.remember_until,
            now=now,
        ):
            self._refused(message, _nonce_unknown())
        return login

    async def _checked(
        self, text: str, signature: str, client_ip: str, now: datetime, *,
        request_proof: bool = False,
    ) -> tuple[SiweMessage, VerifiedLogin, NonceCheck]:
        """The message, its verified signer and its authentic, live nonce (not yet used).

        What anyone can send for free is checked first and counted against nobody: the
        message's fields (domain, scheme, URI, chain, times) and its nonce's own tag and
        expiry (an HMAC, no lookup). A plain-key signature is then final either way. Only
        a signature that is not the plain key's, in a message for us with a live nonce of
        ours, is counted as a failure if it fails, and waits if its client's network has
        used up its failures for the address (see :meth:`RateLimiter.failures_allowed`).
        """
        message = SiweMessage.parse(text)
        if not request_proof:
            try:
                refuse_request_proof(message)
            except RightsError as error:
                self._refused(message, error)
        try:
            # The parsed message, not the text: no second parse (~10 us); it hashes as the
            # text, since parse(text).to_text() == text for every message parse accepts.
            signed = check_signed(message, signature, self._expectations(message), now=now)
        except SiweError as error:
            self._refused(message, error)
        nonce = self._nonces.check(message.nonce, now=now)
        if nonce is None:
            self._refused(message, _nonce_unknown())
        eoa_failure = plain_key_failure(signed)
        if eoa_failure is None:
            return message, plain_key_login(signed), nonce
        await self._limiter.failures_allowed(message.address, client_ip, now=now)
        try:
            login = await acontract_login(signed, eoa_failure, rpc=self._rpc)
        except SiweError as error:
            if error.code != "rpc_unavailable":  # the node's failure, not the wallet's
                await self._limiter.verify_failed(message.address, client_ip, now=now)
            self._refused(message, error)
        return message, login, nonce

    def _refused(self, message: SiweMessage, error: WalletAuthError) -> NoReturn:
        """Log a refused message (by a keyed hash of its address), then raise ``error``."""
        if log.isEnabledFor(logging.INFO):
            log.info("sign-in refused for %s: %s", self.subject_ref(message.address), error.code)
        raise error

    def _expectations(self, message: SiweMessage) -> Expectations:
        """Those of the configured domain the message names (with its pinned scheme), or,
        for a domain not configured, any configured domain (which then fails, listing them)."""
        return self._expected_by_domain.get(message.domain.lower(), self._expected_elsewhere)

    def _session_now(self) -> datetime:
        """The latest time this process has read, for deciding whether a session has
        expired: a session once past its expiry stays ended when the clock is set back
        (a jump back, or a correction after a jump forward) instead of coming back to life.
        Its cost is a session ending early by as much as a jump forward was undone."""
        self._latest_seen = max(self._latest_seen, self._clock())
        return self._latest_seen

    async def refresh(self, cookie: str | None) -> SignedIn:
        """A new access token and a new cookie, whose session replaces the cookie's in its
        family (same expiry); the old cookie no longer works, and if it is ever sent again,
        every session of its family ends (a stolen one has been used, or is about to be)."""
        credential = self._credential(cookie)
        new_cookie, new_credential = self._cookies.issue(credential.address, credential.chain_id)
        rotation = await self._state.rotate_session(
            credential.session_id, new_credential.session_id, credential.address,
            now=self._session_now(),
        )
        if rotation.expires_at is None:
            if rotation.reused:
                self._family_ended(credential.address)
            raise _session_ended()
        principal = Principal(credential.address, credential.chain_id, new_credential.session_id)
        return SignedIn(
            principal=principal, access=self._issue(principal, self._clock()), cookie=new_cookie,
            cookie_expires_at=rotation.expires_at,
        )

    async def logout(self, *, cookie: str | None, token: str | None) -> bool:
        """End the session named by the access token if one is sent, else by the cookie.

        The same precedence as recognising who is signed in (:func:`deps.principal_of`):
        the token is what the caller chose to send, the cookie what a browser sends on its
        own, so a request with both acts for the token's session. True when the cookie sent
        (if any) belonged to the ended session, so that the answer may clear it.

        A session a refresh replaced ends with its whole family: whoever holds the old
        credential asks to sign out, and a successor they do not hold was not theirs to
        keep (a copy of their cookie refreshed it).
        """
        credential = self._cookies.open(cookie) if cookie else None
        if token is not None:
            session_id = self._tokens.read(token, now=self._clock()).session_id
        elif credential is not None:
            session_id = credential.session_id
        else:
            raise ServerError("not_authenticated", "send the session cookie or an access token")
        if not await self._state.end_family_if_rotated(session_id):
            await self._state.revoke_session(session_id)
        return credential is None or credential.session_id == session_id

    async def by_cookie(self, cookie: str | None) -> Principal:
        credential = self._credential(cookie)
        if not await self._state.session_active(credential.session_id,
                                                now=self._session_now()):
            # A rotated cookie sent again ends its family, wherever it is sent.
            if await self._state.end_family_if_rotated(credential.session_id):
                self._family_ended(credential.address)
            raise _session_ended()
        return Principal(credential.address, credential.chain_id, credential.session_id)

    def _credential(self, cookie: str | None) -> SessionCredential:
        if not cookie:
            raise ServerError("not_authenticated", "no session cookie; sign in first")
        credential = self._cookies.open(cookie)
        if credential is None:
            raise _session_ended()
        return credential

    def _family_ended(self, address: str) -> None:
        log.warning(
            "a rotated session cookie of %s was used again: every session of its family ended",
            self.subject_ref(address),
        )

    async def by_token(self, token: str) -> Principal:
        now = self._clock()
        claims = self._tokens.read(token, now=now)
        # A valid signature is not enough: logging out ends the session's tokens here.
        if not await self._state.session_active(claims.session_id, now=self._session_now()):
            raise ServerError("session_revoked", "the session of this token has ended")
        return Principal(claims.address, claims.chain_id, claims.session_id)

    def subject_ref(self, address: str) -> str:
        """A short keyed hash that lets logs correlate one wallet without naming it."""
        digest = hmac.new(self._log_key, address.lower().encode(), hashlib.sha256).hexdigest()
        return f"subject:{digest[:10]}"

    def _issue(self, principal: Principal, now: datetime) -> IssuedToken:
        return self._tokens.issue(
            address=principal.address,
            chain_id=principal.chain_id,
            session_id=principal.session_id,
            now=now,
        )


def _session_ended() -> ServerError:
    return ServerError("session_revoked", "the session has ended; sign in again")


def _nonce_unknown() -> ServerError:
    return ServerError(
        "nonce_unknown",
        "the message's nonce was not issued here, has expired or was already used;"
        " get a new one from GET /auth/nonce",
    )


def _domain_expectations(settings: Settings) -> tuple[dict[str, Expectations], Expectations]:
    """Built once: per configured domain (lower-cased) what a message naming it must meet,
    and what a message naming any other domain is checked against. The first configured
    entry of a domain wins, as the search through the list of domains did.

    A message's scheme is https (or none, which EIP-4361 takes as https), or the domain's
    pinned one, or also http for a loopback domain where plain http is allowed; its URI's
    origin is the domain's own in one of those schemes, or a configured front-end origin.
    """

    def expected(domain: str | list[str], schemes: frozenset[str] | None,
                 origins: set[str] | None) -> Expectations:
        return expectations(
            domain=domain,
            scheme=schemes,
            uri=origins,
            chain_ids=settings.chain_ids,
            max_age=settings.max_message_age,
            clock_skew=settings.clock_skew,
        )

    by_domain: dict[str, Expectations] = {}
    for domain in settings.domains:
        if domain.authority.lower() in by_domain:
            continue
        schemes = settings.sign_in_schemes(domain)
        origins = {f"{scheme}://{domain.authority}" for scheme in schemes}
        origins.update(settings.frontend_origins)
        by_domain[domain.authority.lower()] = expected(domain.authority, schemes, origins)
    elsewhere = expected([domain.authority for domain in settings.domains], None, None)
    return by_domain, elsewhere
