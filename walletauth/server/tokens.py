"""Access tokens: short-lived ES256 JWTs naming the wallet and the session they belong to.

Claims: ``iss``, ``aud``, ``sub`` (EIP-55 address), ``chain_id``, ``sid`` (the session
id, so that logging out ends its tokens on this service), ``iat``, ``exp``, ``jti``.
Anyone can check them offline against ``/.well-known/jwks.json``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from walletauth.server.errors import ServerError
from walletauth.server.keys import ALGORITHM, KeyRing

REQUIRED_CLAIMS = ("iss", "aud", "sub", "chain_id", "sid", "iat", "exp", "jti")


@dataclass(frozen=True)
class AccessClaims:
    address: str
    chain_id: int
    session_id: str
    issued_at: datetime
    expires_at: datetime
    token_id: str


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int
    claims: AccessClaims


class TokenIssuer:
    def __init__(self, keyring: KeyRing, *, issuer: str, audience: str, leeway: timedelta) -> None:
        self._keyring = keyring
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway

    @property
    def ttl(self) -> timedelta:
        return self._keyring.token_ttl

    def issue(self, *, address: str, chain_id: int, session_id: str, now: datetime) -> IssuedToken:
        issued_at = int(now.timestamp())
        expires_in = int(self.ttl.total_seconds())
        claims = AccessClaims(
            address=address,
            chain_id=chain_id,
            session_id=session_id,
            issued_at=datetime.fromtimestamp(issued_at, UTC),
            expires_at=datetime.fromtimestamp(issued_at + expires_in, UTC),
            token_id=secrets.token_urlsafe(16),
        )
        key = self._keyring.signing_key()
        payload = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": address,
            "chain_id": chain_id,
            "sid": session_id,
            "iat": issued_at,
            "exp": issued_at + expires_in,
            "jti": claims.token_id,
        }
        token = jwt.encode(payload, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})
        return IssuedToken(token=token, expires_in=expires_in, claims=claims)

    def read(self, token: str, *, now: datetime) -> AccessClaims:
        """The claims of a token this service signed and that is valid at ``now``."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            raise ServerError("invalid_token", "the access token is not a JWT") from None
        key = self._keyring.find(kid) if isinstance(kid, str) else None
        if key is None:
            raise ServerError("invalid_token", "the access token was not signed by a known key")
        try:
            # Time is checked below against ``now`` so that tests can move the clock.
            payload = jwt.decode(
                token,
                key.public_key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as error:
            raise ServerError("invalid_token", f"the access token is invalid: {error}") from None
        return self._claims_at(payload, now)

    def _claims_at(self, payload: dict[str, object], now: datetime) -> AccessClaims:
        try:
            claims = AccessClaims(
                address=str(payload["sub"]),
                chain_id=int(payload["chain_id"]),  # type: ignore[call-overload]
                session_id=str(payload["sid"]),
                issued_at=datetime.fromtimestamp(int(payload["iat"]), UTC),  # type: ignore[call-overload]
                expires_at=datetime.fromtimestamp(int(payload["exp"]), UTC),  # type: ignore[call-overload]
                token_id=str(payload["jti"]),
            )
        except (TypeError, ValueError, OverflowError, OSError):
            raise ServerError("invalid_token", "the access token's claims are malformed") from None
        if now >= claims.expires_at + self._leeway:
            raise ServerError("invalid_token", "the access token has expired")
        if claims.issued_at > now + self._leeway:
            raise ServerError("invalid_token", "the access token was issued in the future")
        return claims
