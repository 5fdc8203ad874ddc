"""Retention: dispose of everything past its time, in short batches.

Each batch is its own short transaction, so purging never holds locks for long and
runs safely beside live traffic; running it again finds nothing more to do. The
report (and the audit entry written from it) holds counts only.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from walletauth.store.audit import log_event
from walletauth.store.errors import StoreError
from walletauth.store.handle import StoreHandle, require_positive_int
from walletauth.store.keyschema import subject_keys
from walletauth.store.rights_schema import (
    notice_outbox,
    rights_requests,
    third_party_provisions,
)
from walletauth.store.schema import nonces, records, sessions, subjects
from walletauth.store.types import require_aware

REQUESTS_LOG_RETENTION: Final = timedelta(days=3 * 365)
"""How long a closed rights request stays in the requests log: receipts must outlive the
erasure they record long enough to prove that it was done (limitation periods run to
about three years), and no longer."""
NOTICE_ABANDON_AFTER: Final = timedelta(days=30)
"""How long an undelivered notice is retried before it is given up: a receiver gone
for a month is gone, and the sealed address must not wait for it for ever."""
INTERRUPTED_REQUEST_AFTER: Final = timedelta(hours=1)
"""A request of the wallet's own still ``received`` this long after it arrived was
interrupted (the process died mid-transaction): each runs in well under a second."""
OPERATOR_PENDING_MARK: Final = ":"
"""Requests a service handed over are logged as ``<kind>:<service>`` and wait for the
operator, not for walletauth: they are never closed as interrupted."""

ORPHAN_KEY_GRACE: Final = timedelta(hours=1)
"""How old an unreferenced key must be before purge destroys it: a sign-in makes its
subject's key just before the subject row, so a younger one may be in flight."""


@dataclass(frozen=True, slots=True)
class PurgeReport:
    records: dict[tuple[str, str], int] = field(default_factory=dict)
    """(category, purpose) -> records disposed of."""
    subjects: int = 0
    """Subjects removed with their key: nothing of theirs was left."""
    nonces: int = 0
    sessions: int = 0
    orphan_keys: int = 0
    """Subject keys no subject pointed at (left by an interrupted erasure), destroyed."""
    requests_interrupted: int = 0
    """Requests left ``received`` by a dead process, closed as denied (``interrupted``)."""
    requests_removed: int = 0
    """Requests-log entries past the log's retention, deleted."""
    notices_abandoned: int = 0
    """Undelivered notices past the retry period, deleted."""
    provisions: int = 0
    """Records of third-party provisions past the policy's ``record_retention``, deleted."""

    @property
    def records_removed(self) -> int:
        return sum(self.records.values())

    @property
    def anything_removed(self) -> bool:
        return bool(
            self.records_removed or self.subjects or self.nonces or self.sessions
            or self.orphan_keys or self.requests_interrupted or self.requests_removed
            or self.notices_abandoned or self.provisions
        )

    def audit_detail(self) -> dict[str, int | list[dict[str, str | int]]]:
        return {
            "records": [
                {"category": category, "purpose": purpose, "count": count}
                for (category, purpose), count in sorted(self.records.items())
            ],
            "subjects": self.subjects,
            "nonces": self.nonces,
            "sessions": self.sessions,
            "orphan_keys": self.orphan_keys,
            "requests_interrupted": self.requests_interrupted,
            "requests_removed": self.requests_removed,
            "notices_abandoned": self.notices_abandoned,
            "provisions": self.provisions,
        }


def expired_records_batch(
    connection: sa.Connection, now: datetime, batch_size: int
) -> Counter[tuple[str, str]]:
    """Delete up to ``batch_size`` expired records; count them per (category, purpose)."""
    # SKIP LOCKED (PostgreSQL): two purges running at once take different rows.
    chosen = (
        sa.select(records.c.id)
        .where(records.c.expires_at <= now)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )
    deleted = connection.execute(
        sa.delete(records)
        .where(records.c.id.in_(chosen.scalar_subquery()))
        .returning(records.c.category, records.c.purpose)
    ).all()
    return Counter((row.category, row.purpose) for row in deleted)


def _left_with_nothing(now: datetime) -> sa.ColumnElement[bool]:
    has_records = sa.exists().where(records.c.subject_id == subjects.c.id)
    # A provision's record keeps its subject (and key) until it is purged itself.
    has_provisions = sa.exists().where(third_party_provisions.c.subject_id == subjects.c.id)
    signed_in = sa.exists().where(
        sessions.c.subject_id == subjects.c.id, sessions.c.expires_at > now
    )
    return sa.and_(subjects.c.retained_until <= now, ~has_records, ~has_provisions, ~signed_in)


