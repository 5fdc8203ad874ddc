"""The audit log of processing events.

An entry names what happened (consent change, export, erasure, third-party provision,
purge...), when, under which policy version, and for which purpose or category;
``detail`` holds counts and flags only. The only link to a person is the subject row
(shown as its keyed ref); erasing the subject cuts that link (``ON DELETE SET NULL``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import sqlalchemy as sa

from walletauth.store.schema import audit_log, subjects

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
]
AUDIT_EVENTS: frozenset[str] = frozenset(AuditEvent.__args__)  # type: ignore[attr-defined]

DetailValue = bool | int | str | None | list[dict[str, str | int]]


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
