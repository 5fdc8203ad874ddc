"""The audit log of processing events.

An entry names what happened (consent change, export, erasure, third-party provision,
purge...), when, under which policy version, and for which purpose or category;
``detail`` holds counts and flags only. The only link to a person is the subject row
(shown as its keyed ref); erasing the subject cuts that link (``ON DELETE SET NULL``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, get_args

import sqlalchemy as sa

from walletauth.store.errors import StoreError
from walletauth.store.handle import StoreHandle, find_subject, write_transaction
from walletauth.store.schema import audit_log, subjects
from walletauth.store.types import require_aware

AuditEvent = Literal[
    "consent_change",
    "suspension",
    "suspension_lifted",
    "third_party_stop",
    "age_confirmation",
    "guardian_consent",
    "export",
    "erasure",
    "correction",
    "third_party_provision",
    "purge",
    "secrets_rotation",
    # An operator's act in the console (walletauth.console): who (a keyed ref, never the
    # address), the reason they gave, and what they did on whose behalf.
    "operator_action",
]
AUDIT_EVENTS: frozenset[str] = frozenset(get_args(AuditEvent))

DetailValue = bool | int | str | None | list[dict[str, str | int]]

# The one identifier the log must never hold in the clear, in any case or inside a text.
_ADDRESS_IN_TEXT: Final = re.compile(r"0x[0-9a-fA-F]{40}")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    event: str
    subject_ref: str | None
    purpose: str | None
    category: str | None
    detail: Mapping[str, DetailValue]
    policy_version: str


def write_audit(
    connection: sa.Connection,
    event: AuditEvent,
    *,
    at: datetime,
    policy_version: str,
    subject_id: int | None = None,
    purpose: str | None = None,
    category: str | None = None,
    detail: Mapping[str, DetailValue] | None = None,
) -> None:
    """Append one entry; an unknown ``event`` or a ``detail`` that is not counts, flags
    and ids (``DetailValue``) is refused with ``invalid_argument`` before anything is
    written."""
    if event not in AUDIT_EVENTS:
        raise StoreError("invalid_argument", f"unknown audit event {event!r}")
    _check_detail(detail or {})
    connection.execute(
        sa.insert(audit_log).values(
            at=at,
            event=event,
            subject_id=subject_id,
            purpose=purpose,
            category=category,
            detail=dict(detail or {}),
            policy_version=policy_version,
        )
    )


def _check_detail(detail: Mapping[Any, object]) -> None:
    # Any keys: callers outside typed code reach here too, so the keys are checked below.
    for name, value in detail.items():
        if not isinstance(name, str):
            raise StoreError("invalid_argument", f"audit detail keys are text, got {name!r}")
        if isinstance(value, list):
            for row in value:
                _check_row(name, row)
        else:
            _check_scalar(name, value, (bool, int, str, type(None)))


def _check_row(name: str, row: object) -> None:
    if not isinstance(row, dict):
        raise StoreError("invalid_argument", f"audit detail {name!r} holds rows of text and counts")
    for key, value in row.items():
        if not isinstance(key, str):
            raise StoreError("invalid_argument", f"audit detail keys are text, got {key!r}")
        _check_scalar(f"{name}.{key}", value, (int, str))


def _check_scalar(name: str, value: object, allowed: tuple[type, ...]) -> None:
    if not isinstance(value, allowed):
        raise StoreError(
            "invalid_argument",
            f"audit detail {name!r} must be a count, flag or id, got {type(value).__name__}",
        )
    if isinstance(value, str) and _ADDRESS_IN_TEXT.search(value):
        raise StoreError(
            "invalid_argument", f"audit detail {name!r} holds a wallet address; it never may"
        )


def read_audit(connection: sa.Connection, subject_id: int | None) -> list[AuditEntry]:
    """The whole log (``subject_id`` None), or one subject's entries, oldest first."""
    query = (
        sa.select(audit_log, subjects.c.ref)
        .select_from(audit_log.outerjoin(subjects, audit_log.c.subject_id == subjects.c.id))
        .order_by(audit_log.c.id)
    )
    if subject_id is not None:
        query = query.where(audit_log.c.subject_id == subject_id)
    return [
        AuditEntry(
            id=row.id,
            at=row.at,
            event=row.event,
            subject_ref=row.ref,
            purpose=row.purpose,
            category=row.category,
            detail=row.detail,
            policy_version=row.policy_version,
        )
        for row in connection.execute(query)
    ]


def log_event(
    store: StoreHandle,
    connection: sa.Connection,
    event: AuditEvent,
    now: datetime,
    subject_id: int | None,
    *,
    purpose: str | None = None,
    category: str | None = None,
    detail: Mapping[str, DetailValue] | None = None,
) -> None:
    """:func:`write_audit` under the policy version in force."""
    write_audit(connection, event, at=now, policy_version=store.policy.version,
                subject_id=subject_id, purpose=purpose, category=category, detail=detail)


def audit(
    store: StoreHandle,
    address: str | None,
    event: AuditEvent,
    *,
    now: datetime,
    purpose: str | None = None,
    category: str | None = None,
    detail: Mapping[str, DetailValue] | None = None,
) -> None:
    """Log a processing event done above the store (an export, a correction...).

    ``detail`` must hold counts and flags only, never personal data.
    """
    now = require_aware(now)
    with write_transaction(store) as write:
        audit_in(store, write.connection, address, event, now, purpose=purpose,
                 category=category, detail=detail)


def audit_in(
    store: StoreHandle,
    connection: sa.Connection,
    address: str | None,
    event: AuditEvent,
    now: datetime,
    *,
    purpose: str | None = None,
    category: str | None = None,
    detail: Mapping[str, DetailValue] | None = None,
) -> None:
    """:func:`audit` in ``connection``'s transaction, with the writes it belongs to."""
    subject_id = None
    if address is not None:
        subject, _events = find_subject(store, connection, address)
        subject_id = None if subject is None else subject.id
    log_event(store, connection, event, now, subject_id, purpose=purpose,
              category=category, detail=detail)


def audit_entries(store: StoreHandle, address: str | None = None) -> list[AuditEntry]:
    """The whole audit log, or one subject's own entries (for export)."""
    with store.reader.begin() as connection:
        if address is None:
            return read_audit(connection, None)
        subject, _events = find_subject(store, connection, address)
        return [] if subject is None else read_audit(connection, subject.id)