def old_provisions_batch(
    connection: sa.Connection, *, provided_before: datetime, batch_size: int
) -> int:
    """Delete up to ``batch_size`` records of provisions made before ``provided_before``."""
    chosen = (sa.select(third_party_provisions.c.id)
              .where(third_party_provisions.c.provided_at <= provided_before)
              .limit(batch_size).with_for_update(skip_locked=True))
    return connection.execute(
        sa.delete(third_party_provisions)
        .where(third_party_provisions.c.id.in_(chosen.scalar_subquery()))
    ).rowcount


def empty_subjects_batch(connection: sa.Connection, now: datetime, batch_size: int) -> list[str]:
    """Delete up to ``batch_size`` subjects with no record left; returns their key ids.

    A sign-in in flight holds its subject's row (PostgreSQL): the chooser skips it, and a
    row a sign-in changed after this statement began is checked against the condition
    again on its new version (``retained_until`` moved), so that subject stays. The
    condition in the DELETE itself is the second guard: without the chooser's lock, the
    DELETE would wait for the sign-in and re-check the row it deletes
    (tests/store/test_purge_races.py fails only with both gone).
    """
    chosen = (
        sa.select(subjects.c.id)
        .where(_left_with_nothing(now))
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )
    deleted = connection.execute(
        sa.delete(subjects)
        .where(subjects.c.id.in_(chosen.scalar_subquery()), _left_with_nothing(now))
        .returning(subjects.c.key_id)
    ).all()
    return [row.key_id for row in deleted]


def expired_rows_batch(
    connection: sa.Connection, table: sa.Table, now: datetime, batch_size: int
) -> int:
    """Delete up to ``batch_size`` expired rows of a short-lived-state table."""
    key = list(table.primary_key.columns)
    chosen = sa.select(*key).where(table.c.expires_at <= now).limit(batch_size)
    if len(key) == 1:
        condition = key[0].in_(chosen.scalar_subquery())
    else:
        condition = sa.tuple_(*key).in_(chosen)
    return connection.execute(sa.delete(table).where(condition)).rowcount


def interrupted_requests_batch(
    connection: sa.Connection, *, received_before: datetime, now: datetime, batch_size: int
) -> int:
    """Close up to ``batch_size`` of the wallet's own requests still ``received`` since
    before ``received_before`` as denied, reason ``interrupted``."""
    stale = sa.and_(
        rights_requests.c.status == "received",
        rights_requests.c.received_at <= received_before,
        ~rights_requests.c.kind.contains(OPERATOR_PENDING_MARK, autoescape=True),
    )
    # As in empty_subjects_batch: the chooser's lock and ``stale`` in the UPDATE each keep
    # a close in flight from being overwritten as interrupted.
    chosen = (sa.select(rights_requests.c.id).where(stale).limit(batch_size)
              .with_for_update(skip_locked=True))
    return connection.execute(
        sa.update(rights_requests)
        .where(rights_requests.c.id.in_(chosen.scalar_subquery()), stale)
        .values(status="denied", reason="interrupted", completed_at=now)
    ).rowcount


def old_requests_batch(connection: sa.Connection, *, before: datetime, batch_size: int) -> int:
    """Delete up to ``batch_size`` requests-log entries closed (or, never closed,
    received) before ``before``."""
    closed_at = sa.func.coalesce(rights_requests.c.completed_at, rights_requests.c.received_at)
    chosen = sa.select(rights_requests.c.id).where(closed_at <= before).limit(batch_size)
    return connection.execute(
        sa.delete(rights_requests).where(rights_requests.c.id.in_(chosen.scalar_subquery()))
    ).rowcount


def abandoned_notices_batch(
    connection: sa.Connection, *, occurred_before: datetime, batch_size: int
) -> int:
    """Delete up to ``batch_size`` undelivered notices that occurred before
    ``occurred_before``."""
    key = sa.tuple_(notice_outbox.c.notice_id, notice_outbox.c.endpoint)
    chosen = (sa.select(notice_outbox.c.notice_id, notice_outbox.c.endpoint)
              .where(notice_outbox.c.occurred_at <= occurred_before).limit(batch_size))
    return connection.execute(sa.delete(notice_outbox).where(key.in_(chosen))).rowcount


