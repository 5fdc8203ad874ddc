"""Whole-subject operations behind the wallet owner's rights: read everything, erase in one
transaction, correct user-supplied records in place, log third-party provisions, and
keep the requests log.

These are the store's side of :mod:`walletauth.rights`: they know SQL and the sealing,
and ask the policy layer for decisions; which request is allowed and how it is
answered is decided above.
"""

from __future__ import annotations

import secrets as random
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, TypeGuard

import sqlalchemy as sa

from walletauth.policy.evaluate import decide_collection, decide_provision
from walletauth.store.addresses import normalise_address
from walletauth.store.audit import AuditEntry, read_audit, write_audit
from walletauth.store.consent import ConsentEvent
from walletauth.store.errors import StoreError, policy_errors_as_store_errors, refuse
from walletauth.store.outbox import PendingNotice, enqueue
from walletauth.store.purge import orphan_key_batches
from walletauth.store.records import Record, insert_record, minimised, open_record, seal_data
from walletauth.store.rights_schema import rights_requests, third_party_provisions
from walletauth.store.schema import audit_log, consent_events, records, sessions, subjects
from walletauth.store.store import Store, _require_positive_int
from walletauth.store.subjects import (
    Subject,
    find_with_history,
    refs_of,
    retain_until,
)
from walletauth.store.types import require_aware

RequestStatus = Literal["received", "completed", "denied"]
ChangeOp = Literal["correct", "add", "delete"]
ChangeRefusal = Literal["unknown_record", "not_user_supplied", "undeclared_field"]
"""Why a change set was refused (the rights layer raises these as its own codes)."""

ORPHAN_PAGE = 1000
"""Key ids compared per query (bounded IN lists on both databases)."""
MAX_ROW_ID = 2**63 - 1
"""The largest id a BIGINT row can have: a larger one names no record (and would
overflow the database driver if it were put in a query)."""


@dataclass(frozen=True, slots=True)
class Provision:
    recipient: str
    categories: tuple[str, ...]
    ground: str
    provided_at: datetime
    policy_version: str
    withheld: str | None = None
    """The statutory ground it is withheld from the subject's disclosure on, if any."""


@dataclass(frozen=True, slots=True)
class Dossier:
    """Everything linked to one subject, opened (the subject's own access request)."""

    found: bool
    records: list[Record] = field(default_factory=list)
    events: list[ConsentEvent] = field(default_factory=list)
    provisions: list[Provision] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Retained:
    """Records an erasure keeps because the law requires it (a legal-obligation purpose)."""

    category: str
    purpose: str
    count: int
    until: datetime


@dataclass(frozen=True, slots=True)
class RetainedProvisions:
    """Records of third-party provisions on one ground that an erasure keeps: the law
    requires them for a period (APPI Art. 29, the policy's ``record_retention``)."""

    ground: str
    count: int
    until: datetime
    """When the last of them may go (``walletauth purge`` removes them then)."""
    withheld: str | None = None
    """The statutory ground they are withheld from the subject's disclosure on: their
    ground must not be shown then."""


@dataclass(frozen=True, slots=True)
class Erasure:
    subject_found: bool
    erased: dict[str, int] = field(default_factory=dict)
    """Records removed, per category."""
    consent_events: int = 0
    sessions: int = 0
    provisions: int = 0
    """Provision records removed (only those past their period)."""
    retained: list[Retained] = field(default_factory=list)
    retained_provisions: list[RetainedProvisions] = field(default_factory=list)

    @property
    def anything_retained(self) -> bool:
        return bool(self.retained or self.retained_provisions)


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


@dataclass(frozen=True, slots=True)
class RequestEntry:
    id: str
    kind: str
    status: RequestStatus
    reason: str | None
    received_at: datetime
    completed_at: datetime | None
    detail: Mapping[str, Any]


# ---------------------------------------------------------------------- reading


