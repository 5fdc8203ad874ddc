"""The log of the wallet owner's requests: each received, then completed or denied with
its reason; the subject lists its own (found under every secrets version held)."""

from __future__ import annotations

import secrets as random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa

from walletauth.store.addresses import normalise_address
from walletauth.store.audit import AuditEvent, DetailValue, audit_in
from walletauth.store.handle import StoreHandle, require_positive_int, write_transaction
from walletauth.store.rights_schema import rights_requests
from walletauth.store.subjects import refs_of
from walletauth.store.types import require_aware

RequestStatus = Literal["received", "completed", "denied"]


@dataclass(frozen=True, slots=True)
class RequestEntry:
    id: str
    kind: str
    status: RequestStatus
    reason: str | None
    received_at: datetime
    completed_at: datetime | None
    detail: Mapping[str, Any]


def open_request(store: StoreHandle, address: str, kind: str, *, now: datetime) -> str:
    """Log a request as received; returns its id (also the receipt id)."""
    now = require_aware(now)
    request_id = f"req_{random.token_urlsafe(18)}"
    with store.engine.begin() as connection:
        connection.execute(
            sa.insert(rights_requests).values(
                id=request_id, subject_ref=store.subject_ref(address), kind=kind,
                status="received", reason=None, received_at=now, completed_at=None, detail={},
            )
        )
    return request_id


def finish_request(
    store: StoreHandle,
    request_id: str,
    status: RequestStatus,
    *,
    now: datetime,
    reason: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    with store.engine.begin() as connection:
        finish_in(connection, request_id, status, reason, detail or {}, require_aware(now))


def finish_audited(
    store: StoreHandle,
    request_id: str,
    address: str,
    event: AuditEvent,
    *,
    now: datetime,
    detail: Mapping[str, Any],
    audit_detail: Mapping[str, DetailValue],
) -> None:
    """Complete the request and log the subject's audit entry for it (:func:`audit`'s) in
    one transaction, one commit instead of two: both are written or neither, and a crash
    before leaves the request received (marked interrupted by the purge)."""
    now = require_aware(now)
    with write_transaction(store) as write:
        audit_in(store, write.connection, address, event, now, detail=audit_detail)
        finish_in(write.connection, request_id, "completed", None, detail, now)


def finish_in(
    connection: sa.Connection, request_id: str, status: RequestStatus, reason: str | None,
    detail: Mapping[str, Any], now: datetime,
) -> None:
    connection.execute(
        sa.update(rights_requests)
        .where(rights_requests.c.id == request_id)
        .values(status=status, reason=reason, completed_at=now, detail=dict(detail))
    )


def list_requests(
    store: StoreHandle, address: str, *, after: tuple[datetime, str] | None = None,
    limit: int | None = None,
) -> list[RequestEntry]:
    """The subject's requests, oldest first (found under every secrets version held):
    those received after ``after`` (a request's ``received_at`` and ``id``: the order's
    key, so a page ends where the last one did however many arrive meanwhile), at most
    ``limit`` of them."""
    refs = refs_of(store.secrets, normalise_address(address))
    query = (
        sa.select(rights_requests)
        .where(rights_requests.c.subject_ref.in_(refs))
        .order_by(rights_requests.c.received_at, rights_requests.c.id)
    )
    if after is not None:
        received_at, request_id = require_aware(after[0]), after[1]
        query = query.where(sa.or_(
            rights_requests.c.received_at > received_at,
            sa.and_(rights_requests.c.received_at == received_at,
                    rights_requests.c.id > request_id),
        ))
    if limit is not None:
        require_positive_int(limit, "limit")
        query = query.limit(limit)
    with store.engine.execution_options(walletauth_read_only=True).begin() as connection:
        rows = connection.execute(query).all()
    return [
        RequestEntry(row.id, row.kind, row.status, row.reason, row.received_at,
                     row.completed_at, row.detail)
        for row in rows
    ]
