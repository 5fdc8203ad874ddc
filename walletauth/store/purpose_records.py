"""Records kept for a purpose: written after the policy allows the collection (minimised
to the fields the category declares), read back bound to one purpose.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import sqlalchemy as sa

from walletauth.policy.evaluate import decide_collection, decide_use
from walletauth.store.errors import StoreError, policy_errors_as_store_errors, refuse
from walletauth.store.handle import (
    StoreHandle,
    ensure_subject,
    find_subject,
    locked_state,
    write_transaction,
)
from walletauth.store.records import Record, insert_record, minimised, open_records
from walletauth.store.schema import records as records_table
from walletauth.store.types import require_aware


def put_record(
    store: StoreHandle,
    address: str,
    category: str,
    purpose: str,
    data: Mapping[str, object],
    *,
    now: datetime,
    source: str,
    create_subject: bool = True,
) -> int:
    """Keep a minimised record of ``category`` for ``purpose``; returns its id.

    Refused with :class:`StoreError` (and nothing written) when the policy does not
    allow the pair, the purpose needs a consent the subject has not given (or has
    suspended), or ``data`` holds a field the category does not declare; with
    ``create_subject=False``, also (``unknown_subject``) when no subject is held for
    ``address``, decided under the same lock as the write.
    """
    now = require_aware(now)
    if not isinstance(data, Mapping):
        raise StoreError("invalid_argument", "record data must be a mapping of field to value")
    if not isinstance(source, str) or not source or len(source) > 64:
        raise StoreError("invalid_argument", "source must be 1 to 64 characters")
    with write_transaction(store) as write:
        subject, state = locked_state(store, write.connection, address)
        with policy_errors_as_store_errors():
            refuse(decide_collection(store.policy, category, purpose, state), "write")
            data_kept = minimised(store.policy, store.secrets, category, data)
        if subject is None and not create_subject:
            raise StoreError("unknown_subject", "no data is kept about this address")
        subject, key = ensure_subject(store, write, address, subject, now)
        return insert_record(write.connection, store.policy, subject.id, key, category,
                             purpose, data_kept, now, source)


def records(
    store: StoreHandle, address: str, purpose: str, *, now: datetime,
    category: str | None = None,
) -> list[Record]:
    """The subject's live records kept for ``purpose`` (of ``category``, if given).

    Empty while the subject has the purpose suspended or lacks the consent it needs:
    what may not be used is not handed out.
    """
    now = require_aware(now)
    with policy_errors_as_store_errors():
        store.policy.purpose(purpose)
        if category is not None:
            store.policy.category(category)
    with store.reader.begin() as connection:
        subject, events = find_subject(store, connection, address)
        if subject is None:
            return []
        with policy_errors_as_store_errors():
            usable = decide_use(store.policy, purpose, store.state_of(events)).allowed
        if not usable:
            return []
        query = (
            sa.select(records_table)
            .where(
                records_table.c.subject_id == subject.id,
                records_table.c.purpose == purpose,
                records_table.c.expires_at > now,
            )
            .order_by(records_table.c.id)
        )
        if category is not None:
            query = query.where(records_table.c.category == category)
        rows = connection.execute(query).all()
    key = store.keys.get(subject.key_id)
    if key is None:  # erased between the two reads: nothing of theirs is readable
        return []
    return open_records(rows, key)


def subject_records(store: StoreHandle, address: str, *, now: datetime) -> list[Record]:
    """Every live record of the subject, whatever its purpose or the subject's state.

    Not purpose-bound on purpose: this is the subject's own access (export) request,
    which covers suspended and withdrawn purposes too. Never use it for processing.
    """
    now = require_aware(now)
    with store.reader.begin() as connection:
        subject, _events = find_subject(store, connection, address)
        if subject is None:
            return []
        rows = connection.execute(
            sa.select(records_table)
            .where(records_table.c.subject_id == subject.id, records_table.c.expires_at > now)
            .order_by(records_table.c.id)
        ).all()
    key = store.keys.get(subject.key_id)
    return [] if key is None else open_records(rows, key)