def read_dossier(store: Store, address: str) -> Dossier:
    """Every record (live or awaiting purge), event, provision and audit entry of the
    subject, in one read transaction."""
    refs = refs_of(store.secrets, _checksum(address))
    with store.engine.execution_options(walletauth_read_only=True).begin() as connection:
        subject, events = find_with_history(connection, refs, lock=False)
        if subject is None:
            return Dossier(found=False)
        rows = connection.execute(
            sa.select(records).where(records.c.subject_id == subject.id).order_by(records.c.id)
        ).all()
        provision_rows = connection.execute(
            sa.select(third_party_provisions)
            .where(third_party_provisions.c.subject_id == subject.id)
            .order_by(third_party_provisions.c.id)
        ).all()
        audit = read_audit(connection, subject.id)
    key = store.keys.get(subject.key_id)
    if key is None:  # erased between the reads: nothing of theirs is readable any more
        return Dossier(found=False)
    return Dossier(
        found=True,
        records=[open_record(row, key) for row in rows],
        events=events,
        provisions=[
            Provision(row.recipient, tuple(row.categories), row.ground, row.provided_at,
                      row.policy_version, row.withheld)
            for row in provision_rows
        ],
        audit=audit,
    )


# ---------------------------------------------------------------------- erasure


def erase_subject(
    store: Store,
    address: str,
    *,
    now: datetime,
    request_id: str | None = None,
    notices: Sequence[PendingNotice] = (),
) -> Erasure:
    """Erase the subject in one transaction, with its request row (``request_id``, when
    the erasure answers a logged request) and its notices.

    Everything goes except live records kept for a purpose resting on a legal obligation
    the policy names (``Policy.legal_duties``) and the records of third-party provisions
    still within the policy's ``record_retention`` (APPI Art. 29), both listed in the
    result. The subject's key is destroyed after the commit when nothing is retained: a
    crash before the commit leaves everything, a crash between commit and key destruction
    leaves an unreferenced random key (see :func:`orphan_keys`), never a subject half
    erased.
    """
    now = require_aware(now)
    checksum = _checksum(address)
    legal = list(store.policy.legal_duties)
    with store.engine.begin() as connection:
        subject, _events = find_with_history(
            connection, refs_of(store.secrets, checksum), lock=True
        )
        erasure = Erasure(subject_found=False)
        if subject is not None:
            erasure = _erase_rows(connection, subject, legal,
                                  store.policy.third_party.record_retention, now)
            for notice in notices:
                enqueue(connection, store.secrets, notice, checksum, now)
        if request_id is not None:
            _finish(connection, request_id, "completed", None, _erasure_detail(erasure), now)
        write_audit(connection, "erasure", at=now, policy_version=store.policy.version,
                    detail={"records": sum(erasure.erased.values()),
                            "retained": sum(r.count for r in erasure.retained),
                            "provisions_retained": sum(
                                p.count for p in erasure.retained_provisions)})
    if subject is not None and not erasure.anything_retained:
        store.keys.destroy([subject.key_id])
    _checkpoint(store)
    return erasure


def _erase_rows(
    connection: sa.Connection, subject: Subject, legal: list[str],
    provision_retention: timedelta, now: datetime,
) -> Erasure:
    kept = sa.and_(records.c.purpose.in_(legal), records.c.expires_at > now)
    mine = records.c.subject_id == subject.id
    erased: dict[str, int] = dict(connection.execute(
        sa.select(records.c.category, sa.func.count())
        .where(mine, sa.not_(kept))
        .group_by(records.c.category)
    ).all())
    retained = [
        Retained(row.category, row.purpose, row.kept, row.until)
        for row in connection.execute(
            sa.select(records.c.category, records.c.purpose,
                      sa.func.count().label("kept"), sa.func.max(records.c.expires_at)
                      .label("until"))
            .where(mine, kept)
            .group_by(records.c.category, records.c.purpose)
            .order_by(records.c.category, records.c.purpose)
        )
    ]
    provisions = third_party_provisions.c
    recorded = sa.and_(provisions.subject_id == subject.id,
                       provisions.provided_at > now - provision_retention)
    retained_provisions = [
        RetainedProvisions(row.ground, row.kept, row.last + provision_retention,
                           row.withheld)
        for row in connection.execute(
            sa.select(provisions.ground, provisions.withheld, sa.func.count().label("kept"),
                      sa.func.max(provisions.provided_at).label("last"))
            .where(recorded).group_by(provisions.ground, provisions.withheld)
            .order_by(provisions.ground, provisions.withheld)
        )
    ]
    counts = {
        name: _count(connection, table, subject.id)
        for name, table in (("consent_events", consent_events), ("sessions", sessions),
                            ("provisions", third_party_provisions))
    }
    counts["provisions"] -= sum(p.count for p in retained_provisions)
    # The processing log stays, without its link to the person.
    connection.execute(
        sa.update(audit_log).where(audit_log.c.subject_id == subject.id).values(subject_id=None)
    )
    if retained or retained_provisions:
        connection.execute(sa.delete(records).where(mine, sa.not_(kept)))
        for table in (consent_events, sessions):
            connection.execute(sa.delete(table).where(table.c.subject_id == subject.id))
        connection.execute(sa.delete(third_party_provisions).where(
            provisions.subject_id == subject.id, sa.not_(recorded)))
    else:
        # Cascades to records, consent events, sessions and provisions.
        connection.execute(sa.delete(subjects).where(subjects.c.id == subject.id))
    return Erasure(subject_found=True, erased=erased, retained=retained,
                   retained_provisions=retained_provisions, **counts)


