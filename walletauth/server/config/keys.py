"""The keys that sign walletauth's JWTs: generated on first start, rotated on demand.

One ring per signature algorithm, each in a file of its own in the data dir (mode 0600),
shared by every worker that uses the same data dir:

* ES256 (P-256), ``signing-keys.json``: the access tokens, and the ID tokens of OpenID
  Connect clients registered for ES256;
* RS256 (RSA, 2048 bits), ``signing-keys-rs256.json``: the ID tokens of clients registered
  for RS256, the algorithm OIDC Core 15.1 makes mandatory for every provider. It is made
  only where the OpenID Provider is served (``Settings.serves_openid_provider``): an RSA
  key takes some 60 ms to generate where an EC key takes 0.01 ms, which a service without
  the provider, and every test of one, would pay at each first start for nothing.

A file per algorithm keeps the ES256 file's format as it was, so a worker of an older
release sharing the data dir during a rolling upgrade never meets a key it cannot load.

In each ring the newest key signs; a key that was replaced stays published in the JWKS
until every token it signed has expired (its retirement plus the access-token lifetime,
which bounds ID tokens too), then it is dropped at the next rotation. Workers notice a
rotation done by another process (``walletauth keys rotate``) by the file's mtime.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Generic, TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from walletauth.encoding import b64url_encode

ES256: Final = "ES256"
RS256: Final = "RS256"
ALGORITHM: Final = ES256
"""The access tokens' algorithm (and the ES256 ring's)."""
KEYRING_FILE: Final = "signing-keys.json"
RS256_KEYRING_FILE: Final = "signing-keys-rs256.json"
LOCK_FILE: Final = "signing-keys.lock"
RELOAD_INTERVAL_SECONDS: Final = 1.0
RSA_KEY_BITS: Final = 2048
"""RFC 7518 3.3's minimum, and what the providers clients meet most use; 3072 bits took
four times as long to generate (263 ms median here) and three times as long to sign."""
RSA_PUBLIC_EXPONENT: Final = 65537

PrivateKey = TypeVar("PrivateKey", ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


def _unsigned(value: int) -> bytes:
    # RFC 7518 6.3.1: n and e are big-endian, in as few octets as hold them.
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def public_jwk(public_key: PublicKey) -> dict[str, str]:
    """The key's required JWK members (RFC 7638 3.2), which its thumbprint hashes."""
    if isinstance(public_key, rsa.RSAPublicKey):
        rsa_numbers = public_key.public_numbers()
        return {
            "kty": "RSA",
            "n": b64url_encode(_unsigned(rsa_numbers.n)),
            "e": b64url_encode(_unsigned(rsa_numbers.e)),
        }
    numbers = public_key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(numbers.x.to_bytes(32, "big")),
        "y": b64url_encode(numbers.y.to_bytes(32, "big")),
    }


def thumbprint(public_key: PublicKey) -> str:
    """The RFC 7638 JWK thumbprint, used as ``kid`` so a kid always names one key."""
    canonical = json.dumps(public_jwk(public_key), sort_keys=True, separators=(",", ":"))
    return b64url_encode(hashlib.sha256(canonical.encode("ascii")).digest())


@dataclass(frozen=True)
class SigningKey(Generic[PrivateKey]):
    kid: str
    private_key: PrivateKey
    created_at: datetime
    retired_at: datetime | None = None

    @property
    def algorithm(self) -> str:
        return RS256 if isinstance(self.private_key, rsa.RSAPrivateKey) else ES256

    @property
    def public_key(self) -> PublicKey:
        return self.private_key.public_key()

    def published_until(self, token_ttl: timedelta) -> datetime | None:
        """When the last token this key signed expires; ``None`` while it still signs."""
        return None if self.retired_at is None else self.retired_at + token_ttl

    def is_published(self, now: datetime, token_ttl: timedelta) -> bool:
        until = self.published_until(token_ttl)
        return until is None or now < until

    def jwk(self) -> dict[str, str]:
        return {**public_jwk(self.public_key), "kid": self.kid, "use": "sig", "alg": self.algorithm}

    def retired(self, now: datetime) -> SigningKey[PrivateKey]:
        return SigningKey(self.kid, self.private_key, self.created_at, retired_at=now)

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


def _new_p256_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(RSA_PUBLIC_EXPONENT, RSA_KEY_BITS)


def _ec_key(key: object) -> ec.EllipticCurvePrivateKey | None:
    # The curve is checked where ES256 signs (tokens.py), as it was before RS256.
    return key if isinstance(key, ec.EllipticCurvePrivateKey) else None


def _rsa_key(key: object) -> rsa.RSAPrivateKey | None:
    return key if isinstance(key, rsa.RSAPrivateKey) else None


