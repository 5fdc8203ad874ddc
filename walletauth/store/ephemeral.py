"""Short-lived state of the HTTP service when no Redis is configured.

Nonces are stateless (the server authenticates them itself); the ``nonces`` table
holds the ones already used, each until its expiry (plus a grace), and a use is a
single ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` on the nonce's primary key:
whichever of several concurrent users inserts the row gets it, the others insert
nothing. Inserted in the sign-in's own transaction, it commits or rolls back with it.
Sessions are kept by a hash of their id (a leaked table does not hand out live
sessions) and tied to the subject row, so erasing a subject ends its sessions. A refresh
rotates a session: the old row is marked rotated (no longer active, kept until it expires)
and a new one joins its family, named by the hash of the family's first session id (NULL
on that first one, so a sign-in writes no more than before); a rotated session presented
again ends its whole family. Rate
limits are counted by the server (in memory, or in Redis), not here.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
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
    sessions.c.id_hash == sa.bindparam("id_hash"),
    sessions.c.expires_at > sa.bindparam("now"),
    sessions.c.rotated_at.is_(None),
)
# The one step that decides which of concurrent refreshes with one cookie rotates it.
_MARK_ROTATED = (
    sa.update(sessions)
    .where(
        sessions.c.id_hash == sa.bindparam("rotated_hash"),
        sessions.c.expires_at > sa.bindparam("now"),
        sessions.c.rotated_at.is_(None),
    )
    .values(rotated_at=sa.bindparam("now"))
    .returning(sessions.c.subject_id, sessions.c.expires_at, sessions.c.family_hash)
)
_ROTATED_FAMILY = sa.select(sa.func.coalesce(sessions.c.family_hash, sessions.c.id_hash)).where(
    sessions.c.id_hash == sa.bindparam("id_hash"), sessions.c.rotated_at.is_not(None)
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


@dataclass(frozen=True)
class Rotation:
    """What a refresh did to a session: ``expires_at`` of its successor if it rotated it;
    ``reused`` if the session had been rotated already (its family is now ended)."""

    expires_at: datetime | None
    reused: bool = False


def rotate_session(
    connection: sa.Connection, session_id: str, new_session_id: str, now: datetime
) -> Rotation:
    """Replace the active session ``session_id`` by ``new_session_id`` in its family, with
    the same expiry (a refresh never lengthens a sign-in); a rotated one ends its family."""
    id_hash = session_hash(session_id)
    rotated = connection.execute(_MARK_ROTATED, {"rotated_hash": id_hash, "now": now}).first()
    if rotated is None:
        return Rotation(None, reused=end_family_if_rotated(connection, session_id))
    connection.execute(sa.insert(sessions).values(
        id_hash=session_hash(new_session_id), subject_id=rotated.subject_id,
        expires_at=rotated.expires_at, family_hash=rotated.family_hash or id_hash,
    ))
    return Rotation(rotated.expires_at)


def end_family_if_rotated(connection: sa.Connection, session_id: str) -> bool:
    """If ``session_id`` was rotated, delete its whole family and say so."""
    family = connection.execute(_ROTATED_FAMILY, {"id_hash": session_hash(session_id)}).scalar()
    if family is None:
        return False
    connection.execute(sa.delete(sessions).where(
        sa.or_(sessions.c.id_hash == family, sessions.c.family_hash == family)
    ))
    return True


def revoke_session(connection: sa.Connection, session_id: str) -> None:
    connection.execute(sa.delete(sessions).where(sessions.c.id_hash == session_hash(session_id)))


def revoke_sessions_of(connection: sa.Connection, subject_id: int) -> int:
    """Delete every session row of the subject; how many were not replaced by a refresh."""
    statement = (
        sa.delete(sessions)
        .where(sessions.c.subject_id == subject_id)
        .returning(sessions.c.rotated_at)
    )
    return sum(1 for row in connection.execute(statement) if row.rotated_at is None)
