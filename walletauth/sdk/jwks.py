"""The JWKS document and the cache of signing keys built from it.

Everything here is free of I/O: the verifiers fetch, this module decides *when* to
fetch and which published keys may be used. The rules, after PyJWT's ``PyJWKClient``
and the lessons of its issue tracker:

* the whole key set is cached for ``ttl`` seconds, then fetched again;
* a token naming an unknown ``kid`` while the cache is fresh forces one refetch, so a
  rotated key is picked up at once; the next forced refetch waits ``refetch_cooldown``
  seconds (timed from the last *forced* refetch, not from ordinary fills, so a key
  rotated right after start-up is not held back), so a flood of tokens with invented
  kids costs the issuer at most one request per cooldown;
* a failed fetch never wipes the cache: the last good keys serve for up to
  ``stale_if_error`` seconds past their ttl (an outage of the issuer should not become
  an outage of every service), and a failed fetch is not retried for
  ``refetch_cooldown`` seconds, so an issuer that is down is not hammered either.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

from jwt import PyJWK
from jwt.exceptions import PyJWKError

ALGORITHM = "ES256"
"""The only signature algorithm walletauth access tokens use, and the only one accepted."""

FetchReason = Literal["fill", "unknown_kid"]


def parse_jwks(document: object) -> dict[str, PyJWK]:
    """The usable ES256 verification keys of a JWKS document, by ``kid``.

    Keys the SDK cannot use (another algorithm or curve, no ``kid``, encryption keys,
    entries carrying private material) are skipped rather than failing the whole set,
    so the issuer can publish keys for other consumers beside ours. A document that is
    not a JWKS at all raises :class:`ValueError`: the caller keeps its last good keys.
    """
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise ValueError("the document is not a JWKS (a JSON object with a 'keys' list)")
    keys: dict[str, PyJWK] = {}
    for entry in document["keys"]:
        key = _verification_key(entry)
        if key is not None:
            keys[entry["kid"]] = key
    return keys


def _verification_key(entry: object) -> PyJWK | None:
    if not isinstance(entry, Mapping):
        return None
    usable = (
        isinstance(entry.get("kid"), str)
        and entry.get("kty") == "EC"
        and entry.get("crv") == "P-256"
        and entry.get("alg", ALGORITHM) == ALGORITHM
        and entry.get("use", "sig") == "sig"
        # A published private key is a leak on the issuer's side; never verify with it.
        and "d" not in entry
    )
    if not usable:
        return None
    try:
        return PyJWK(dict(entry), algorithm=ALGORITHM)
    except (PyJWKError, ValueError, TypeError):
        return None


class KeyCache:
    """The cached key set and the bookkeeping that decides when to fetch it again."""

    def __init__(self, *, ttl: float, refetch_cooldown: float, stale_if_error: float) -> None:
        for name, value in (
            ("ttl", ttl),
            ("refetch_cooldown", refetch_cooldown),
            ("stale_if_error", stale_if_error),
        ):
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number of seconds >= 0, not {value}")
        if ttl == 0:
            raise ValueError("ttl must be > 0: a key set that is never fresh is fetched per token")
        self._ttl = ttl
        self._cooldown = refetch_cooldown
        self._stale_if_error = stale_if_error
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None
        self._last_forced_fetch = -math.inf
        self._last_failure = -math.inf

    def fetch_reason(self, kid: str, now: float) -> FetchReason | None:
        """Why the key set should be fetched before looking ``kid`` up, if it should."""
        if self._fetched_at is None or now >= self._fetched_at + self._ttl:
            return "fill" if now >= self._last_failure + self._cooldown else None
        if kid not in self._keys and now >= self._last_forced_fetch + self._cooldown:
            return "unknown_kid"
        return None

    def fetch_started(self, reason: FetchReason, now: float) -> None:
        if reason == "unknown_kid":
            self._last_forced_fetch = now

    def fetch_succeeded(self, keys: dict[str, PyJWK], now: float) -> None:
        self._keys = keys
        self._fetched_at = now

    def fetch_failed(self, now: float) -> None:
        self._last_failure = now

    def usable(self, now: float) -> bool:
        """Whether the cached keys may still be trusted (fresh, or stale within grace)."""
        return (
            self._fetched_at is not None
            and now < self._fetched_at + self._ttl + self._stale_if_error
        )

    def key(self, kid: str) -> PyJWK | None:
        return self._keys.get(kid)