def orphan_key_batches(
    records_engine: sa.Engine, key_engine: sa.Engine, *, created_before: datetime,
    batch_size: int,
) -> Iterator[list[str]]:
    """Key ids no subject points at, created before ``created_before``, a page at a time.

    The two databases are apart, so this pages through the key store by key id and asks
    the records database which ids of each page no subject holds (see
    :func:`_unused_key_ids`). Every key is checked on every run: a key left by an
    interrupted erasure may be as old as its subject, so no watermark would find it.
    """
    after = ""
    while True:
        page = _key_page(key_engine, created_before=created_before, after=after,
                         limit=batch_size)
        if not page:
            return
        with records_engine.begin() as connection:
            orphans = _unused_key_ids(connection, page)
        if orphans:
            yield orphans
        after = page[-1]


def _key_page(key_engine: sa.Engine, *, created_before: datetime, after: str,
              limit: int) -> list[str]:
    with key_engine.begin() as connection:
        return list(connection.execute(
            sa.select(subject_keys.c.key_id)
            .where(subject_keys.c.created_at < created_before, subject_keys.c.key_id > after)
            .order_by(subject_keys.c.key_id)
            .limit(limit)
        ).scalars().all())


def _unused_key_ids(connection: sa.Connection, page: list[str]) -> list[str]:
    """The ids of ``page`` that no subject holds, in one statement with one parameter.

    The page goes as one text (comma-separated on PostgreSQL: key ids are hex; a JSON
    array on SQLite), and only the unused ids come back. An expanding ``IN`` rendered and
    bound a parameter per id and returned every used one, about 15 us a key: at a million
    subjects most of a purge (benchmarks/README.md, "Big data")."""
    candidates: sa.TableValuedAlias
    if connection.dialect.name == "postgresql":
        candidates = sa.func.unnest(sa.func.string_to_array(
            sa.bindparam("page", ",".join(page), type_=sa.String()), sa.literal_column("','"),
            type_=ARRAY(sa.String()),
        )).table_valued("value").render_derived()
    else:
        candidates = sa.func.json_each(
            sa.bindparam("page", json.dumps(page), type_=sa.String())
        ).table_valued("value")
    unused = sa.select(candidates.c.value).where(
        ~sa.exists().where(subjects.c.key_id == candidates.c.value)
    )
    return [str(key_id) for key_id in connection.execute(unused).scalars()]


SHORT_LIVED = {"nonces": nonces, "sessions": sessions}


def purge(
    store: StoreHandle, *, now: datetime, batch_size: int = 5000,
    orphan_grace: timedelta = ORPHAN_KEY_GRACE,
    requests_retention: timedelta = REQUESTS_LOG_RETENTION,
    notice_abandon_after: timedelta = NOTICE_ABANDON_AFTER,
    interrupted_after: timedelta = INTERRUPTED_REQUEST_AFTER,
) -> PurgeReport:
    """Dispose of every record past ``expires_at``, records of third-party provisions
    past the policy's ``record_retention``, subjects left with nothing (with their
    key), expired nonces and sessions, and subject keys no subject points at that are
    older than ``orphan_grace``.

    The service's own bookkeeping too: the wallet's requests still ``received``
    ``interrupted_after`` after they arrived are closed as denied (``interrupted``),
    requests-log entries closed more than ``requests_retention`` ago are deleted,
    and notices undelivered ``notice_abandon_after`` after they occurred are
    abandoned.

    Batches of ``batch_size`` rows, each in its own short transaction; idempotent.
    An audit entry with counts per category and purpose is written when anything
    was disposed of.
    """
    now = require_aware(now)
    require_positive_int(batch_size, "batch_size")
    _check_bounds(orphan_grace, requests_retention, notice_abandon_after, interrupted_after)
    engine = store.engine
    removed: dict[tuple[str, str], int] = {}
    # Before the subjects: a subject whose last provision record goes is then empty.
    provisions = _batched(
        engine, old_provisions_batch,
        provided_before=now - store.policy.third_party.record_retention, batch_size=batch_size)
    while True:
        with engine.begin() as connection:
            batch = expired_records_batch(connection, now, batch_size)
        for pair, count in batch.items():
            removed[pair] = removed.get(pair, 0) + count
        if sum(batch.values()) < batch_size:
            break
    subjects_removed = _purge_empty_subjects(store, now, batch_size)
    short_lived = {
        name: _purge_table(engine, table, now, batch_size) for name, table in SHORT_LIVED.items()
    }
    orphans = _destroy_orphan_keys(store, now, orphan_grace, batch_size)
    bookkeeping = {
        "requests_interrupted": _batched(
            engine, interrupted_requests_batch, received_before=now - interrupted_after,
            now=now, batch_size=batch_size),
        "requests_removed": _batched(
            engine, old_requests_batch, before=now - requests_retention, batch_size=batch_size),
        "notices_abandoned": _batched(
            engine, abandoned_notices_batch, occurred_before=now - notice_abandon_after,
            batch_size=batch_size),
    }
    report = PurgeReport(records=removed, subjects=subjects_removed, **short_lived,
                         orphan_keys=orphans, provisions=provisions, **bookkeeping)
    if report.anything_removed:
        with engine.begin() as connection:
            log_event(store, connection, "purge", now, None, detail=report.audit_detail())
    return report


