"""Read-only queries for the operator's console (:mod:`walletauth.console`).

Everything here reads, never writes, and answers what no single subject's calls can:
the requests log across subjects (each named by its keyed ref, never an address) and
counts over the whole store. No function returns an address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa

from walletauth.store.engines import READ_ONLY
from walletauth.store.errors import StoreError
from walletauth.store.rights_schema import rights_requests
from walletauth.store.store import Store
from walletauth.store.types import require_aware

MAX_ROWS: Final = 500


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One entry of the requests log as the operator sees it: whose by keyed ref only."""

    id: str
    subject_ref: str
    kind: str
    status: str
    reason: str | None
    received_at: datetime
    completed_at: datetime | None
    detail: dict[str, Any]


def logged_requests(
    store: Store, *, status: str | None = None, limit: int = 100,
    received_after: datetime | None = None,
) -> list[LoggedRequest]:
    """Entries of the requests log of every subject, newest first; ``status`` (received,
    completed, denied) narrows them, at most ``limit`` (1 to :data:`MAX_ROWS`)."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_ROWS:
        raise StoreError("invalid_argument", f"limit must be 1 to {MAX_ROWS}")
    query = sa.select(rights_requests).order_by(
        rights_requests.c.received_at.desc(), rights_requests.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(rights_requests.c.status == status)
    if received_after is not None:
        query = query.where(rights_requests.c.received_at > require_aware(received_after))
    with store.engine.execution_options(**READ_ONLY).begin() as connection:
        rows = connection.execute(query).all()
    return [LoggedRequest(row.id, row.subject_ref, row.kind, row.status, row.reason,
                          row.received_at, row.completed_at, dict(row.detail or {}))
            for row in rows]


def logged_request(store: Store, request_id: str) -> LoggedRequest | None:
    """One entry of the requests log by its id (the receipt id), or None."""
    if not isinstance(request_id, str) or not 1 <= len(request_id) <= 40:
        return None
    with store.engine.execution_options(**READ_ONLY).begin() as connection:
        row = connection.execute(
            sa.select(rights_requests).where(rights_requests.c.id == request_id)).first()
    if row is None:
        return None
    return LoggedRequest(row.id, row.subject_ref, row.kind, row.status, row.reason,
                         row.received_at, row.completed_at, dict(row.detail or {}))
