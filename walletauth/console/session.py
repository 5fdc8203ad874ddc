"""The operator's session: a cookie of its own (``walletauth_console``, path ``/console``,
``SameSite=Strict``, HttpOnly), sealed with AES-GCM under the console's key, holding the
operator's wallet, its expiry (``WALLETAUTH_CONSOLE_SESSION_TTL``, 15 minutes by default)
and a random session secret from which the CSRF token of its forms is derived.

It is stateless: signing out clears it, and a wallet taken off ``WALLETAUTH_OPERATORS``
is refused at its next request, whatever its cookie says (checked on every request).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from walletauth.encoding import b64url_decode, b64url_encode
from walletauth.siwe.message import to_checksum_address

CONSOLE_COOKIE: Final = "walletauth_console"
COOKIE_PATH: Final = "/console"
_NONCE: Final = 12
_SECRET: Final = 16
_ADDRESS: Final = 20
_EXPIRY: Final = 8
_PLAIN: Final = _ADDRESS + _EXPIRY + _SECRET
MAX_COOKIE_CHARS: Final = 200


@dataclass(frozen=True)
class OperatorSession:
    address: str
    expires_at: datetime
    secret: bytes


def _subkey(key: bytes, label: bytes) -> bytes:
    return hmac.new(key, b"walletauth.console:" + label, hashlib.sha256).digest()


class ConsoleSessions:
    def __init__(self, key: bytes) -> None:
        self._cipher = AESGCM(_subkey(key, b"cookie"))
        self._csrf_key = _subkey(key, b"csrf")
        self._operator_key = _subkey(key, b"operator-ref")

    def issue(self, address: str, expires_at: datetime) -> str:
        plain = (bytes.fromhex(address[2:]) + int(expires_at.timestamp()).to_bytes(_EXPIRY, "big")
                 + os.urandom(_SECRET))
        nonce = os.urandom(_NONCE)
        return b64url_encode(nonce + self._cipher.encrypt(nonce, plain, CONSOLE_COOKIE.encode()))

    def open(self, cookie: str | None, *, now: datetime) -> OperatorSession | None:
        """The live session in ``cookie``; None for anything not ours or past its expiry."""
        if not cookie or len(cookie) > MAX_COOKIE_CHARS:
            return None
        try:
            sealed = b64url_decode(cookie)
            plain = self._cipher.decrypt(sealed[:_NONCE], sealed[_NONCE:],
                                         CONSOLE_COOKIE.encode())
        except (ValueError, InvalidTag):
            return None
        if len(plain) != _PLAIN:
            return None
        expires_at = datetime.fromtimestamp(
            int.from_bytes(plain[_ADDRESS:_ADDRESS + _EXPIRY], "big"), UTC)
        if expires_at <= now:
            return None
        address = to_checksum_address("0x" + plain[:_ADDRESS].hex())
        return OperatorSession(address, expires_at, plain[_ADDRESS + _EXPIRY:])

    def csrf_token(self, session: OperatorSession) -> str:
        return b64url_encode(hmac.new(self._csrf_key, session.secret, hashlib.sha256).digest())

    def csrf_ok(self, session: OperatorSession, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token, self.csrf_token(session))

    def operator_ref(self, address: str) -> str:
        """How the audit log names an operator: a keyed hash (the log refuses addresses);
        the console maps it back for the wallets it knows."""
        digest = hmac.new(self._operator_key, address.lower().encode(), hashlib.sha256)
        return "opr_" + digest.hexdigest()[:16]
