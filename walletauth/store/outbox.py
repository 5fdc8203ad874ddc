"""The persistent outbox of notices to downstream services.

A notice is enqueued in the transaction of the change it announces (an erasure and
its notices commit together or not at all), one row per endpoint. A row holds only
what the notice needs; the subject's address is sealed (AES-GCM) under a key derived
from the master secret of the version named in the row, so the outbox never shows an
address in the clear and a delivered notice, deleted, leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from walletauth.store.crypto import derived_key, seal, unseal
from walletauth.store.rights_schema import notice_outbox
from walletauth.store.secrets import Secrets

_OUTBOX_KEY_DOMAIN = b"walletauth notice outbox"


@dataclass(frozen=True, slots=True)
class PendingNotice:
    """A notice to enqueue for one endpoint (the subject is added by the caller)."""

    notice_id: str
    endpoint: str
    type: str
    occurred_at: datetime
    policy_id: str
    policy_version: str
    purposes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OutboxNotice:
    """A queued notice, opened for delivery."""

    notice_id: str
    endpoint: str
    type: str
    subject: str
    purposes: tuple[str, ...]
    occurred_at: datetime
    policy_id: str
    policy_version: str
    attempts: int


def _associated(notice_id: str, endpoint: str) -> bytes:
    return f"walletauth notice {notice_id} {endpoint}".encode()


def _outbox_key(secrets: Secrets, version: int) -> bytes:
    return derived_key(secrets.version(version).master_key, _OUTBOX_KEY_DOMAIN)


def enqueue(
    connection: sa.Connection, secrets: Secrets, notice: PendingNotice, subject: str,
    now: datetime,
) -> None:
    version = secrets.current.version
    sealed = seal(_outbox_key(secrets, version), subject.encode("ascii"),
                  _associated(notice.notice_id, notice.endpoint))
    connection.execute(
        sa.insert(notice_outbox).values(
            notice_id=notice.notice_id, endpoint=notice.endpoint, type=notice.type,
            subject_sealed=sealed, secrets_version=version, purposes=list(notice.purposes),
            occurred_at=notice.occurred_at, policy_id=notice.policy_id,
            policy_version=notice.policy_version, attempts=0, next_attempt_at=now,
            last_error=None,
        )
    )


def claim_due(
    engine: sa.Engine, secrets: Secrets, *, now: datetime, limit: int, lease: timedelta,
    occurred_after: datetime | None = None,
) -> list[OutboxNotice]:
    """Take up to ``limit`` due notices for this caller alone, oldest first; with
    ``occurred_after``, only those that occurred after it (older ones are past their
    abandon time: the purge gives them up and records it, they are not sent late).

    The claim moves ``next_attempt_at`` to ``now + lease`` in the statement that picks
    the rows, so another worker polling meanwhile does not see them; a worker that
    dies mid-delivery leaves them due again when the lease runs out. PostgreSQL: rows a
    concurrent claim has locked are skipped, and the due condition is checked again
    after any wait. SQLite: the write transaction holds the database's write lock.
    """
    key = sa.tuple_(notice_outbox.c.notice_id, notice_outbox.c.endpoint)
    is_due = notice_outbox.c.next_attempt_at <= now
    if occurred_after is not None:
        is_due = sa.and_(is_due, notice_outbox.c.occurred_at > occurred_after)
    chosen = (
        sa.select(notice_outbox.c.notice_id, notice_outbox.c.endpoint)
        .where(is_due)
        .order_by(notice_outbox.c.next_attempt_at, notice_outbox.c.notice_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    with engine.begin() as connection:
        rows = connection.execute(
            sa.update(notice_outbox)
            .where(key.in_(chosen), is_due)
            .values(next_attempt_at=now + lease)
            .returning(*notice_outbox.c)
        ).all()
    rows = sorted(rows, key=lambda row: (row.occurred_at, row.notice_id, row.endpoint))
    return [_opened(secrets, row) for row in rows]


def _opened(secrets: Secrets, row: sa.Row[Any]) -> OutboxNotice:
    return OutboxNotice(
        notice_id=row.notice_id, endpoint=row.endpoint, type=row.type,
        subject=unseal(_outbox_key(secrets, row.secrets_version), row.subject_sealed,
                       _associated(row.notice_id, row.endpoint)).decode("ascii"),
        purposes=tuple(row.purposes), occurred_at=row.occurred_at, policy_id=row.policy_id,
        policy_version=row.policy_version, attempts=row.attempts,
    )


def delivered(engine: sa.Engine, notice_id: str, endpoint: str) -> None:
    with engine.begin() as connection:
        connection.execute(sa.delete(notice_outbox).where(
            notice_outbox.c.notice_id == notice_id, notice_outbox.c.endpoint == endpoint))


def failed(
    engine: sa.Engine, notice_id: str, endpoint: str, *, error: str, retry_in: timedelta,
    now: datetime,
) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.update(notice_outbox)
            .where(notice_outbox.c.notice_id == notice_id, notice_outbox.c.endpoint == endpoint)
            .values(attempts=notice_outbox.c.attempts + 1, next_attempt_at=now + retry_in,
                    last_error=error[:64])
        )


def pending_count(engine: sa.Engine, endpoints: Sequence[str] | None = None) -> int:
    query = sa.select(sa.func.count()).select_from(notice_outbox)
    if endpoints is not None:
        query = query.where(notice_outbox.c.endpoint.in_(list(endpoints)))
    with engine.begin() as connection:
        total: int = connection.execute(query).scalar_one()
    return total


def retry_now(
    engine: sa.Engine, *, now: datetime, occurred_after: datetime,
    notice_id: str | None = None, endpoint: str | None = None,
) -> int:
    """Make notices that failed before due at once (the operator's "retry now"): all of
    them, or the one of ``notice_id`` at ``endpoint``. A notice that occurred before
    ``occurred_after`` (past its abandon time) is left for the purge, as delivery leaves
    it. Returns how many were made due."""
    condition = sa.and_(notice_outbox.c.attempts > 0, notice_outbox.c.occurred_at > occurred_after)
    if notice_id is not None:
        condition = sa.and_(condition, notice_outbox.c.notice_id == notice_id,
                            notice_outbox.c.endpoint == endpoint)
    with engine.begin() as connection:
        made_due: int = connection.execute(
            sa.update(notice_outbox).where(condition).values(next_attempt_at=now)).rowcount
    return made_due
