"""Access tokens: short-lived ES256 JWTs naming the wallet and the session they belong to.

Claims: ``iss``, ``aud``, ``sub`` (EIP-55 address), ``chain_id``, ``sid`` (the session
id, so that logging out ends its tokens on this service), ``iat``, ``exp``, ``jti``.
Anyone can check them offline against ``/.well-known/jwks.json``.

Issuing signs with ``cryptography`` directly: the header segment is fixed per key and
made once, the claims are compact JSON, and the DER signature becomes the JWS ``r || s``.
The bytes are what ``jwt.encode`` writes (header keys sorted, claims in order); reading
stays on PyJWT, the reviewed library, as does every verifier of our tokens.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from walletauth.encoding import b64url_encode
from walletauth.server.config.keys import ALGORITHM, KeyRing, SigningKey
from walletauth.server.web.errors import ServerError

REQUIRED_CLAIMS = ("iss", "aud", "sub", "chain_id", "sid", "iat", "exp", "jti")
TOKEN_TYPE: Final = "JWT"

_COMPACT_JSON: Final = json.JSONEncoder(separators=(",", ":"))
"""The encoder ``jwt.encode`` uses for claims: no spaces, ASCII only, keys in order."""
_ES256: Final = ec.ECDSA(hashes.SHA256())
_P256_SCALAR_BYTES: Final = 32
EcKeyRing = KeyRing[ec.EllipticCurvePrivateKey]
EcSigningKey = SigningKey[ec.EllipticCurvePrivateKey]


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
    def __init__(
        self, keyring: EcKeyRing, *, issuer: str, audience: str, leeway: timedelta
    ) -> None:
        self._keyring = keyring
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway
        self._header_segments: dict[str, str] = {}
        """kid -> the encoded header; one per key, so a rotation adds one entry."""

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
        token = self._signed(self._keyring.signing_key(), payload)
        return IssuedToken(token=token, expires_in=expires_in, claims=claims)

    def _signed(self, key: EcSigningKey, payload: dict[str, object]) -> str:
        """The compact JWS of ``payload`` under ``key``: header.claims.signature."""
        header = self._header_segments.get(key.kid)
        if header is None:
            header = self._header_segments[key.kid] = _header_segment(key)
        signing_input = f"{header}.{b64url_encode(_COMPACT_JSON.encode(payload).encode('ascii'))}"
        r, s = decode_dss_signature(key.private_key.sign(signing_input.encode("ascii"), _ES256))
        signature = r.to_bytes(_P256_SCALAR_BYTES, "big") + s.to_bytes(_P256_SCALAR_BYTES, "big")
        return f"{signing_input}.{b64url_encode(signature)}"

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
                chain_id=_integer(payload["chain_id"]),
                session_id=str(payload["sid"]),
                issued_at=datetime.fromtimestamp(_integer(payload["iat"]), UTC),
                expires_at=datetime.fromtimestamp(_integer(payload["exp"]), UTC),
                token_id=str(payload["jti"]),
            )
        except (TypeError, ValueError, OverflowError, OSError):
            raise ServerError("invalid_token", "the access token's claims are malformed") from None
        if now >= claims.expires_at + self._leeway:
            raise ServerError("invalid_token", "the access token has expired")
        if claims.issued_at > now + self._leeway:
            raise ServerError("invalid_token", "the access token was issued in the future")
        return claims


def _header_segment(key: EcSigningKey) -> str:
    """The header ``jwt.encode`` would write for ``key``: alg, kid, typ, keys sorted."""
    if not isinstance(key.private_key.curve, ec.SECP256R1):
        raise ValueError(f"key {key.kid!r} is not a P-256 key; ES256 needs one")
    header = {"alg": ALGORITHM, "kid": key.kid, "typ": TOKEN_TYPE}
    return b64url_encode(json.dumps(header, separators=(",", ":"), sort_keys=True).encode("ascii"))


def _integer(claim: object) -> int:
    """A numeric claim as int (what ``int()`` takes; anything else a TypeError, which the
    caller answers as an invalid token)."""
    if not isinstance(claim, int | float | str):
        raise TypeError(f"not a number: {type(claim).__name__}")
    return int(claim)
