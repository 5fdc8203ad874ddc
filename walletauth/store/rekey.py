"""Re-keying subject refs after a secrets rotation.

A ref is a keyed hash, so it cannot be converted: it is recomputed under the new HMAC
key from the subject's address, which is decrypted with the subject's own key.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from walletauth.store.crypto import subject_ref
from walletauth.store.keystore import KeyStore
from walletauth.store.schema import subjects
from walletauth.store.secrets import Secrets
from walletauth.store.subjects import open_address


@dataclass(frozen=True, slots=True)
class RotationReport:
    subjects: int
    """Subject refs recomputed under the current HMAC key."""
    keys: int
    """Subject keys re-wrapped under the current master key."""


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
