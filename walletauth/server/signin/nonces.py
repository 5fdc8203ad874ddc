"""Stateless sign-in nonces: issuing one touches no storage.

A nonce is ``base62(version | expiry | random | tag)``: the secrets version whose key
made it (so a rotation does not void nonces in flight), its expiry in Unix seconds, 96
random bits, and an HMAC-SHA256 tag (128 bits) over the rest. Only this service can
make one, and it says itself until when it is good. Being used once is the state: a
verify records the nonce as used, atomically, in the same transaction as the sign-in
(SQL) or with ``SET NX`` (Redis), and that record outlives the nonce.
"""

from __future__ import annotations

import hmac
import math
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

ALPHABET: Final = string.digits + string.ascii_letters
RANDOM_BYTES: Final = 12
TAG_BYTES: Final = 16
_VERSION_BYTES: Final = 2
_EXPIRY_BYTES: Final = 4
_PAYLOAD_BYTES: Final = _VERSION_BYTES + _EXPIRY_BYTES + RANDOM_BYTES
_RAW_BYTES: Final = _PAYLOAD_BYTES + TAG_BYTES
LENGTH: Final = 46
"""Characters of a nonce: 34 bytes in base62 (62**46 > 256**34)."""
_DOMAIN: Final = b"walletauth sign-in nonce\0"
# Base62 two digits at a time: half the Python-level steps of a digit-by-digit loop.
_PAIRS: Final = tuple(high + low for high in ALPHABET for low in ALPHABET)
_PAIR_BASE: Final = len(ALPHABET) ** 2
_PAIR_COUNT: Final = LENGTH // 2  # LENGTH is even, so pairs cover it exactly
# Byte of a digit character -> its value; bytes.translate maps a whole nonce in C.
_DIGIT_VALUES: Final = bytes(
    ALPHABET.index(chr(byte)) if chr(byte) in ALPHABET else 0 for byte in range(256)
)

USED_NONCE_GRACE: Final = timedelta(minutes=15)
"""How long a used nonce stays recorded past its expiry: a worker whose clock runs up
to this much behind still finds it used, and a purge run while the clock had jumped up
to ten minutes forward (beyond the 5 minutes of skew allowed) keeps it, so the signed
message cannot sign in again once the clock is set back (tests/faults/test_clock_jumps)."""


@dataclass(frozen=True)
class NonceCheck:
    """An authentic, live nonce, when it was issued (to the second, read back from its
    expiry and the minter's lifetime) and until when its use must be remembered."""

    nonce: str
    expires_at: datetime
    issued_at: datetime

    @property
    def remember_until(self) -> datetime:
        return self.expires_at + USED_NONCE_GRACE


class NonceMinter:
    """Makes nonces under the newest key and checks them under any key still held."""

    def __init__(
        self, keys: Mapping[int, bytes], *, ttl: timedelta, not_before: datetime | None = None
    ) -> None:
        """``not_before``: the epoch of Redis's memory of used nonces. A nonce is dated no
        earlier, so that a clock set back soon after the epoch began (an NTP step after
        boot, a worker whose clock runs behind the one that began it) does not make every
        new nonce look older than that memory, and refused, until the clock catches up.
        Safe: a nonce dated at the epoch is new, and its use is remembered from then on."""
        if not keys:
            raise ValueError("at least one nonce key is required")
        if any(not 0 < version < 2 ** (8 * _VERSION_BYTES) for version in keys):
            raise ValueError("nonce key versions are 1 to 65535")
        # One HMAC per key, already fed the domain prefix; each tag continues a copy of it,
        # which skips OpenSSL's per-call digest lookup and key setup (~0.5 us per tag).
        self._macs = {version: hmac.new(key, _DOMAIN, "sha256") for version, key in keys.items()}
        self._current = max(self._macs)
        self._ttl_seconds = max(1, int(ttl.total_seconds()))
        self._not_before = 0 if not_before is None else math.ceil(not_before.timestamp())

    def issue(self, *, now: datetime) -> str:
        expiry = max(int(now.timestamp()), self._not_before) + self._ttl_seconds
        payload = (
            self._current.to_bytes(_VERSION_BYTES, "big")
            + expiry.to_bytes(_EXPIRY_BYTES, "big")
            + secrets.token_bytes(RANDOM_BYTES)
        )
        return _base62(payload + _tag(self._macs[self._current], payload))

    def check(self, nonce: str, *, now: datetime) -> NonceCheck | None:
        """The nonce's expiry if this service made it and it has not expired, else None."""
        raw = _from_base62(nonce)
        if raw is None:
            return None
        payload, tag = raw[:_PAYLOAD_BYTES], raw[_PAYLOAD_BYTES:]
        mac = self._macs.get(int.from_bytes(payload[:_VERSION_BYTES], "big"))
        if mac is None or not hmac.compare_digest(tag, _tag(mac, payload)):
            return None
        expiry = int.from_bytes(payload[_VERSION_BYTES:_PAYLOAD_BYTES - RANDOM_BYTES], "big")
        if now.timestamp() >= expiry:
            return None
        return NonceCheck(
            nonce,
            datetime.fromtimestamp(expiry, UTC),
            datetime.fromtimestamp(expiry - self._ttl_seconds, UTC),
        )


def _tag(keyed_mac: hmac.HMAC, payload: bytes) -> bytes:
    """HMAC-SHA256(key, domain | payload), truncated; ``keyed_mac`` has the domain already."""
    mac = keyed_mac.copy()
    mac.update(payload)
    return mac.digest()[:TAG_BYTES]


def _base62(raw: bytes) -> str:
    """``raw`` as exactly ``LENGTH`` base62 digits, most significant first."""
    number = int.from_bytes(raw, "big")
    pairs = [""] * _PAIR_COUNT
    for position in range(_PAIR_COUNT - 1, -1, -1):
        number, pair = divmod(number, _PAIR_BASE)
        pairs[position] = _PAIRS[pair]
    return "".join(pairs)


def _from_base62(text: object) -> bytes | None:
    # ASCII letters and digits are exactly ALPHABET, so this is the alphabet check.
    if not isinstance(text, str) or len(text) != LENGTH or not (text.isascii() and text.isalnum()):
        return None
    number = 0
    for digit in text.encode("ascii").translate(_DIGIT_VALUES):
        number = number * 62 + digit
    if number >= 1 << (8 * _RAW_BYTES):
        return None
    return number.to_bytes(_RAW_BYTES, "big")
