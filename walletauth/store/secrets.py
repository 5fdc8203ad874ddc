"""Server secrets kept outside the database: the subject-ref HMAC key and the master key.

Each version is one JSON file ``v<N>.json`` in the secrets directory (mode 0600, the
directory 0700), written atomically so a crash never leaves half a key behind. The
highest version is current: new subject refs and newly wrapped subject keys use it,
older versions stay readable until :meth:`Store.rotate_secrets` has re-keyed everything
and the operator retires them.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets as random
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from walletauth.store.errors import StoreError

KEY_BYTES = 32
_FILE_NAME = re.compile(r"^v([1-9][0-9]*)\.json$")
_GROUP_OR_OTHER = stat.S_IRWXG | stat.S_IRWXO


@dataclass(frozen=True, slots=True)
class SecretVersion:
    version: int
    subject_hmac_key: bytes
    """Keys the subject ref: HMAC-SHA256 of the EIP-55 address."""
    master_key: bytes
    """Wraps (AES-GCM) the per-subject keys in the key store."""

    def __repr__(self) -> str:  # never print key material into logs
        return f"SecretVersion(version={self.version})"


@dataclass(frozen=True, slots=True)
class Secrets:
    directory: Path
    versions: dict[int, SecretVersion]

    @property
    def current(self) -> SecretVersion:
        return self.versions[max(self.versions)]

    def version(self, number: int) -> SecretVersion:
        try:
            return self.versions[number]
        except KeyError:
            raise StoreError(
                "unknown_key_version",
                f"secrets version {number} is not in {self.directory}"
                f" (have {sorted(self.versions)}); was it retired before re-keying?",
            ) from None

    @classmethod
    def load_or_create(cls, directory: Path) -> Secrets:
        """Load every version from ``directory``; on first start create it with version 1."""
        directory = Path(directory)
        _ensure_private_directory(directory)
        versions = _load_versions(directory)
        if not versions:
            # FileExistsError: another process started at the same moment and won.
            with contextlib.suppress(FileExistsError):
                _write_atomically(directory, _generate(1))
            versions = _load_versions(directory)
        return cls(directory=directory, versions=versions)

    def rotate(self) -> Secrets:
        """Add a new current version (on disk too); older ones stay for reading."""
        new = _generate(max(self.versions) + 1)
        try:
            _write_atomically(self.directory, new)
        except FileExistsError:
            raise StoreError(
                "invalid_argument",
                f"secrets version {new.version} already exists in {self.directory};"
                " reload the secrets before rotating",
            ) from None
        return Secrets(directory=self.directory, versions={**self.versions, new.version: new})

    def retire(self, number: int) -> Secrets:
        """Delete an old version once nothing uses it any more (after re-keying)."""
        if number == self.current.version:
            raise StoreError("invalid_argument", "the current secrets version cannot be retired")
        self.version(number)
        (self.directory / f"v{number}.json").unlink()
        remaining = {n: v for n, v in self.versions.items() if n != number}
        return Secrets(directory=self.directory, versions=remaining)

    def __repr__(self) -> str:
        return f"Secrets(directory={str(self.directory)!r}, versions={sorted(self.versions)})"


def _generate(version: int) -> SecretVersion:
    return SecretVersion(
        version=version,
        subject_hmac_key=random.token_bytes(KEY_BYTES),
        master_key=random.token_bytes(KEY_BYTES),
    )


def _ensure_private_directory(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = directory.stat().st_mode
    if mode & _GROUP_OR_OTHER:
        raise StoreError(
            "insecure_secrets",
            f"secrets directory {directory} is accessible by others"
            f" (mode {stat.S_IMODE(mode):o}); chmod 700 it",
        )


def _load_versions(directory: Path) -> dict[int, SecretVersion]:
    versions: dict[int, SecretVersion] = {}
    for path in directory.iterdir():
        match = _FILE_NAME.match(path.name)
        if match:
            versions[int(match.group(1))] = _read(path, int(match.group(1)))
    return versions


def _read(path: Path, version: int) -> SecretVersion:
    mode = path.stat().st_mode
    if mode & _GROUP_OR_OTHER:
        raise StoreError(
            "insecure_secrets",
            f"secrets file {path} is readable by others"
            f" (mode {stat.S_IMODE(mode):o}); chmod 600 it",
        )
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
        hmac_key = base64.b64decode(content["subject_hmac_key"], validate=True)
        master_key = base64.b64decode(content["master_key"], validate=True)
        stated_version = content["version"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StoreError("secrets_unreadable", f"cannot read secrets file {path}: {exc}") from None
    if stated_version != version or len(hmac_key) != KEY_BYTES or len(master_key) != KEY_BYTES:
        raise StoreError(
            "secrets_unreadable",
            f"secrets file {path} does not hold version {version} with two {KEY_BYTES}-byte keys",
        )
    return SecretVersion(version=version, subject_hmac_key=hmac_key, master_key=master_key)


def _write_atomically(directory: Path, secret: SecretVersion) -> None:
    """Write a private temporary file, fsync it, then link it to its final name.

    Linking (unlike renaming) fails if the name exists, so a version is never replaced:
    replacing a key would make everything under it unreadable.
    """
    final = directory / f"v{secret.version}.json"
    content = json.dumps(
        {
            "version": secret.version,
            "created_at": datetime.now(UTC).isoformat(),
            "subject_hmac_key": base64.b64encode(secret.subject_hmac_key).decode(),
            "master_key": base64.b64encode(secret.master_key).decode(),
        }
    ).encode()
    temporary = directory / f".v{secret.version}.{random.token_hex(6)}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
