"""The session cookie: a secret refresh credential, separate from the public session id.

Access tokens carry the session id (``sid``) so that any service can ask whether a
session has ended; the cookie must therefore hold something the ``sid`` does not
reveal. The cookie is ``<secret>.<sealed>``: the ``sid`` is a hash of the secret, and
``sealed`` is the wallet address and chain id encrypted (AES-GCM, bound to the ``sid``)
under a server key, so a refresh needs no lookup of the address, the cookie stays
opaque to the browser, and a sealed part moved to another cookie does not open.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from walletauth.encoding import b64url_decode, b64url_encode
from walletauth.siwe.message import to_checksum_address

SECRET_BYTES: Final = 32
NONCE_BYTES: Final = 12
ADDRESS_BYTES: Final = 20
CHAIN_ID_BYTES: Final = 8
MAX_COOKIE_CHARS: Final = 256


def session_id_of(secret: bytes) -> str:
    """The public session id: a hash, so knowing it does not let anyone refresh."""
    return b64url_encode(hashlib.sha256(b"walletauth session\0" + secret).digest())


@dataclass(frozen=True)
class SessionCredential:
    session_id: str
    address: str
    chain_id: int


class SessionCookies:
    """Makes and opens session cookies. The first key seals; all of them open, so
    cookies sealed before a key change keep working."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("at least one cookie key is required")
        self._ciphers = [AESGCM(key) for key in keys]

    def issue(self, address: str, chain_id: int) -> tuple[str, SessionCredential]:
        """A new cookie value for a session of ``address`` on ``chain_id``."""
        secret = secrets.token_bytes(SECRET_BYTES)
        session_id = session_id_of(secret)
        nonce = os.urandom(NONCE_BYTES)
        plain = bytes.fromhex(address[2:]) + chain_id.to_bytes(CHAIN_ID_BYTES, "big")
        sealed = nonce + self._ciphers[0].encrypt(nonce, plain, session_id.encode())
        credential = SessionCredential(session_id, address, chain_id)
        return f"{b64url_encode(secret)}.{b64url_encode(sealed)}", credential

    def open(self, cookie: str) -> SessionCredential | None:
        """The credential in ``cookie``, or ``None`` for anything we did not issue."""
        secret_text, separator, sealed_text = cookie.partition(".")
        if not separator or len(cookie) > MAX_COOKIE_CHARS:
            return None
        try:
            secret, sealed = b64url_decode(secret_text), b64url_decode(sealed_text)
        except ValueError:
            return None
        if len(secret) != SECRET_BYTES or len(sealed) <= NONCE_BYTES:
            return None
        session_id = session_id_of(secret)
        plain = self._unseal(sealed, session_id)
        if plain is None or len(plain) != ADDRESS_BYTES + CHAIN_ID_BYTES:
            return None
        address = _checksummed(plain[:ADDRESS_BYTES])
        return SessionCredential(session_id, address, int.from_bytes(plain[ADDRESS_BYTES:], "big"))

    def _unseal(self, sealed: bytes, session_id: str) -> bytes | None:
        nonce, ciphertext = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
        for cipher in self._ciphers:
            try:
                return cipher.decrypt(nonce, ciphertext, session_id.encode())
            except InvalidTag:
                continue
        return None


def _checksummed(raw: bytes) -> str:
    return to_checksum_address("0x" + raw.hex())