def _count(connection: sa.Connection, table: sa.Table, subject_id: int) -> int:
    counted = sa.select(sa.func.count()).select_from(table).where(
        table.c.subject_id == subject_id
    )
    if table is sessions:  # a session a refresh replaced is its successor's past, not another
        counted = counted.where(sessions.c.rotated_at.is_(None))
    total: int = connection.execute(counted).scalar_one()
    return total


def _erasure_detail(erasure: Erasure) -> dict[str, Any]:
    return {
        "erased": dict(erasure.erased),
        "consent_events": erasure.consent_events,
        "sessions": erasure.sessions,
        "provisions": erasure.provisions,
        "retained": [
            {"category": r.category, "purpose": r.purpose, "count": r.count,
             "until": r.until.isoformat()}
            for r in erasure.retained
        ],
        "retained_provisions": [
            {"ground": p.ground, "count": p.count, "until": p.until.isoformat()}
            for p in erasure.retained_provisions
        ],
    }


def _checkpoint(store: Store) -> None:
    """SQLite: move the WAL into the database file and truncate it, so pages of erased
    rows do not linger in the WAL (the database file's own pages are zeroed by
    ``secure_delete``). A busy reader only makes this a partial checkpoint."""
    if store.engine.dialect.name != "sqlite":
        return
    # Outside any transaction: SQLAlchemy's autobegin would make the pragma fail.
    raw = store.engine.raw_connection()
    try:
        # driver_connection is typed Any | None (None once detached); this one is checked
        # out just above, so it is the live sqlite3 connection.
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
    except sqlite3.OperationalError:
        pass  # the erasure is committed; the next checkpoint will do
    finally:
        raw.close()


def orphan_keys(store: Store, *, created_before: datetime) -> list[str]:
    """Key ids no subject points at, created before ``created_before`` (keys are made
    just before their subject row, so only old ones can be told apart): what an
    erasure interrupted between its commit and the key's destruction leaves."""
    created_before = require_aware(created_before, "created_before")
    return [key_id for batch in orphan_key_batches(store.engine, store.keys.engine,
                                                  created_before=created_before,
                                                  batch_size=ORPHAN_PAGE)
            for key_id in batch]


# ---------------------------------------------------------------------- corrections


def apply_changes(
    store: Store,
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
    refs = refs_of(store.secrets, _checksum(address))
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
    _checkpoint(store)
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
    store: Store, changes: Sequence[RecordChange], owned: Mapping[int, Any],
    editable: frozenset[str],
) -> list[tuple[int, ChangeRefusal]]:
    refused: list[tuple[int, ChangeRefusal]] = []
    for index, change in enumerate(changes):
        reason = _refusal(store, change, owned, editable)
        if reason is not None:
            refused.append((index, reason))
    return refused


def _refusal(
    store: Store, change: RecordChange, owned: Mapping[int, Any], editable: frozenset[str]
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
    store: Store, connection: sa.Connection, subject: Subject, key: bytes, state: Any,
    change: RecordChange, now: datetime,
) -> int:
    category, purpose = change.category or "", change.purpose or ""
    with policy_errors_as_store_errors():
        refuse(decide_collection(store.policy, category, purpose, state), "addition")
        data = minimised(store.policy, store.secrets, category, change.data or {})
    return insert_record(connection, store.policy, subject.id, key, category, purpose, data,
                         now, "subject_request")


