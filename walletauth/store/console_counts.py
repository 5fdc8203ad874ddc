"""Read-only queries for the operator's console (:mod:`walletauth.console`).

Everything here reads, never writes, and answers what no single subject's calls can:
the requests log across subjects (each named by its keyed ref, never an address) and
counts over the whole store. No function returns an address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa

from walletauth.store.audit import AuditEntry
from walletauth.store.engines import READ_ONLY
from walletauth.store.errors import StoreError
from walletauth.store.handle import StoreHandle
from walletauth.store.purge import (
    INTERRUPTED_REQUEST_AFTER,
    NOTICE_ABANDON_AFTER,
    OPERATOR_PENDING_MARK,
    REQUESTS_LOG_RETENTION,
    PurgeReport,
)
from walletauth.store.rights_schema import notice_outbox, rights_requests, third_party_provisions
from walletauth.store.schema import (
    audit_log,
    consent_events,
    nonces,
    policy_announcements,
    records,
    sessions,
    subjects,
)
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
    store: StoreHandle, *, status: str | None = None, limit: int = 100,
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


def logged_request(store: StoreHandle, request_id: str) -> LoggedRequest | None:
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


# ---------------------------------------------------------------------- overview counts

EXPIRY_HORIZONS: Final = (30, 90, 365)
CLOSE_BUCKETS: Final = ((1, "under 1 day"), (7, "1-7 days"), (14, "7-14 days"),
                        (30, "14-30 days"), (None, "over 30 days"))


@dataclass(frozen=True, slots=True)
class Overview:
    """Counts over the whole store at ``at``; none of them names anyone."""

    at: datetime
    subjects: int
    records: dict[tuple[str, str], int]
    """Live records per (category, purpose)."""
    consents: list[tuple[datetime, int, int]]
    """Per week (its start, oldest first): consents granted, consents withdrawn."""
    expiring: dict[int, int]
    """Live records expiring within each of :data:`EXPIRY_HORIZONS` days."""
    requests: dict[str, int]
    """Requests-log entries per status."""
    days_to_close: dict[str, int]
    """Requests closed in the last year, per :data:`CLOSE_BUCKETS` label."""
    notices_pending: int
    """Notices in the outbox not yet tried."""
    notices_failed: int
    """Notices in the outbox tried and failed at least once (retried until abandoned)."""


def overview(store: StoreHandle, *, now: datetime, weeks: int = 12) -> Overview:
    """The figures of the console's overview, each one query (bounded, no row per
    subject leaves the database but the closing times of the last year's requests)."""
    now = require_aware(now)
    if not isinstance(weeks, int) or not 1 <= weeks <= 104:
        raise StoreError("invalid_argument", "weeks must be 1 to 104")
    starts = [now - timedelta(weeks=weeks - index) for index in range(weeks + 1)]
    at, value = consent_events.c.at, consent_events.c.value

    def weekly(granted: bool, index: int) -> sa.ColumnElement[Any]:
        inside = sa.and_(at >= starts[index], at < starts[index + 1], value.is_(granted))
        return sa.func.coalesce(sa.func.sum(sa.case((inside, 1), else_=0)), 0)

    expires = records.c.expires_at
    with store.engine.execution_options(**READ_ONLY).begin() as connection:
        subject_count = connection.execute(
            sa.select(sa.func.count()).select_from(subjects)).scalar_one()
        live = connection.execute(
            sa.select(records.c.category, records.c.purpose, sa.func.count())
            .where(expires > now).group_by(records.c.category, records.c.purpose)).all()
        consent_row = connection.execute(
            sa.select(*(weekly(granted, index) for index in range(weeks)
                        for granted in (True, False)))
            .where(consent_events.c.kind == "consent", at >= starts[0])).one()
        expiring_row = connection.execute(sa.select(*(
            sa.func.coalesce(sa.func.sum(sa.case(
                (sa.and_(expires > now, expires <= now + timedelta(days=days)), 1),
                else_=0)), 0) for days in EXPIRY_HORIZONS))).one()
        statuses = connection.execute(
            sa.select(rights_requests.c.status, sa.func.count())
            .group_by(rights_requests.c.status)).all()
        closed = connection.execute(
            sa.select(rights_requests.c.received_at, rights_requests.c.completed_at)
            .where(rights_requests.c.completed_at.is_not(None),
                   rights_requests.c.completed_at > now - timedelta(days=365))).all()
        tried = notice_outbox.c.attempts > 0
        pending, failed = connection.execute(sa.select(
            sa.func.coalesce(sa.func.sum(sa.case((tried, 0), else_=1)), 0),
            sa.func.coalesce(sa.func.sum(sa.case((tried, 1), else_=0)), 0))).one()
    close_counts = {label: 0 for _days, label in CLOSE_BUCKETS}
    for received_at, completed_at in closed:
        elapsed = completed_at - received_at
        label = next(label for days, label in CLOSE_BUCKETS
                     if days is None or elapsed < timedelta(days=days))
        close_counts[label] += 1
    return Overview(
        at=now,
        subjects=int(subject_count),
        records={(row[0], row[1]): int(row[2]) for row in live},
        consents=[(starts[index], int(consent_row[2 * index]), int(consent_row[2 * index + 1]))
                  for index in range(weeks)],
        expiring={days: int(count) for days, count in zip(EXPIRY_HORIZONS, expiring_row,
                                                          strict=True)},
        requests={row[0]: int(row[1]) for row in statuses},
        days_to_close=close_counts,
        notices_pending=int(pending),
        notices_failed=int(failed),
    )


