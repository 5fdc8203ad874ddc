"""Sealed codes and tokens, and the pairwise subject identifier.

Codes, access and refresh tokens are stateless: their claims, encrypted and authenticated
(AES-GCM) under a key derived from the server's secrets, so nobody but walletauth can read
or make one, and a client learns nothing from them (the address stays inside). What must
be remembered lives in the short-lived state the sign-in already keeps: the session a
code and its tokens belong to (rotated once by the code's use, then by each refresh;
ended by sign-out, reuse or erasure). Each kind is sealed with its own associated data,
so a code never opens as a token nor a token as a code. The newest secrets version seals;
every version opens, so a rotation of the secrets voids nothing in flight.

``sub`` (OIDC Core 8.1) is an HMAC of the address under a secret of its own, kept in the
data dir: the secrets' versions rotate, and a ``sub`` must never change for one user at
one client.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from walletauth.encoding import b64url_decode, b64url_encode

NONCE_BYTES: Final = 12
MAX_SEALED_CHARS: Final = 8192
PAIRWISE_FILE: Final = "oidc-pairwise.key"
KEY_BYTES: Final = 32


def derive(key: bytes, label: bytes) -> bytes:
    """A key for one use only, from a server secret."""
    return hmac.new(key, b"walletauth.oidc:" + label, hashlib.sha256).digest()


class Sealer:
    """Seals and opens claims; the first key seals, all of them open."""

    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ValueError("at least one sealing key is required")
        self._ciphers = [AESGCM(key) for key in keys]

    def seal(self, kind: str, claims: dict[str, Any]) -> str:
        nonce = os.urandom(NONCE_BYTES)
        plain = json.dumps(claims, separators=(",", ":")).encode("utf-8")
        return b64url_encode(nonce + self._ciphers[0].encrypt(nonce, plain, kind.encode("ascii")))

    def open(self, kind: str, text: object) -> dict[str, Any] | None:
        """The claims sealed as ``kind``, or ``None`` for anything else (never raises)."""
        if not isinstance(text, str) or len(text) > MAX_SEALED_CHARS:
            return None
        try:
            sealed = b64url_decode(text)
        except ValueError:
            return None
        if len(sealed) <= NONCE_BYTES:
            return None
        nonce, ciphertext = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
        for cipher in self._ciphers:
            try:
                plain = cipher.decrypt(nonce, ciphertext, kind.encode("ascii"))
            except InvalidTag:
                continue
            claims = json.loads(plain)
            return claims if isinstance(claims, dict) else None
        return None


class PairwiseSubjects:
    """``sub`` = HMAC(secret, sector, address): one per client sector, unlinkable across."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    @classmethod
    def load_or_create(cls, directory: Path) -> PairwiseSubjects:
        return cls(_load_or_create_secret(directory / PAIRWISE_FILE))

    def subject(self, sector: str, address: str) -> str:
        message = sector.encode("utf-8") + b"\0" + address.lower().encode("ascii")
        return b64url_encode(hmac.new(self._secret, message, hashlib.sha256).digest())


def _load_or_create_secret(path: Path) -> bytes:
    """Read the secret, creating it once (linked into place, so two workers starting at
    once end up with the same one, and a half-written file is never read)."""
    if not path.exists():
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)))
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PermissionError(f"{path} is readable by others (mode {stat.S_IMODE(mode):o});"
                              " chmod 600 it")
    secret = base64.b64decode(path.read_bytes(), validate=True)
    if len(secret) != KEY_BYTES:
        raise ValueError(f"{path} does not hold a {KEY_BYTES}-byte key")
    return secret