@dataclass(frozen=True)
class KeyKind(Generic[PrivateKey]):
    """The keys of one algorithm: which file holds them, how one is made and loaded."""

    algorithm: str
    file: str
    new_private_key: Callable[[], PrivateKey]
    of_kind: Callable[[object], PrivateKey | None]
    """The loaded key if it is of this kind, else ``None``."""

    def generate(self, now: datetime) -> SigningKey[PrivateKey]:
        private_key = self.new_private_key()
        return SigningKey(thumbprint(private_key.public_key()), private_key, now)

    def load(self, record: dict[str, Any]) -> SigningKey[PrivateKey]:
        private_key = self.of_kind(
            serialization.load_pem_private_key(
                record["private_key_pem"].encode("ascii"), password=None
            )
        )
        if private_key is None:
            raise ValueError(
                f"key {record['kid']!r} in {self.file} is not an {self.algorithm} private key"
            )
        if isinstance(private_key, rsa.RSAPrivateKey) and private_key.key_size < RSA_KEY_BITS:
            raise ValueError(
                f"key {record['kid']!r} in {self.file} has"
                f" {private_key.key_size} bits; RS256 needs {RSA_KEY_BITS} or more"
            )
        retired_at = record.get("retired_at")
        return SigningKey(
            kid=record["kid"],
            private_key=private_key,
            created_at=datetime.fromisoformat(record["created_at"]),
            retired_at=datetime.fromisoformat(retired_at) if retired_at else None,
        )


ES256_KEYS: Final = KeyKind(ES256, KEYRING_FILE, _new_p256_key, _ec_key)
RS256_KEYS: Final = KeyKind(RS256, RS256_KEYRING_FILE, _new_rsa_key, _rsa_key)


def open_keyring(
    directory: Path, kind: KeyKind[PrivateKey], *, token_ttl: timedelta, now: datetime | None = None
) -> KeyRing[PrivateKey]:
    """Open the ring of ``kind`` in ``directory``, generating its first key if it has none."""
    ring = KeyRing(directory, token_ttl, kind)
    with ring._locked():
        if not ring._read_records():
            ring._write_records([kind.generate(now or datetime.now(UTC)).to_record()])
    ring._reload()
    return ring


def published_jwks(rings: Iterable[KeyRing[Any]], now: datetime) -> dict[str, list[dict[str, str]]]:
    """One JWKS of every ring's published keys: the kids (thumbprints) never collide."""
    return {"keys": [key.jwk() for ring in rings for key in ring.published(now)]}


class KeyRing(Generic[PrivateKey]):
    """The signing keys of one algorithm in one data dir; newest first."""

    def __init__(self, directory: Path, token_ttl: timedelta, kind: KeyKind[PrivateKey]) -> None:
        self._directory = directory
        self._kind: KeyKind[PrivateKey] = kind
        self._path = directory / kind.file
        self._token_ttl = token_ttl
        self._keys: tuple[SigningKey[PrivateKey], ...] = ()
        self._by_kid: dict[str, SigningKey[PrivateKey]] = {}
        self._mtime_ns = -1
        self._checked_at = float("-inf")

    @classmethod
    def load_or_create(
        cls, directory: Path, *, token_ttl: timedelta, now: datetime | None = None
    ) -> KeyRing[ec.EllipticCurvePrivateKey]:
        """Open the ES256 ring of ``directory``, generating the first key if there is none."""
        return open_keyring(directory, ES256_KEYS, token_ttl=token_ttl, now=now)

    @property
    def algorithm(self) -> str:
        return self._kind.algorithm

    @property
    def token_ttl(self) -> timedelta:
        return self._token_ttl

    def all_keys(self) -> tuple[SigningKey[PrivateKey], ...]:
        self._reload_if_changed()
        return self._keys

    def signing_key(self) -> SigningKey[PrivateKey]:
        return self.all_keys()[0]

    def find(self, kid: str) -> SigningKey[PrivateKey] | None:
        self._reload_if_changed()
        key = self._by_kid.get(kid)
        if key is None and self._stale():
            self._reload()
            key = self._by_kid.get(kid)
        return key

    def published(self, now: datetime) -> tuple[SigningKey[PrivateKey], ...]:
        return tuple(key for key in self.all_keys() if key.is_published(now, self._token_ttl))

    def jwks(self, now: datetime) -> dict[str, list[dict[str, str]]]:
        return published_jwks([self], now)

    def rotate(self, now: datetime) -> SigningKey[PrivateKey]:
        """Make a new key the signing key; retire the old one and drop fully expired ones."""
        new_key = self._kind.generate(now)
        with self._locked():
            kept = [new_key.to_record()]
            for record in self._read_records():
                key = self._kind.load(record)
                if key.retired_at is None:
                    key = key.retired(now)
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
            (self._kind.load(record) for record in self._read_records()),
            key=lambda key: (key.retired_at is None, key.created_at),
            reverse=True,
        )
        self._keys = tuple(keys)
        self._by_kid = {key.kid: key for key in keys}
        self._mtime_ns = mtime_ns
        self._checked_at = time.monotonic()
