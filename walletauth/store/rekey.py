"""Re-keying subject refs after a secrets rotation.

A ref is a keyed hash, so it cannot be converted: it is recomputed under the new HMAC
key from the subject's address, which is decrypted with the subject's own key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from walletauth.store.audit import log_event
from walletauth.store.crypto import subject_ref
from walletauth.store.handle import StoreHandle
from walletauth.store.keyschema import subject_keys
from walletauth.store.keystore import KeyStore
from walletauth.store.schema import subjects
from walletauth.store.secrets import Secrets
from walletauth.store.subjects import open_address
from walletauth.store.types import require_aware


@dataclass(frozen=True, slots=True)
class RotationReport:
    subjects: int
    """Subject refs recomputed under the current HMAC key."""
    keys: int
    """Subject keys re-wrapped under the current master key."""


@dataclass(frozen=True, slots=True)
class VersionUsage:
    keys: int
    """Subject keys wrapped under this version's master key."""
    refs: int
    """Subject refs keyed with this version's HMAC key."""


_DIGEST_CHARS = 65
"""``:`` and the hex HMAC-SHA256 after a ref's version (see :func:`subject_ref`)."""


def secrets_usage(store: StoreHandle) -> dict[int, VersionUsage]:
    """How many subject keys and refs each secrets version holds, including versions
    still in use that are no longer on disk (retired too early)."""
    with store.keys.engine.connect() as connection:
        keys: dict[int, int] = {number: count for number, count in connection.execute(
            sa.select(subject_keys.c.master_version, sa.func.count())
            .group_by(subject_keys.c.master_version)
        )}
    version = sa.func.substr(subjects.c.ref, 1, sa.func.length(subjects.c.ref) - _DIGEST_CHARS)
    with store.engine.connect() as connection:
        refs = {int(prefix): count for prefix, count in connection.execute(
            sa.select(version, sa.func.count()).group_by(version)
        )}
    return {number: VersionUsage(keys=keys.get(number, 0), refs=refs.get(number, 0))
            for number in sorted({*store.secrets.versions, *keys, *refs})}


def pending_rotation(store: StoreHandle) -> int:
    """How many keys and refs :func:`rotate_secrets` has left to move to the current
    version (its progress is counted against this)."""
    current = store.secrets.current.version
    return sum(usage.keys + usage.refs for number, usage in secrets_usage(store).items()
               if number != current)


def rotate_secrets(
    store: StoreHandle, secrets: Secrets | None = None, *, batch_size: int = 1000,
    now: datetime | None = None, on_progress: Callable[[int], None] | None = None,
) -> RotationReport:
    """Move everything to the current secrets version.

    Adopts ``secrets`` (e.g. ``store.secrets.rotate()``) when given, then re-wraps
    every subject key under the current master key and recomputes every subject ref
    under the current HMAC key from the subject's decrypted address. Subjects stay
    findable throughout; afterwards older versions may be retired. ``on_progress`` is
    told after each batch how many keys or refs it handled (see :func:`pending_rotation`).
    """
    if secrets is not None:
        store.secrets = secrets
        store.keys.secrets = secrets
    keys = store.keys.rewrap(batch_size, on_progress)
    refs = rekey_subjects(store.engine, store.keys, store.secrets, batch_size, on_progress)
    with store.engine.begin() as connection:
        at = datetime.now(UTC) if now is None else require_aware(now)
        log_event(store, connection, "secrets_rotation", at, None,
                  detail={"version": store.secrets.current.version, "subjects": refs,
                          "keys": keys})
    return RotationReport(subjects=refs, keys=keys)


def rekey_subjects(
    engine: sa.Engine, keys: KeyStore, secrets: Secrets, batch_size: int,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Recompute every ref not under the current HMAC key; returns how many.
    ``on_progress`` is told after each batch commits how many rows it went through
    (an erased subject's too: it was counted as pending)."""
    current = secrets.current
    stale = sa.not_(subjects.c.ref.startswith(f"{current.version}:", autoescape=True))
    done, after_id = 0, 0
    while True:
        with engine.begin() as connection:
            rows = connection.execute(
                sa.select(subjects.c.id, subjects.c.ref, subjects.c.key_id,
                          subjects.c.address_sealed)
                .where(stale, subjects.c.id > after_id)
                .order_by(subjects.c.id)
                .limit(batch_size)
            ).all()
            subject_keys = keys.get_many([row.key_id for row in rows])
            for row in rows:
                key = subject_keys.get(row.key_id)
                if key is None:
                    continue  # erased meanwhile: nothing left to re-key
                address = open_address(key, row.address_sealed)
                connection.execute(
                    sa.update(subjects)
                    .where(subjects.c.id == row.id, subjects.c.ref == row.ref)
                    .values(ref=subject_ref(current.subject_hmac_key, current.version, address))
                )
                done += 1
        if on_progress is not None and rows:
            on_progress(len(rows))
        if len(rows) < batch_size:
            return done
        after_id = rows[-1].id
