"""Subject data keys: created, fetched, destroyed (crypto-shredding) and re-wrapped.

Keys are wrapped with AES-GCM under a master key version from :class:`Secrets`, with
the key id as associated data, so a wrapped key only unwraps under its own id.
"""

from __future__ import annotations

import secrets as random
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from walletauth.store.crypto import new_subject_key, seal, unseal_with
from walletauth.store.engines import READ_ONLY
from walletauth.store.errors import StoreError
from walletauth.store.keyschema import subject_keys
from walletauth.store.login_sql import KeyRead
from walletauth.store.secrets import Secrets

# Built once and reused with new parameters (see subjects.py): a key is read per sign-in.
_GET_KEYS = sa.select(
    subject_keys.c.key_id, subject_keys.c.master_version, subject_keys.c.wrapped
).where(subject_keys.c.key_id.in_(sa.bindparam("key_ids", expanding=True)))


def _associated(key_id: str) -> bytes:
    return f"walletauth subject key {key_id}".encode()


def new_key_id() -> str:
    return random.token_hex(16)


def wrap_key(master_key: bytes, key_id: str, key: bytes) -> bytes:
    """A subject key sealed under a master key, bound to its id: what the key store keeps
    (public for bulk loaders, which must write exactly what :meth:`KeyStore.create` does)."""
    return seal(master_key, key, _associated(key_id))


class KeyStore:
    """The subject keys, in their own database (see :mod:`walletauth.store.keyschema`)."""

    def __init__(self, engine: sa.Engine, secrets: Secrets) -> None:
        self.engine = engine
        self.secrets = secrets
        self._reader = engine.execution_options(**READ_ONLY)
        self._read_one = KeyRead(engine)
        self._master_ciphers: dict[bytes, AESGCM] = {}
        """Each master key's cipher, built once: a key is unwrapped per sign-in. Master
        keys are server keys (kept in memory anyway); subject keys are never kept."""

    def create(self) -> tuple[str, bytes]:
        """A new subject key, stored (committed) before anything is sealed under it."""
        key_id = new_key_id()
        key = new_subject_key()
        master = self.secrets.current
        with self.engine.begin() as connection:
            connection.execute(
                sa.insert(subject_keys).values(
                    key_id=key_id,
                    master_version=master.version,
                    wrapped=wrap_key(master.master_key, key_id, key),
                    created_at=datetime.now(UTC),
                )
            )
        return key_id, key

    def get(self, key_id: str) -> bytes | None:
        """The key, or None once it has been destroyed (one statement: read per sign-in)."""
        row = self._read_one(key_id)
        return None if row is None else self._unwrap(key_id, *row)

    def require(self, key_id: str) -> bytes:
        """The key; a destroyed one (its subject was erased) is a :class:`StoreError`."""
        key = self.get(key_id)
        if key is None:
            raise StoreError(
                "subject_key_missing", "the subject's key was destroyed (erased subject)"
            )
        return key

    def get_many(self, key_ids: Collection[str]) -> dict[str, bytes]:
        if not key_ids:
            return {}
        with self._reader.begin() as connection:
            rows = connection.execute(_GET_KEYS, {"key_ids": list(key_ids)}).all()
        return {
            row.key_id: self._unwrap(row.key_id, row.master_version, row.wrapped) for row in rows
        }

    def destroy(self, key_ids: Iterable[str]) -> int:
        """Delete keys for good: whatever was sealed under them can no longer be read."""
        ids = list(key_ids)
        if not ids:
            return 0
        with self.engine.begin() as connection:
            result = connection.execute(
                sa.delete(subject_keys).where(subject_keys.c.key_id.in_(ids))
            )
        return result.rowcount

    def rewrap(
        self, batch_size: int, on_progress: Callable[[int], None] | None = None
    ) -> int:
        """Re-wrap every key not under the current master key; returns how many.

        ``on_progress`` is told, after each batch commits, how many keys it re-wrapped."""
        current = self.secrets.current
        done = 0
        while True:
            with self.engine.begin() as connection:
                rows = connection.execute(
                    sa.select(subject_keys.c.key_id, subject_keys.c.master_version,
                              subject_keys.c.wrapped)
                    .where(subject_keys.c.master_version != current.version)
                    .limit(batch_size)
                ).all()
                for row in rows:
                    key = self._unwrap(row.key_id, row.master_version, row.wrapped)
                    connection.execute(
                        sa.update(subject_keys)
                        .where(subject_keys.c.key_id == row.key_id)
                        .values(
                            master_version=current.version,
                            wrapped=wrap_key(current.master_key, row.key_id, key),
                        )
                    )
            done += len(rows)
            if on_progress is not None and rows:
                on_progress(len(rows))
            if len(rows) < batch_size:
                return done

    def _unwrap(self, key_id: str, master_version: int, wrapped: bytes) -> bytes:
        master_key = self.secrets.version(master_version).master_key
        cipher = self._master_ciphers.get(master_key)
        if cipher is None:
            cipher = self._master_ciphers[master_key] = AESGCM(master_key)
        return unseal_with(cipher, wrapped, _associated(key_id))
