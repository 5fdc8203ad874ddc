"""Everything linked to one subject, opened: the store's side of the subject's access
(disclosure) request, which :mod:`walletauth.rights.export` turns into a document."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from walletauth.store.addresses import normalise_address
from walletauth.store.audit import AuditEntry, read_audit
from walletauth.store.consent import ConsentEvent
from walletauth.store.handle import StoreHandle
from walletauth.store.records import Record, fetch_subject_records, open_sealed
from walletauth.store.rights_schema import third_party_provisions
from walletauth.store.subjects import find_with_history, refs_of


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


def read_dossier(store: StoreHandle, address: str) -> Dossier:
    """Every record (live or awaiting purge), event, provision and audit entry of the
    subject, in one read transaction."""
    refs = refs_of(store.secrets, normalise_address(address))
    with store.engine.execution_options(walletauth_read_only=True).begin() as connection:
        subject, events = find_with_history(connection, refs, lock=False)
        if subject is None:
            return Dossier(found=False)
        sealed = fetch_subject_records(connection, subject.id)
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
        records=open_sealed(sealed, key),
        events=events,
        provisions=[
            Provision(row.recipient, tuple(row.categories), row.ground, row.provided_at,
                      row.policy_version, row.withheld)
            for row in provision_rows
        ],
        audit=audit,
    )
