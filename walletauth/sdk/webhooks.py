"""Signing and verifying notices with Standard Webhooks (symmetric, ``v1``).

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}``, the signature an
HMAC-SHA256 under the endpoint's secret (``whsec_`` + base64 of 24 to 64 random bytes),
sent as ``v1,<base64>``. Several space-separated signatures allow rotating a secret
without downtime: the sender signs with the old and the new secret, the receiver
accepts either.

We implement the few lines of the spec rather than depend on the ``standardwebhooks``
package (1.1.0): it raises bare ``ValueError``/``binascii.Error`` on malformed
signature headers and ``UnicodeDecodeError`` on non-UTF-8 bodies, reads the wall clock
itself (no ``now`` to test with), fixes the tolerance at five minutes, takes a single
secret, and reports every failure as one exception type.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from walletauth.sdk.errors import SdkError
from walletauth.sdk.notices import NOTICE_ID_PATTERN, Notice, notice_body, notice_from_body
from walletauth.sdk.replay import ReplayGuard

SECRET_PREFIX: Final = "whsec_"
SECRET_BYTES: Final = range(24, 65)
SIGNATURE_VERSION: Final = "v1"
DEFAULT_TOLERANCE: Final = 300
"""Seconds a notice's timestamp may differ from the receiver's clock, either way."""

MAX_TOLERANCE: Final = 86_400

_ID = re.compile(NOTICE_ID_PATTERN)
_TIMESTAMP = re.compile(r"^[0-9]{1,11}$")  # up to year 5138: a datetime can hold it
_MAX_SIGNATURES = 8


def new_webhook_secret() -> str:
    """A fresh endpoint secret in the Standard Webhooks form."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key a ``whsec_...`` secret stands for."""
    encoded = secret.removeprefix(SECRET_PREFIX) if isinstance(secret, str) else ""
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) not in SECRET_BYTES:
        raise SdkError(
            "webhook_secret_invalid",
            f"a webhook secret is '{SECRET_PREFIX}' + base64 of 24 to 64 random bytes",
        )
    return key


def sign_notice(
    notice: Notice, secret: str | Sequence[str], *, now: datetime
) -> tuple[bytes, dict[str, str]]:
    """The body and headers to POST ``notice`` with, signed with each secret given."""
    timestamp = int(_aware(now).timestamp())
    body = notice_body(notice)
    signatures = " ".join(
        f"{SIGNATURE_VERSION},{base64.b64encode(_mac(key, notice.id, timestamp, body)).decode()}"
        for key in _keys(secret)
    )
    headers = {
        "content-type": "application/json",
        "webhook-id": notice.id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signatures,
    }
    return body, headers


def verify_notice(
    body: bytes,
    headers: Mapping[str, str],
    secret: str | Sequence[str],
    *,
    seen: ReplayGuard | None,
    now: datetime | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> Notice:
    """The notice a signed request carries, once signature, freshness and novelty hold.

    ``headers`` may use any letter case. ``secret`` may list several secrets while one
    is being rotated. ``seen`` refuses a webhook-id accepted before (see
    :mod:`walletauth.sdk.replay` for releasing it when handling fails). It has no
    default on purpose: without a guard a captured notice replays within ``tolerance``
    (an old ``subject.unrestricted`` undoing a newer restriction), so ``seen=None`` must
    be a decision, not an omission. Every refusal
    is an :class:`SdkError`: ``notice_malformed``, ``notice_signature_invalid``,
    ``notice_stale``, ``notice_replayed`` (or ``webhook_secret_invalid`` for a bad
    configured secret, ``replay_guard_unavailable`` when the guard's store is down).
    """
    if not math.isfinite(tolerance) or not 0 <= tolerance <= MAX_TOLERANCE:
        raise ValueError(f"tolerance must be 0 to {MAX_TOLERANCE} seconds, not {tolerance}")
    keys = _keys(secret)
    now = _aware(now) if now is not None else datetime.now(UTC)
    if not isinstance(body, bytes):
        raise SdkError("notice_malformed", "the body must be the raw request bytes")
    signed = _signed_headers(headers)
    _check_signature(keys, signed, body)
    _check_fresh(signed.timestamp, now, tolerance)
    notice = notice_from_body(body)
    if notice.id != signed.webhook_id:
        raise SdkError("notice_malformed", "webhook-id and the notice id differ")
    # Remember the id past the last instant the same message would still pass as fresh.
    until = max(signed.sent_at, now) + timedelta(seconds=tolerance + 1)
    if seen is not None and not seen.claim(notice.id, now=now, until=until):
        raise SdkError("notice_replayed", f"notice {notice.id} was already accepted")
    return notice


@dataclass(frozen=True, slots=True)
class _SignedHeaders:
    webhook_id: str
    timestamp: int
    signatures: tuple[bytes, ...]
    """The decoded ``v1`` signatures; other versions (e.g. asymmetric ``v1a``) are skipped."""

    @property
    def sent_at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp, UTC)


