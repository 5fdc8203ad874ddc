"""Re-keying subject refs after a secrets rotation.

A ref is a keyed hash, so it cannot be converted: it is recomputed under the new HMAC
key from the subject's address, which is decrypted with the subject's own key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from walletauth.store.audit import log_event
from walletauth.store.crypto import subject_ref
from walletauth.store.handle import StoreHandle
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


def rotate_secrets(
    store: StoreHandle, secrets: Secrets | None = None, *, batch_size: int = 1000,
    now: datetime | None = None,
) -> RotationReport:
    """Move everything to the current secrets version.

    Adopts ``secrets`` (e.g. ``store.secrets.rotate()``) when given, then re-wraps
    every subject key under the current master key and recomputes every subject ref
    under the current HMAC key from the subject's decrypted address. Subjects stay
    findable throughout; afterwards older versions may be retired.
    """
    if secrets is not None:
        store.secrets = secrets
        store.keys.secrets = secrets
    keys = store.keys.rewrap(batch_size)
    refs = rekey_subjects(store.engine, store.keys, store.secrets, batch_size)
    with store.engine.begin() as connection:
        at = datetime.now(UTC) if now is None else require_aware(now)
        log_event(store, connection, "secrets_rotation", at, None,
                  detail={"version": store.secrets.current.version, "subjects": refs,
                          "keys": keys})
    return RotationReport(subjects=refs, keys=keys)


def rekey_subjects(engine: sa.Engine, keys: KeyStore, secrets: Secrets, batch_size: int) -> int:
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
        if len(rows) < batch_size:
            return done
        after_id = rows[-1].id
