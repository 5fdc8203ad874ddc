"""The ES256 keys that sign access tokens: generated on first start, rotated on demand.

The key ring lives in one file in the data dir (mode 0600), shared by every worker
that uses the same data dir. The newest key signs; a key that was replaced stays
published in the JWKS until every token it signed has expired (its retirement plus
the access-token lifetime), then it is dropped at the next rotation. Workers notice a
rotation done by another process (``walletauth keys rotate``) by the file's mtime.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from walletauth.encoding import b64url_encode

KEYRING_FILE: Final = "signing-keys.json"
LOCK_FILE: Final = "signing-keys.lock"
ALGORITHM: Final = "ES256"
RELOAD_INTERVAL_SECONDS: Final = 1.0


def public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    numbers = public_key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(numbers.x.to_bytes(32, "big")),
        "y": b64url_encode(numbers.y.to_bytes(32, "big")),
    }


def thumbprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """The RFC 7638 JWK thumbprint, used as ``kid`` so a kid always names one key."""
    canonical = json.dumps(public_jwk(public_key), sort_keys=True, separators=(",", ":"))
    return b64url_encode(hashlib.sha256(canonical.encode("ascii")).digest())


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey
    created_at: datetime
    retired_at: datetime | None = None

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self.private_key.public_key()

    def published_until(self, token_ttl: timedelta) -> datetime | None:
        """When the last token this key signed expires; ``None`` while it still signs."""
        return None if self.retired_at is None else self.retired_at + token_ttl

    def is_published(self, now: datetime, token_ttl: timedelta) -> bool:
        until = self.published_until(token_ttl)
        return until is None or now < until

    def jwk(self) -> dict[str, str]:
        return {**public_jwk(self.public_key), "kid": self.kid, "use": "sig", "alg": ALGORITHM}

    def to_record(self) -> dict[str, Any]:
        pem = self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return {
            "kid": self.kid,
            "created_at": self.created_at.isoformat(),
            "retired_at": self.retired_at.isoformat() if self.retired_at else None,
            "private_key_pem": pem.decode("ascii"),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SigningKey:
        private_key = serialization.load_pem_private_key(
            record["private_key_pem"].encode("ascii"), password=None
        )
        if not isinstance(private_key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"key {record['kid']!r} is not an EC private key")
        retired_at = record.get("retired_at")
        return cls(
            kid=record["kid"],
            private_key=private_key,
            created_at=datetime.fromisoformat(record["created_at"]),
            retired_at=datetime.fromisoformat(retired_at) if retired_at else None,
        )

    @classmethod
    def generate(cls, now: datetime) -> SigningKey:
        private_key = ec.generate_private_key(ec.SECP256R1())
        kid = thumbprint(private_key.public_key())
        return cls(kid=kid, private_key=private_key, created_at=now)


class KeyRing:
    """The signing keys of one data dir; newest first."""

    def __init__(self, directory: Path, token_ttl: timedelta) -> None:
        self._directory = directory
        self._path = directory / KEYRING_FILE
        self._token_ttl = token_ttl
        self._keys: tuple[SigningKey, ...] = ()
        self._by_kid: dict[str, SigningKey] = {}
        self._mtime_ns = -1
        self._checked_at = float("-inf")

    @classmethod
    def load_or_create(
        cls, directory: Path, *, token_ttl: timedelta, now: datetime | None = None
    ) -> KeyRing:
        """Open the ring of ``directory``, generating the first key if there is none."""
        ring = cls(directory, token_ttl)
        with ring._locked():
            records = ring._read_records()
            if not records:
                ring._write_records([SigningKey.generate(now or datetime.now(UTC)).to_record()])
        ring._reload()
        return ring

    @property
    def token_ttl(self) -> timedelta:
        return self._token_ttl

    def all_keys(self) -> tuple[SigningKey, ...]:
        self._reload_if_changed()
        return self._keys

    def signing_key(self) -> SigningKey:
        return self.all_keys()[0]

    def find(self, kid: str) -> SigningKey | None:
        self._reload_if_changed()
        key = self._by_kid.get(kid)
        if key is None and self._stale():
            self._reload()
            key = self._by_kid.get(kid)
        return key

    def published(self, now: datetime) -> tuple[SigningKey, ...]:
        return tuple(key for key in self.all_keys() if key.is_published(now, self._token_ttl))

    def jwks(self, now: datetime) -> dict[str, list[dict[str, str]]]:
        return {"keys": [key.jwk() for key in self.published(now)]}

    def rotate(self, now: datetime) -> SigningKey:
        """Make a new key the signing key; retire the old one and drop fully expired ones."""
        new_key = SigningKey.generate(now)
        with self._locked():
            kept = [new_key.to_record()]
            for record in self._read_records():
                key = SigningKey.from_record(record)
                if key.retired_at is None:
                    key = SigningKey(key.kid, key.private_key, key.created_at, retired_at=now)
                if key.is_published(now, self._token_ttl):
                    kept.append(key.to_record())
            self._write_records(kept)
        self._reload()
        return new_key

    # -- file handling -------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # Workers starting together must not each create a different first key.
        self._directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock_fd = os.open(self._directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(lock_fd, fcntl.LOCK_UN)
            os.close(lock_fd)

    def _read_records(self) -> list[dict[str, Any]]:
        try:
            text = self._path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return list(json.loads(text)["keys"])

    def _write_records(self, records: list[dict[str, Any]]) -> None:
        temporary = self._path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            json.dump({"keys": records}, file, indent=1)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, self._path)

    def _stale(self) -> bool:
        try:
            return self._path.stat().st_mtime_ns != self._mtime_ns
        except FileNotFoundError:
            return False

    def _reload_if_changed(self) -> None:
        # A stat per request is cheap but not free; once a second is plenty for rotation.
        now = time.monotonic()
        if now - self._checked_at < RELOAD_INTERVAL_SECONDS:
            return
        self._checked_at = now
        if self._stale():
            self._reload()

    def _reload(self) -> None:
        mtime_ns = self._path.stat().st_mtime_ns
        keys = sorted(
            (SigningKey.from_record(record) for record in self._read_records()),
            key=lambda key: (key.retired_at is None, key.created_at),
            reverse=True,
        )
        self._keys = tuple(keys)
        self._by_kid = {key.kid: key for key in keys}
        self._mtime_ns = mtime_ns
        self._checked_at = time.monotonic()