def _check_bounds(orphan_grace: timedelta, requests_retention: timedelta,
                  notice_abandon_after: timedelta, interrupted_after: timedelta) -> None:
    if not isinstance(orphan_grace, timedelta) or orphan_grace < timedelta(0):
        raise StoreError("invalid_argument", "orphan_grace must be a timedelta >= 0")
    for name, bound in (("requests_retention", requests_retention),
                        ("notice_abandon_after", notice_abandon_after),
                        ("interrupted_after", interrupted_after)):
        if not isinstance(bound, timedelta) or bound <= timedelta(0):
            raise StoreError("invalid_argument", f"{name} must be a timedelta > 0")


PHASES: Final = ("provisions", "records", "subjects", "nonces", "sessions", "orphan_keys",
                 "requests_interrupted", "requests_removed", "notices_abandoned")
"""The purge's phases in :func:`purge`'s order (each must be exhausted before the next:
a subject is empty only once its records and provisions are gone)."""
MAX_STEP_BUDGET: Final = 10_000
"""The most rows one :func:`purge_step` may touch: a step is one short request."""
_RESUME: Final = re.compile(r"(?P<phase>[0-9])(?::(?P<after>[0-9a-zA-Z_-]{1,128}))?")


@dataclass(frozen=True, slots=True)
class PurgeStep:
    """What one :func:`purge_step` disposed of, what a purge would still dispose of (the
    dry run's counts, :func:`~walletauth.store.console_counts.purge_preview`), and where
    the next step resumes (None once every phase is exhausted)."""

    done: PurgeReport
    left: PurgeReport
    resume: str | None

    @property
    def finished(self) -> bool:
        return self.resume is None


def purge_step(
    store: StoreHandle, *, now: datetime, budget: int, resume: str = "",
    orphan_grace: timedelta = ORPHAN_KEY_GRACE,
    requests_retention: timedelta = REQUESTS_LOG_RETENTION,
    notice_abandon_after: timedelta = NOTICE_ABANDON_AFTER,
    interrupted_after: timedelta = INTERRUPTED_REQUEST_AFTER,
) -> PurgeStep:
    """One bounded step of :func:`purge`: at most ``budget`` rows disposed of (subject
    keys looked at count too), one batch per phase, from the phase ``resume`` names
    (``""``: the first) on; the next step is to be called with the answer's ``resume``.

    Nothing is kept between steps but ``resume``, so any process may take the next one.
    Steps with the same ``now`` until finished dispose of exactly what one :func:`purge`
    would; a ``resume`` altered by its holder can only skip work, never widen it (the
    conditions come from ``now`` and the bounds). Each step that disposed of anything
    writes its own ``purge`` audit entry with its counts.
    """
    now = require_aware(now)
    require_positive_int(budget, "budget")
    if budget > MAX_STEP_BUDGET:
        raise StoreError("invalid_argument", f"budget is at most {MAX_STEP_BUDGET}")
    _check_bounds(orphan_grace, requests_retention, notice_abandon_after, interrupted_after)
    matched = _RESUME.fullmatch(resume) if resume else None
    if resume and (matched is None or int(matched["phase"]) >= len(PHASES) or (
            matched["after"] is not None
            and PHASES[int(matched["phase"])] != "orphan_keys")):
        raise StoreError("invalid_argument", f"resume {resume[:40]!r} is no step of a purge")
    first = int(matched["phase"]) if matched else 0
    after = (matched["after"] or "") if matched else ""
    engine = store.engine
    remaining = budget
    done: dict[str, int] = {}
    removed: Counter[tuple[str, str]] = Counter()
    next_resume: str | None = None
    for index in range(first, len(PHASES)):
        name = PHASES[index]
        if name == "orphan_keys":
            created_before = min(now, datetime.now(UTC)) - orphan_grace
            page = _key_page(store.keys.engine, created_before=created_before,
                             after=after if index == first else "", limit=remaining)
            if page:
                with engine.begin() as connection:
                    orphans = _unused_key_ids(connection, page)
                done[name] = store.keys.destroy(orphans) if orphans else 0
            if len(page) == remaining:
                next_resume = f"{index}:{page[-1]}"
                break
            remaining -= len(page)
            continue
        if name == "subjects":
            with engine.begin() as connection:
                key_ids = empty_subjects_batch(connection, now, remaining)
            store.keys.destroy(key_ids)  # rows first, keys after, as in purge
            count = len(key_ids)
        else:
            with engine.begin() as connection:
                count = _one_batch(store, connection, name, now, remaining,
                                   requests_retention=requests_retention,
                                   notice_abandon_after=notice_abandon_after,
                                   interrupted_after=interrupted_after, removed=removed)
        if name != "records":
            done[name] = count
        if count == remaining:
            next_resume = str(index)
            break
        remaining -= count
    report = PurgeReport(records=dict(removed), **done)
    if report.anything_removed:
        with engine.begin() as connection:
            log_event(store, connection, "purge", now, None, detail=report.audit_detail())
    # Imported here: console_counts reads this module's conditions.
    from walletauth.store.console_counts import purge_preview

    left = purge_preview(store, now=now, requests_retention=requests_retention,
                         notice_abandon_after=notice_abandon_after,
                         interrupted_after=interrupted_after)
    return PurgeStep(done=report, left=left, resume=next_resume)


