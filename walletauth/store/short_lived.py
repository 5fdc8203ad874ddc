"""Used nonces and sessions in the store's tables, for a deployment without Redis (the
statements are :mod:`walletauth.store.ephemeral`'s; a sign-in's own nonce and session
are written with its records, by :mod:`walletauth.store.logins`).
"""

from __future__ import annotations

from datetime import datetime

from walletauth.store import ephemeral
from walletauth.store.handle import (
    StoreHandle,
    ensure_subject,
    find_subject,
    require_nonce,
    require_session_id,
    write_transaction,
)
from walletauth.store.subjects import retain_until
from walletauth.store.types import require_aware


def use_nonce(store: StoreHandle, nonce: str, *, remember_until: datetime) -> bool:
    """Record a (stateless, server-authenticated) nonce as used until
    ``remember_until``: True for exactly one caller, however many race."""
    remember_until = require_aware(remember_until, "remember_until")
    require_nonce(nonce)
    with store.engine.begin() as connection:
        return ephemeral.use_nonce(connection, nonce, remember_until)


def create_session(
    store: StoreHandle, session_id: str, address: str, *, expires_at: datetime
) -> None:
    expires_at = require_aware(expires_at, "expires_at")
    require_session_id(session_id)
    with write_transaction(store) as write:
        subject, _events = find_subject(store, write.connection, address)
        subject, _key = ensure_subject(store, write, address, subject, expires_at)
        ephemeral.create_session(write.connection, session_id, subject.id, expires_at)
        retain_until(write.connection, subject.id, expires_at)


def session_active(store: StoreHandle, session_id: str, *, now: datetime) -> bool:
    now = require_aware(now)
    if not isinstance(session_id, str):
        return False
    with store.reader.begin() as connection:
        return ephemeral.session_active(connection, session_id, now)


def rotate_session(
    store: StoreHandle, session_id: str, new_session_id: str, *, now: datetime
) -> ephemeral.Rotation:
    """A refresh: ``new_session_id`` replaces the active ``session_id`` in its family
    (same expiry); a ``session_id`` rotated before ends its whole family (``reused``)."""
    now = require_aware(now)
    require_session_id(session_id)
    require_session_id(new_session_id)
    with store.engine.begin() as connection:
        return ephemeral.rotate_session(connection, session_id, new_session_id, now)


def end_family_if_rotated(store: StoreHandle, session_id: str) -> bool:
    """If ``session_id`` was rotated by a refresh, end every session of its family."""
    require_session_id(session_id)
    with store.engine.begin() as connection:
        return ephemeral.end_family_if_rotated(connection, session_id)


def revoke_session(store: StoreHandle, session_id: str) -> None:
    require_session_id(session_id)
    with store.engine.begin() as connection:
        ephemeral.revoke_session(connection, session_id)


def revoke_sessions_of(store: StoreHandle, address: str) -> int:
    """End every session of the address; returns how many were live."""
    with store.engine.begin() as connection:
        subject, _events = find_subject(store, connection, address)
        return 0 if subject is None else ephemeral.revoke_sessions_of(connection, subject.id)