def _signed_headers(headers: Mapping[str, str]) -> _SignedHeaders:
    if not isinstance(headers, Mapping):
        raise SdkError("notice_malformed", "headers must be a mapping of names to values")
    wanted = {"webhook-id": "", "webhook-timestamp": "", "webhook-signature": ""}
    for name, value in headers.items():
        if isinstance(name, str) and name.lower() in wanted:
            if not isinstance(value, str):
                raise SdkError("notice_malformed", f"header {name} is not text")
            wanted[name.lower()] = value.strip()
    missing = [name for name, value in wanted.items() if not value]
    if missing:
        raise SdkError("notice_malformed", f"missing header(s): {', '.join(missing)}")
    if not _ID.fullmatch(wanted["webhook-id"]):
        raise SdkError("notice_malformed", "webhook-id is not a notice id")
    if not _TIMESTAMP.fullmatch(wanted["webhook-timestamp"]):
        raise SdkError("notice_malformed", "webhook-timestamp is not integer unix seconds")
    return _SignedHeaders(
        webhook_id=wanted["webhook-id"],
        timestamp=int(wanted["webhook-timestamp"]),
        signatures=_v1_signatures(wanted["webhook-signature"]),
    )


def _v1_signatures(header: str) -> tuple[bytes, ...]:
    entries = header.split()
    if len(entries) > _MAX_SIGNATURES:
        raise SdkError("notice_malformed", f"more than {_MAX_SIGNATURES} signatures")
    signatures = []
    for entry in entries:
        version, comma, encoded = entry.partition(",")
        if not comma or not version or not encoded:
            raise SdkError("notice_malformed", "webhook-signature entries are 'version,base64'")
        if version != SIGNATURE_VERSION:
            continue
        try:
            signatures.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            raise SdkError("notice_malformed", "a v1 signature is not base64") from None
    return tuple(signatures)


def _check_signature(keys: Sequence[bytes], signed: _SignedHeaders, body: bytes) -> None:
    for key in keys:
        expected = _mac(key, signed.webhook_id, signed.timestamp, body)
        # compare_digest: constant time, so the receiver is no signing oracle.
        if any(hmac.compare_digest(expected, given) for given in signed.signatures):
            return
    raise SdkError("notice_signature_invalid", "no v1 signature matches a configured secret")


def _check_fresh(timestamp: int, now: datetime, tolerance: float) -> None:
    skew = timestamp - now.timestamp()
    if skew < -tolerance:
        raise SdkError("notice_stale", f"the notice was sent {-skew:.0f} s ago")
    if skew > tolerance:
        raise SdkError("notice_stale", f"the notice is dated {skew:.0f} s in the future")


def _mac(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> bytes:
    return hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()


def _keys(secret: str | Sequence[str]) -> list[bytes]:
    given = [secret] if isinstance(secret, str) else list(secret)
    if not given:
        raise SdkError("webhook_secret_invalid", "no webhook secret was configured")
    return [secret_key(one) for one in given]


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return moment
