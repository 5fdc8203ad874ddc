"""Reading a walletauth access token: header, signature, claims, times.

Pure: the caller supplies the verification key and the current time, so the rules can
be checked without a network or a clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import jwt
from eth_utils import is_checksum_address

from walletauth.sdk.errors import SdkError
from walletauth.sdk.jwks import ALGORITHM
from walletauth.sdk.session import WalletSession

MAX_TOKEN_LENGTH: Final = 8192
"""Longer strings are refused before any parsing; real tokens are well under 1 KiB."""

REQUIRED_CLAIMS: Final = ("iss", "aud", "sub", "exp", "iat", "jti", "sid", "chain_id")


@dataclass(frozen=True, slots=True)
class TokenRules:
    """What a token must say to be accepted by one service."""

    issuer: str
    audience: str
    leeway: float
    """Seconds of clock skew tolerated on ``exp``, ``iat`` and ``nbf``."""


def presented_token(token: object) -> str:
    """``token`` if one was presented at all."""
    if not isinstance(token, str) or not token:
        raise SdkError("token_missing", "no access token was presented")
    return token


def signing_kid(token: str) -> str:
    """The ``kid`` of a token whose header asks for ES256; anything else is refused.

    The algorithm is checked here, before any key is looked up, so ``none`` and
    HMAC key-confusion tokens never reach a verification routine.
    """
    if len(token) > MAX_TOKEN_LENGTH:
        raise SdkError("token_invalid", f"the token is longer than {MAX_TOKEN_LENGTH} characters")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise SdkError("token_invalid", f"the token is not a JWS: {error}") from None
    algorithm = header.get("alg")
    if algorithm != ALGORITHM:
        raise SdkError(
            "token_invalid", f"algorithm {algorithm!r} is refused; walletauth tokens are ES256"
        )
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise SdkError("token_invalid", "the token header names no key (kid)")
    return kid


def decode_session(token: str, key: jwt.PyJWK, rules: TokenRules, now: float) -> WalletSession:
    """Verify signature and claims of ``token`` with ``key`` at time ``now`` (epoch s)."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=rules.audience,
            issuer=rules.issuer,
            # Times are checked below against the caller's clock, not PyJWT's.
            options={
                "require": list(REQUIRED_CLAIMS),
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidAudienceError:
        raise SdkError(
            "token_audience_mismatch", f"the token was not issued for audience {rules.audience!r}"
        ) from None
    except jwt.InvalidIssuerError:
        raise SdkError(
            "token_issuer_mismatch", f"the token was not issued by {rules.issuer!r}"
        ) from None
    except jwt.PyJWTError as error:
        raise SdkError("token_invalid", f"the token did not verify: {error}") from None
    expires_at = _check_times(claims, rules.leeway, now)
    return _session(claims, expires_at)


def _check_times(claims: Mapping[str, Any], leeway: float, now: float) -> float:
    expires_at = _numeric_date(claims, "exp")
    if now >= expires_at + leeway:
        raise SdkError("token_expired", f"the token expired at {_iso(expires_at)}")
    for name in ("iat", "nbf"):
        if name in claims and _numeric_date(claims, name) > now + leeway:
            raise SdkError(
                "token_not_yet_valid",
                f"the token's {name} {_iso(_numeric_date(claims, name))} is in the future",
            )
    return expires_at


def _numeric_date(claims: Mapping[str, Any], name: str) -> float:
    value = claims[name]
    # JSON numbers only; bool is an int in Python and NaN would compare false to anything.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SdkError("token_invalid", f"claim {name!r} is not a NumericDate")
    if not 0 <= value < 253402300800:  # up to 9999-12-31, what datetime can represent
        raise SdkError("token_invalid", f"claim {name!r} is out of range")
    return float(value)


def _session(claims: Mapping[str, Any], expires_at: float) -> WalletSession:
    address, chain_id = claims["sub"], claims["chain_id"]
    session_id, token_id = claims["sid"], claims["jti"]
    if not isinstance(address, str) or not is_checksum_address(address):
        raise SdkError("token_invalid", "claim 'sub' is not an EIP-55 checksummed address")
    if isinstance(chain_id, bool) or not isinstance(chain_id, int) or chain_id <= 0:
        raise SdkError("token_invalid", "claim 'chain_id' is not a positive integer")
    for name, value in (("sid", session_id), ("jti", token_id)):
        if not isinstance(value, str) or not value:
            raise SdkError("token_invalid", f"claim {name!r} is not a non-empty string")
    return WalletSession(
        address=address,
        chain_id=chain_id,
        session_id=session_id,
        expires_at=datetime.fromtimestamp(expires_at, UTC),
        token_id=token_id,
    )


def _iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat()