def _correct(
    store: Store, connection: sa.Connection, subject: Subject, key: bytes, row: Any,
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


# ---------------------------------------------------------------------- provisions


def record_provision(
    store: Store,
    address: str,
    recipient: str,
    categories: Iterable[str],
    ground: str,
    *,
    now: datetime,
    withheld: str | None = None,
) -> None:
    """Log that data of ``categories`` went to ``recipient`` on ``ground``, after the
    policy allowed it for the subject's state right now (refused: nothing is logged).

    The one place a provision is recorded (:func:`walletauth.rights.record_provision`
    checks the request and calls it): the row is what the export lists and what an
    erasure keeps for the policy's ``record_retention``. ``withheld`` names the
    statutory ground it is withheld from the subject's disclosure on."""
    now = require_aware(now)
    names = tuple(categories)
    refs = refs_of(store.secrets, _checksum(address))
    with store.engine.begin() as connection:
        subject, events = find_with_history(connection, refs, lock=True)
        with policy_errors_as_store_errors():
            refuse(decide_provision(store.policy, ground, store.state_of(events),
                                    categories=names), "third-party provision")
        if subject is None:
            raise StoreError("unknown_subject", "no data is kept about this address")
        connection.execute(
            sa.insert(third_party_provisions).values(
                subject_id=subject.id, recipient=recipient, categories=list(names),
                ground=ground, provided_at=now, policy_version=store.policy.version,
                withheld=withheld,
            )
        )
        # The subject's export shows its audit entries: a withheld provision's names only
        # the ground it is withheld on.
        shown = {"withheld": withheld} if withheld else {"ground": ground}
        write_audit(connection, "third_party_provision", at=now,
                    policy_version=store.policy.version, subject_id=subject.id,
                    detail={**shown, "categories": len(names)})


# ---------------------------------------------------------------------- requests log


def open_request(store: Store, address: str, kind: str, *, now: datetime) -> str:
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
    store: Store,
    request_id: str,
    status: RequestStatus,
    *,
    now: datetime,
    reason: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    with store.engine.begin() as connection:
        _finish(connection, request_id, status, reason, detail or {}, require_aware(now))


def _finish(
    connection: sa.Connection, request_id: str, status: RequestStatus, reason: str | None,
    detail: Mapping[str, Any], now: datetime,
) -> None:
    connection.execute(
        sa.update(rights_requests)
        .where(rights_requests.c.id == request_id)
        .values(status=status, reason=reason, completed_at=now, detail=dict(detail))
    )


def list_requests(
    store: Store, address: str, *, after: tuple[datetime, str] | None = None,
    limit: int | None = None,
) -> list[RequestEntry]:
    """The subject's requests, oldest first (found under every secrets version held):
    those received after ``after`` (a request's ``received_at`` and ``id``: the order's
    key, so a page ends where the last one did however many arrive meanwhile), at most
    ``limit`` of them."""
    refs = refs_of(store.secrets, _checksum(address))
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
        _require_positive_int(limit, "limit")
        query = query.limit(limit)
    with store.engine.execution_options(walletauth_read_only=True).begin() as connection:
        rows = connection.execute(query).all()
    return [
        RequestEntry(row.id, row.kind, row.status, row.reason, row.received_at,
                     row.completed_at, row.detail)
        for row in rows
    ]


def subject_address(store: Store, address: str) -> str:
    """The EIP-55 form the store files ``address`` under (``invalid_address`` if none)."""
    return _checksum(address)


def _checksum(address: str) -> str:
    return normalise_address(address)


__all__ = [
    "ChangeOutcome",
    "Dossier",
    "Erasure",
    "Provision",
    "RecordChange",
    "RequestEntry",
    "Retained",
    "RetainedProvisions",
    "apply_changes",
    "erase_subject",
    "finish_request",
    "list_requests",
    "open_request",
    "orphan_keys",
    "read_dossier",
    "record_provision",
    "subject_address",
]