# ---------------------------------------------------------------------- retention dry run


def purge_preview(
    store: StoreHandle, *, now: datetime, requests_retention: timedelta = REQUESTS_LOG_RETENTION,
    notice_abandon_after: timedelta = NOTICE_ABANDON_AFTER,
    interrupted_after: timedelta = INTERRUPTED_REQUEST_AFTER,
) -> PurgeReport:
    """What :meth:`Store.purge` with the same bounds would dispose of at ``now``, counted
    with its own conditions and nothing deleted (a dry run). A subject counts when it
    would be left with nothing once the purge has removed what is due."""
    now = require_aware(now)
    provided_before = now - store.policy.third_party.record_retention
    live_records = sa.exists().where(records.c.subject_id == subjects.c.id,
                                     records.c.expires_at > now)
    kept_provisions = sa.exists().where(
        third_party_provisions.c.subject_id == subjects.c.id,
        third_party_provisions.c.provided_at > provided_before)
    signed_in = sa.exists().where(sessions.c.subject_id == subjects.c.id,
                                  sessions.c.expires_at > now)
    closed_at = sa.func.coalesce(rights_requests.c.completed_at, rights_requests.c.received_at)
    interrupted = sa.and_(
        rights_requests.c.status == "received",
        rights_requests.c.received_at <= now - interrupted_after,
        ~rights_requests.c.kind.contains(OPERATOR_PENDING_MARK, autoescape=True))

    def total(query: sa.Select[Any]) -> int:
        return int(connection.execute(query).scalar_one())

    def rows(table: sa.Table, condition: sa.ColumnElement[bool]) -> int:
        return total(sa.select(sa.func.count()).select_from(table).where(condition))

    with store.engine.execution_options(**READ_ONLY).begin() as connection:
        expired = connection.execute(
            sa.select(records.c.category, records.c.purpose, sa.func.count())
            .where(records.c.expires_at <= now)
            .group_by(records.c.category, records.c.purpose)).all()
        report = PurgeReport(
            records={(row[0], row[1]): int(row[2]) for row in expired},
            subjects=rows(subjects, sa.and_(subjects.c.retained_until <= now, ~live_records,
                                            ~kept_provisions, ~signed_in)),
            nonces=rows(nonces, nonces.c.expires_at <= now),
            sessions=rows(sessions, sessions.c.expires_at <= now),
            requests_interrupted=rows(rights_requests, interrupted),
            # The purge closes the interrupted ones first (closed now): they stay.
            requests_removed=rows(rights_requests, sa.and_(
                closed_at <= now - requests_retention, ~interrupted)),
            notices_abandoned=rows(notice_outbox,
                                   notice_outbox.c.occurred_at <= now - notice_abandon_after),
            provisions=rows(third_party_provisions,
                            third_party_provisions.c.provided_at <= provided_before),
        )
    return report