def _one_batch(
    store: StoreHandle, connection: sa.Connection, name: str, now: datetime, size: int, *,
    requests_retention: timedelta, notice_abandon_after: timedelta,
    interrupted_after: timedelta, removed: Counter[tuple[str, str]],
) -> int:
    """One batch of the phase ``name`` (any but the subjects' and the orphan keys',
    which reach the key store too), in ``connection``."""
    if name == "provisions":
        return old_provisions_batch(
            connection, provided_before=now - store.policy.third_party.record_retention,
            batch_size=size)
    if name == "records":
        batch = expired_records_batch(connection, now, size)
        removed.update(batch)
        return sum(batch.values())
    if name in SHORT_LIVED:
        return expired_rows_batch(connection, SHORT_LIVED[name], now, size)
    if name == "requests_interrupted":
        return interrupted_requests_batch(connection, received_before=now - interrupted_after,
                                          now=now, batch_size=size)
    if name == "requests_removed":
        return old_requests_batch(connection, before=now - requests_retention, batch_size=size)
    return abandoned_notices_batch(connection, occurred_before=now - notice_abandon_after,
                                   batch_size=size)


def _purge_empty_subjects(store: StoreHandle, now: datetime, batch_size: int) -> int:
    removed = 0
    while True:
        with store.engine.begin() as connection:
            key_ids = empty_subjects_batch(connection, now, batch_size)
        # Rows first, keys after: a crash in between leaves an unused key, never a
        # subject whose data cannot be read.
        store.keys.destroy(key_ids)
        removed += len(key_ids)
        if len(key_ids) < batch_size:
            return removed


def _destroy_orphan_keys(
    store: StoreHandle, now: datetime, grace: timedelta, batch_size: int
) -> int:
    # Keys are stamped with the wall clock: a purge run with a later ``now`` must
    # still spare a key made moments ago by a sign-in in flight.
    created_before = min(now, datetime.now(UTC)) - grace
    return sum(
        store.keys.destroy(batch)
        for batch in orphan_key_batches(store.engine, store.keys.engine,
                                        created_before=created_before,
                                        batch_size=batch_size)
    )


def _batched(
    engine: sa.Engine, batch: Callable[..., int], *, batch_size: int, **bounds: datetime
) -> int:
    """Run ``batch`` in short transactions until it does less than a full batch."""
    done = 0
    while True:
        with engine.begin() as connection:
            count = batch(connection, batch_size=batch_size, **bounds)
        done += count
        if count < batch_size:
            return done


def _purge_table(engine: sa.Engine, table: sa.Table, now: datetime, batch_size: int) -> int:
    removed = 0
    while True:
        with engine.begin() as connection:
            count = expired_rows_batch(connection, table, now, batch_size)
        removed += count
        if count < batch_size:
            return removed
