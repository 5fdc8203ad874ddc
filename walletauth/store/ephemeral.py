"""Short-lived state of the HTTP service when no Redis is configured.

Nonces are stateless (the server authenticates them itself); the ``nonces`` table
holds the ones already used, each until its expiry (plus a grace), and a use is a
single ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` on the nonce's primary key:
whichever of several concurrent users inserts the row gets it, the others insert
nothing. Inserted in the sign-in's own transaction, it commits or rolls back with it.
Sessions are kept by a hash of their id (a leaked table does not hand out live
sessions) and tied to the subject row, so erasing a subject ends its sessions. Rate
limits are counted by the server (in memory, or in Redis), not here.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from walletauth.store.schema import nonces, sessions
from walletauth.store.sql import upsert


@functools.cache
def _use_nonce(dialect: str) -> Any:
    # Built once per dialect and reused with new parameters: no per-call construction.
    return (
        upsert(dialect, nonces)
        .on_conflict_do_nothing(index_elements=[nonces.c.nonce])
        .returning(nonces.c.nonce)
    )


@functools.cache
def _create_session(dialect: str) -> Any:
    statement = upsert(dialect, sessions)
    return statement.on_conflict_do_update(
        index_elements=[sessions.c.id_hash],
        set_={"subject_id": statement.excluded.subject_id,
              "expires_at": statement.excluded.expires_at},
    )


_SESSION_ACTIVE = sa.select(sa.literal(1)).where(
    sessions.c.id_hash == sa.bindparam("id_hash"), sessions.c.expires_at > sa.bindparam("now")
)


def use_nonce(connection: sa.Connection, nonce: str, remember_until: datetime) -> bool:
    """Record ``nonce`` as used until ``remember_until``; False if it was used already."""
    used = connection.execute(
        _use_nonce(connection.dialect.name), {"nonce": nonce, "expires_at": remember_until}
    )
    return used.first() is not None


def session_hash(session_id: str) -> str:
    # Session ids are long random tokens: an unkeyed hash cannot be reversed.
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def create_session(
    connection: sa.Connection, session_id: str, subject_id: int, expires_at: datetime
) -> None:
    connection.execute(
        _create_session(connection.dialect.name),
        {"id_hash": session_hash(session_id), "subject_id": subject_id, "expires_at": expires_at},
    )


def session_active(connection: sa.Connection, session_id: str, now: datetime) -> bool:
    found = connection.execute(
        _SESSION_ACTIVE, {"id_hash": session_hash(session_id), "now": now}
    ).first()
    return found is not None


def revoke_session(connection: sa.Connection, session_id: str) -> None:
    connection.execute(sa.delete(sessions).where(sessions.c.id_hash == session_hash(session_id)))


def revoke_sessions_of(connection: sa.Connection, subject_id: int) -> int:
    statement = sa.delete(sessions).where(sessions.c.subject_id == subject_id)
    return connection.execute(statement).rowcount