# ---------------------------------------------------------------------- outbox and policy


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A notice waiting in the outbox; whom it is about stays sealed."""

    notice_id: str
    endpoint: str
    type: str
    occurred_at: datetime
    attempts: int
    next_attempt_at: datetime
    last_error: str | None

    def state(self, now: datetime, abandon_after: timedelta) -> str:
        if self.occurred_at <= now - abandon_after:
            return "abandoned"  # delivery no longer sends it; the next purge deletes it
        return "failed" if self.attempts else "pending"


def outbox(store: StoreHandle, *, limit: int = 200) -> list[OutboxRow]:
    """The outbox's notices, oldest first, at most ``limit`` (1 to :data:`MAX_ROWS`)."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_ROWS:
        raise StoreError("invalid_argument", f"limit must be 1 to {MAX_ROWS}")
    query = (sa.select(notice_outbox.c.notice_id, notice_outbox.c.endpoint, notice_outbox.c.type,
                       notice_outbox.c.occurred_at, notice_outbox.c.attempts,
                       notice_outbox.c.next_attempt_at, notice_outbox.c.last_error)
             .order_by(notice_outbox.c.occurred_at, notice_outbox.c.notice_id).limit(limit))
    with store.engine.execution_options(**READ_ONLY).begin() as connection:
        return [OutboxRow(*row) for row in connection.execute(query)]


@dataclass(frozen=True, slots=True)
class VersionConsents:
    policy_version: str
    purpose: str
    granted: int
    withdrawn: int


def consents_per_version(store: StoreHandle) -> list[VersionConsents]:
    """Consent events per policy version and purpose: how many were granted and
    withdrawn under each version (the history, not today's state)."""
    granted = sa.func.coalesce(sa.func.sum(sa.case((consent_events.c.value.is_(True), 1),
                                                   else_=0)), 0)
    withdrawn = sa.func.coalesce(sa.func.sum(sa.case((consent_events.c.value.is_(False), 1),
                                                     else_=0)), 0)
    query = (sa.select(consent_events.c.policy_version, consent_events.c.purpose, granted,
                       withdrawn)
             .where(consent_events.c.kind == "consent")
             .group_by(consent_events.c.policy_version, consent_events.c.purpose)
             .order_by(consent_events.c.policy_version, consent_events.c.purpose))
    with store.engine.execution_options(**READ_ONLY).begin() as connection:
        return [VersionConsents(row[0], row[1] or "", int(row[2]), int(row[3]))
                for row in connection.execute(query)]


def versions_seen(store: StoreHandle) -> list[tuple[str, str, datetime]]:
    """(policy id, version, first seen) of every version this database has served."""
    query = sa.select(policy_announcements.c.policy_id, policy_announcements.c.version,
                      policy_announcements.c.seen_at).order_by(policy_announcements.c.seen_at)
    with store.engine.execution_options(**READ_ONLY).begin() as connection:
        return [(row[0], row[1], row[2]) for row in connection.execute(query)]


def third_party_counts(store: StoreHandle) -> dict[str, int]:
    """Records of provisions to third parties held now, per ground."""
    query = (sa.select(third_party_provisions.c.ground, sa.func.count())
             .group_by(third_party_provisions.c.ground))
    with store.engine.execution_options(**READ_ONLY).begin() as connection:
        return {row[0]: int(row[1]) for row in connection.execute(query)}


def audit_page(
    store: StoreHandle, *, event: str | None = None, limit: int = 100
) -> list[AuditEntry]:
    """The newest ``limit`` entries of the audit log (of one ``event`` if given), newest
    first, each with its subject's keyed ref while the subject exists."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_ROWS:
        raise StoreError("invalid_argument", f"limit must be 1 to {MAX_ROWS}")
    query = (sa.select(audit_log, subjects.c.ref)
             .select_from(audit_log.outerjoin(subjects, audit_log.c.subject_id == subjects.c.id))
             .order_by(audit_log.c.id.desc()).limit(limit))
    if event is not None:
        query = query.where(audit_log.c.event == event)
    with store.engine.execution_options(**READ_ONLY).begin() as connection:
        return [AuditEntry(id=row.id, at=row.at, event=row.event, subject_ref=row.ref,
                           purpose=row.purpose, category=row.category, detail=row.detail,
                           policy_version=row.policy_version)
                for row in connection.execute(query)]
