"""Finding and creating subjects by keyed ref, together with their consent history.

A subject row is found by any of its possible refs (one per secrets version still
held), so subjects stay findable between a secrets rotation and the re-keying that
moves them to the new version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from walletauth.store.consent import ConsentEvent
from walletauth.store.crypto import seal, subject_ref, unseal
from walletauth.store.schema import consent_events, subjects
from walletauth.store.secrets import Secrets
from walletauth.store.sql import upsert

ADDRESS_ASSOCIATED = b"walletauth subject address"


@dataclass(frozen=True, slots=True)
class Subject:
    id: int
    ref: str
    key_id: str


def refs_of(secrets: Secrets, checksum_address: str) -> list[str]:
    """The subject's ref under every secrets version held, the current one first."""
    return [
        subject_ref(secrets.versions[number].subject_hmac_key, number, checksum_address)
        for number in sorted(secrets.versions, reverse=True)
    ]


# Built once: a statement object is reused with new parameters, so SQLAlchemy neither
# rebuilds it nor recomputes its cache key on every sign-in (that was most of its cost).
_FIND_WITH_HISTORY = (
    sa.select(
        subjects.c.id, subjects.c.ref, subjects.c.key_id,
        consent_events.c.kind, consent_events.c.purpose, consent_events.c.value,
        consent_events.c.at, consent_events.c.policy_version, consent_events.c.text_digest,
    )
    .select_from(subjects.outerjoin(consent_events, consent_events.c.subject_id == subjects.c.id))
    .where(subjects.c.ref.in_(sa.bindparam("refs", expanding=True)))
    .order_by(consent_events.c.id)
)
_LOCK_SUBJECT = (
    sa.select(subjects.c.id)
    .where(subjects.c.ref.in_(sa.bindparam("refs", expanding=True)))
    .with_for_update()
)
_HISTORY_OF_LOCKED = _FIND_WITH_HISTORY.where(subjects.c.id == sa.bindparam("subject"))
_UNTIL = sa.bindparam("until", type_=subjects.c.retained_until.type)
_RETAIN_UNTIL = (
    sa.update(subjects)
    .where(subjects.c.id == sa.bindparam("subject"))
    .values(retained_until=sa.case(
        (subjects.c.retained_until < _UNTIL, _UNTIL), else_=subjects.c.retained_until
    ))
)


def find_with_history(
    connection: sa.Connection, refs: list[str], *, lock: bool
) -> tuple[Subject | None, list[ConsentEvent]]:
    """The subject and its consent events, oldest first: one query, two with ``lock``.

    ``lock`` takes the subject row for update (PostgreSQL), so that a write deciding on
    the subject's state and a concurrent change of that state happen one after the other:
    the lock first, the history in a statement of its own after it. A statement reads
    what was committed when it began, so history read by the locking statement itself
    would miss the change of the transaction whose lock it waited for
    (tests/store/test_state_under_lock.py).
    """
    if lock:
        subject_id = connection.execute(_LOCK_SUBJECT, {"refs": refs}).scalar()
        if subject_id is None:
            return None, []
        rows = connection.execute(_HISTORY_OF_LOCKED, {"refs": refs, "subject": subject_id}).all()
    else:
        rows = connection.execute(_FIND_WITH_HISTORY, {"refs": refs}).all()
    if not rows:
        return None, []
    first = rows[0]
    events = [
        ConsentEvent(row.kind, row.purpose, row.value, row.at, row.policy_version,
                     row.text_digest)
        for row in rows
        if row.kind is not None
    ]
    return Subject(first.id, first.ref, first.key_id), events


def insert_subject(
    connection: sa.Connection,
    *,
    ref: str,
    key_id: str,
    key: bytes,
    checksum_address: str,
    now: datetime,
) -> Subject | None:
    """A new subject row, or None if another transaction created it first."""
    statement = (
        upsert(connection, subjects)
        .values(
            ref=ref,
            key_id=key_id,
            address_sealed=seal_address(key, checksum_address),
            created_at=now,
            retained_until=now,
        )
        .on_conflict_do_nothing(index_elements=[subjects.c.ref])
        .returning(subjects.c.id)
    )
    subject_id = connection.execute(statement).scalar_one_or_none()
    return None if subject_id is None else Subject(subject_id, ref, key_id)


def retain_until(connection: sa.Connection, subject_id: int, until: datetime) -> None:
    """Keep the subject row at least until ``until`` (its longest-living record's expiry)."""
    connection.execute(_RETAIN_UNTIL, {"subject": subject_id, "until": until})


def seal_address(key: bytes, checksum_address: str) -> bytes:
    return seal(key, checksum_address.encode("ascii"), ADDRESS_ASSOCIATED)


def open_address(key: bytes, address_sealed: bytes) -> str:
    return unseal(key, address_sealed, ADDRESS_ASSOCIATED).decode("ascii")
