"""Erasing a subject in one transaction: everything goes but what the law requires to be
kept, and the subject's key is destroyed after the commit when nothing is (crypto-shredding).

A whole-subject right: the layers above reach it through :func:`walletauth.rights.erase_subject`,
which logs the request and enqueues the notices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from walletauth.policy.model import Policy
from walletauth.store.addresses import normalise_address
from walletauth.store.audit import write_audit
from walletauth.store.handle import StoreHandle, checkpoint
from walletauth.store.oidc_grants import end_grants
from walletauth.store.outbox import PendingNotice, enqueue
from walletauth.store.purge import orphan_key_batches
from walletauth.store.requests_log import finish_in
from walletauth.store.rights_schema import third_party_provisions
from walletauth.store.schema import audit_log, consent_events, records, sessions, subjects
from walletauth.store.subjects import Subject, find_with_history, refs_of
from walletauth.store.types import require_aware
from walletauth.store.withholding import WITHHOLDING_GROUNDS

ORPHAN_PAGE = 1000
"""Key ids compared per query (bounded IN lists on both databases)."""


@dataclass(frozen=True, slots=True)
class RetainedRecords:
    """Records an erasure kept because a law the policy names requires them (a
    legal-obligation purpose); ``ground`` names that law (ja, en)."""

    category: str
    purpose: str
    count: int
    until: datetime
    ground: Mapping[str, str]
    clause: str


@dataclass(frozen=True, slots=True)
class RetainedProvisionRecords:
    """Records of third-party provisions on one ground that an erasure kept: the law
    requires them for a period (APPI Art. 29, the policy's ``record_retention``)."""

    ground: str | None
    """The ground they were made on; ``None`` when they are withheld from disclosure:
    ``ground_text`` and ``clause`` then name the statutory ground they are withheld on."""
    count: int
    until: datetime
    """When the last of them may go (``walletauth purge`` removes them then)."""
    ground_text: Mapping[str, str]
    clause: str
    withheld: str | None = None


@dataclass(frozen=True, slots=True)
class Erasure:
    """What an erasure did: the one shape from the store through the rights layer to the
    HTTP answer (which shows every field but ``subject_found`` and ``notices``)."""

    receipt_id: str
    """The id of the logged request it answers (its receipt); empty for an erasure no
    request asked for, which only the store's own tests run."""
    completed_at: datetime
    subject_found: bool
    erased: dict[str, int] = field(default_factory=dict)
    """Records removed, per category."""
    consent_events: int = 0
    sessions: int = 0
    third_party_provisions: int = 0
    """Provision records removed (only those past their period)."""
    retained: list[RetainedRecords] = field(default_factory=list)
    retained_provisions: list[RetainedProvisionRecords] = field(default_factory=list)
    notices: int = 0
    """Erasure notices enqueued (one per endpoint named)."""

    @property
    def anything_retained(self) -> bool:
        return bool(self.retained or self.retained_provisions)


def erase_subject(
    store: StoreHandle,
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
    checksum = normalise_address(address)
    legal = list(store.policy.legal_duties)
    with store.engine.begin() as connection:
        subject, _events = find_with_history(
            connection, refs_of(store.secrets, checksum), lock=True
        )
        erasure = Erasure(request_id or "", now, subject_found=False)
        if subject is not None:
            # Before the rows: the clients holding grants are sent back-channel logouts.
            end_grants(store, connection, subject.id, now=now)
            erasure, detail = _erase_rows(connection, store.policy, subject, legal, now)
            erasure = replace(erasure, receipt_id=request_id or "", notices=len(notices))
            for notice in notices:
                enqueue(connection, store.secrets, notice, checksum, now)
        else:
            detail = _erasure_detail(erasure, [])
        if request_id is not None:
            finish_in(connection, request_id, "completed", None, detail, now)
        write_audit(connection, "erasure", at=now, policy_version=store.policy.version,
                    detail={"records": sum(erasure.erased.values()),
                            "retained": sum(r.count for r in erasure.retained),
                            "provisions_retained": sum(
                                p.count for p in erasure.retained_provisions)})
    if subject is not None and not erasure.anything_retained:
        store.keys.destroy([subject.key_id])
    checkpoint(store)
    return erasure


def _erase_rows(
    connection: sa.Connection, policy: Policy, subject: Subject, legal: list[str],
    now: datetime,
) -> tuple[Erasure, dict[str, Any]]:
    """The erasure's statements; returns what it did and its requests-log detail."""
    provision_retention = policy.third_party.record_retention
    kept = sa.and_(records.c.purpose.in_(legal), records.c.expires_at > now)
    mine = records.c.subject_id == subject.id
    erased: dict[str, int] = dict(connection.execute(
        sa.select(records.c.category, sa.func.count())
        .where(mine, sa.not_(kept))
        .group_by(records.c.category)
    ).all())
    retained = [
        _retained_records(policy, row.category, row.purpose, row.kept, row.until)
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
    kept_provisions = [
        (row.ground, row.kept, row.last + provision_retention, row.withheld)
        for row in connection.execute(
            sa.select(provisions.ground, provisions.withheld, sa.func.count().label("kept"),
                      sa.func.max(provisions.provided_at).label("last"))
            .where(recorded).group_by(provisions.ground, provisions.withheld)
            .order_by(provisions.ground, provisions.withheld)
        )
    ]
    retained_provisions = [_retained_provisions(policy, *kept) for kept in kept_provisions]
    counts = {
        name: _count(connection, table, subject.id)
        for name, table in (("consent_events", consent_events), ("sessions", sessions),
                            ("third_party_provisions", third_party_provisions))
    }
    counts["third_party_provisions"] -= sum(p.count for p in retained_provisions)
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
    erasure = Erasure("", now, subject_found=True, erased=erased, retained=retained,
                      retained_provisions=retained_provisions, **counts)
    return erasure, _erasure_detail(erasure, kept_provisions)


def _retained_records(
    policy: Policy, category: str, purpose_id: str, count: int, until: datetime
) -> RetainedRecords:
    purpose = policy.purpose(purpose_id)
    # Only Policy.legal_duties are kept, and each of them names its law.
    assert purpose.legal_source is not None
    return RetainedRecords(category, purpose_id, count, until, purpose.legal_source.model_dump(),
                           purpose.clause)


def _retained_provisions(
    policy: Policy, ground: str, count: int, until: datetime, withheld: str | None
) -> RetainedProvisionRecords:
    if withheld is not None:  # the ground itself is not disclosed: the law withholding it is
        withholding = WITHHOLDING_GROUNDS[withheld]
        return RetainedProvisionRecords(None, count, until, withholding.text(), withholding.clause,
                                  withheld)
    made_on = policy.ground(ground)
    return RetainedProvisionRecords(ground, count, until, made_on.text.model_dump(), made_on.clause)


def _count(connection: sa.Connection, table: sa.Table, subject_id: int) -> int:
    counted = sa.select(sa.func.count()).select_from(table).where(
        table.c.subject_id == subject_id
    )
    if table is sessions:  # a session a refresh replaced is its successor's past, not another
        counted = counted.where(sessions.c.rotated_at.is_(None))
    total: int = connection.execute(counted).scalar_one()
    return total


def _erasure_detail(
    erasure: Erasure, kept_provisions: list[tuple[str, int, datetime, str | None]]
) -> dict[str, Any]:
    """The requests log's record of it (``ground``: the provisions' own, withheld or not)."""
    return {
        "erased": dict(erasure.erased),
        "consent_events": erasure.consent_events,
        "sessions": erasure.sessions,
        "provisions": erasure.third_party_provisions,
        "retained": [
            {"category": r.category, "purpose": r.purpose, "count": r.count,
             "until": r.until.isoformat()}
            for r in erasure.retained
        ],
        "retained_provisions": [
            {"ground": ground, "count": count, "until": until.isoformat()}
            for ground, count, until, _withheld in kept_provisions
        ],
    }


def orphan_keys(store: StoreHandle, *, created_before: datetime) -> list[str]:
    """Key ids no subject points at, created before ``created_before`` (keys are made
    just before their subject row, so only old ones can be told apart): what an
    erasure interrupted between its commit and the key's destruction leaves."""
    created_before = require_aware(created_before, "created_before")
    return [key_id for batch in orphan_key_batches(store.engine, store.keys.engine,
                                                  created_before=created_before,
                                                  batch_size=ORPHAN_PAGE)
            for key_id in batch]
