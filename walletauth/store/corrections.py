"""The subject's corrections: user-supplied records corrected in place, added or deleted,
all or nothing (the store's side of :func:`walletauth.rights.correct`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeGuard

import sqlalchemy as sa

from walletauth.policy.evaluate import decide_collection
from walletauth.store.addresses import normalise_address
from walletauth.store.audit import write_audit
from walletauth.store.errors import StoreError, policy_errors_as_store_errors, refuse
from walletauth.store.handle import StoreHandle, checkpoint
from walletauth.store.records import insert_record, minimised, seal_data
from walletauth.store.schema import records
from walletauth.store.subjects import Subject, find_with_history, refs_of, retain_until
from walletauth.store.types import require_aware

ChangeOp = Literal["correct", "add", "delete"]
ChangeRefusal = Literal["unknown_record", "not_user_supplied", "undeclared_field"]
"""Why a change set was refused (the rights layer raises these as its own codes)."""

MAX_ROW_ID = 2**63 - 1
"""The largest id a BIGINT row can have: a larger one names no record (and would
overflow the database driver if it were put in a query)."""


@dataclass(frozen=True, slots=True)
class RecordChange:
    """One change to a user-supplied record: correct or delete ``record_id``, or add a
    record of ``category`` for ``purpose``."""

    op: ChangeOp
    record_id: int | None = None
    category: str | None = None
    purpose: str | None = None
    data: Mapping[str, object] | None = None


@dataclass(frozen=True, slots=True)
class ChangeOutcome:
    """What a change set did, or (``refused`` non-empty) why nothing was changed."""

    refused: list[tuple[int, ChangeRefusal]] = field(default_factory=list)
    """(index of the change, reason): ``unknown_record``, ``not_user_supplied`` or
    ``undeclared_field``."""
    corrected: int = 0
    added: list[int] = field(default_factory=list)
    deleted: int = 0


def apply_changes(
    store: StoreHandle,
    address: str,
    changes: Sequence[RecordChange],
    *,
    editable: frozenset[str],
    now: datetime,
) -> ChangeOutcome:
    """Correct, add and delete records of ``editable`` categories, all or nothing.

    A correction overwrites the sealed data in place and a deletion deletes the row:
    the old value is not kept (SQLite pages are zeroed by ``secure_delete``).
    """
    now = require_aware(now)
    refs = refs_of(store.secrets, normalise_address(address))
    with store.engine.begin() as connection:
        subject, events = find_with_history(connection, refs, lock=True)
        if subject is None:
            raise StoreError("unknown_subject", "no data is kept about this address")
        owned = _owned_records(connection, subject, changes)
        refused = _refusals(store, changes, owned, editable)
        if refused:
            return ChangeOutcome(refused=refused)
        key = store.keys.require(subject.key_id)
        state = store.state_of(events)
        corrected, added, deleted = 0, [], 0
        for change in changes:
            if change.op == "add":
                added.append(_add(store, connection, subject, key, state, change, now))
            elif change.op == "correct":
                _correct(store, connection, subject, key, owned[change.record_id or 0], change,
                         now)
                corrected += 1
            else:
                connection.execute(sa.delete(records).where(records.c.id == change.record_id))
                deleted += 1
        write_audit(connection, "correction", at=now, policy_version=store.policy.version,
                    subject_id=subject.id,
                    detail={"corrected": corrected, "added": len(added), "deleted": deleted})
    checkpoint(store)
    return ChangeOutcome(corrected=corrected, added=added, deleted=deleted)


def _owned_records(
    connection: sa.Connection, subject: Subject, changes: Sequence[RecordChange]
) -> dict[int, Any]:
    ids = [c.record_id for c in changes if c.op != "add" and _row_id(c.record_id)]
    if not ids:
        return {}
    rows = connection.execute(
        sa.select(records.c.id, records.c.category, records.c.purpose)
        .where(records.c.subject_id == subject.id, records.c.id.in_(ids))
    ).all()
    return {row.id: row for row in rows}


def _row_id(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ROW_ID


def _refusals(
    store: StoreHandle, changes: Sequence[RecordChange], owned: Mapping[int, Any],
    editable: frozenset[str],
) -> list[tuple[int, ChangeRefusal]]:
    refused: list[tuple[int, ChangeRefusal]] = []
    for index, change in enumerate(changes):
        reason = _refusal(store, change, owned, editable)
        if reason is not None:
            refused.append((index, reason))
    return refused


def _refusal(
    store: StoreHandle, change: RecordChange, owned: Mapping[int, Any], editable: frozenset[str]
) -> ChangeRefusal | None:
    if change.op == "add":
        category = change.category
    elif not _row_id(change.record_id) or change.record_id not in owned:
        return "unknown_record"
    else:
        category = owned[change.record_id].category
    if category not in editable:
        return "not_user_supplied"
    declared = store.policy.categories[category].fields
    if change.data is not None and not set(change.data) <= set(declared):
        return "undeclared_field"
    return None


def _add(
    store: StoreHandle, connection: sa.Connection, subject: Subject, key: bytes, state: Any,
    change: RecordChange, now: datetime,
) -> int:
    category, purpose = change.category or "", change.purpose or ""
    with policy_errors_as_store_errors():
        refuse(decide_collection(store.policy, category, purpose, state), "addition")
        data = minimised(store.policy, store.secrets, category, change.data or {})
    return insert_record(connection, store.policy, subject.id, key, category, purpose, data,
                         now, "subject_request")


def _correct(
    store: StoreHandle, connection: sa.Connection, subject: Subject, key: bytes, row: Any,
    change: RecordChange, now: datetime,
) -> None:
    with policy_errors_as_store_errors():
        data = minimised(store.policy, store.secrets, row.category, change.data or {})
    expires_at = now + store.policy.retention(row.category, row.purpose)
    connection.execute(
        sa.update(records)
        .where(records.c.id == row.id)
        .values(data=seal_data(key, row.category, row.purpose, data), updated_at=now,
                expires_at=expires_at, policy_version=store.policy.version)
    )
    retain_until(connection, subject.id, expires_at)
