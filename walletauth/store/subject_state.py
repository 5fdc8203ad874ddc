"""The subject's state: consents, suspensions of a purpose (the restrict right) and the
stop of third-party provision, kept as append-only events the policy folds into a
:class:`~walletauth.policy.evaluate.SubjectState`.

Suspending, lifting and stopping are whole-subject rights: the layers above reach them
through :mod:`walletauth.rights`, which logs the request and its notices.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa

from walletauth.policy.evaluate import (
    SubjectState,
    decide_collection,
    decide_consent_change,
    effective_consents,
)
from walletauth.store.audit import AuditEvent, DetailValue, log_event
from walletauth.store.consent import ConsentEvent, ConsentKind
from walletauth.store.errors import StoreError, policy_errors_as_store_errors, refuse
from walletauth.store.handle import (
    StoreHandle,
    declared_only,
    enqueue_notices,
    ensure_subject,
    find_subject,
    locked_state,
    write_transaction,
)
from walletauth.store.oidc_grants import end_grants_out_of_use
from walletauth.store.outbox import PendingNotice
from walletauth.store.records import insert_record
from walletauth.store.schema import consent_events, records
from walletauth.store.subjects import Subject
from walletauth.store.types import require_aware


def subject_state(store: StoreHandle, address: str) -> SubjectState:
    with store.reader.begin() as connection:
        _subject, events = find_subject(store, connection, address)
    return store.state_of(events)


def set_consent(
    store: StoreHandle, address: str, purpose: str, granted: bool, *, now: datetime,
    notices: Sequence[PendingNotice] = (),
) -> None:
    """Grant or withdraw consent for ``purpose`` (or a third-party ground); ``notices``
    are enqueued in the same transaction."""
    now = require_aware(now)
    if not isinstance(granted, bool):
        raise StoreError("invalid_argument", f"granted must be true or false: {granted!r}")
    with write_transaction(store) as write:
        subject, state = locked_state(store, write.connection, address)
        with policy_errors_as_store_errors():
            refuse(
                decide_consent_change(store.policy, purpose, granted, state), "consent change"
            )
        subject, _key = ensure_subject(store, write, address, subject, now)
        _append_event(store, write.connection, subject, "consent", purpose, granted, now)
        if not granted:  # OpenID Connect grants resting on it end, their clients told
            end_grants_out_of_use(store, write.connection, subject, now=now)
        log_event(store, write.connection, "consent_change", now, subject.id, purpose=purpose,
                  detail={"granted": granted})
        enqueue_notices(store, write.connection, address, notices, now)


def consents(store: StoreHandle, address: str) -> dict[str, bool]:
    """The effective consent per purpose (explicit choices over the policy's defaults)."""
    state = subject_state(store, address)
    with policy_errors_as_store_errors():
        return effective_consents(store.policy, state.consents, state.outdated)


def consent_history(store: StoreHandle, address: str) -> list[ConsentEvent]:
    """Every consent, suspension, stop and age event of the subject, oldest first."""
    with store.reader.begin() as connection:
        return find_subject(store, connection, address)[1]


def suspend(
    store: StoreHandle, address: str, purpose: str, *, now: datetime,
    notices: Sequence[PendingNotice] = (),
) -> None:
    """Stop using the subject's data for ``purpose`` until lifted (the restrict right);
    ``notices`` are enqueued in the same transaction."""
    state_event(store, address, "suspension", purpose, True, now, "suspension",
                notices=notices)


def lift_suspension(
    store: StoreHandle, address: str, purpose: str, *, now: datetime,
    notices: Sequence[PendingNotice] = (),
) -> None:
    state_event(store, address, "suspension", purpose, False, now, "suspension_lifted",
                notices=notices)


def stop_third_party(store: StoreHandle, address: str, stopped: bool, *, now: datetime) -> None:
    """Stop (or resume) provision to third parties on consent-based grounds."""
    state_event(store, address, "third_party_stop", None, stopped, now, "third_party_stop")


def state_event(
    store: StoreHandle,
    address: str,
    kind: ConsentKind,
    purpose: str | None,
    value: bool,
    now: datetime,
    event: AuditEvent,
    *,
    evidence: tuple[str, Mapping[str, object]] | None = None,
    notices: Sequence[PendingNotice] = (),
    notices_for: Callable[[SubjectState], Sequence[PendingNotice]] | None = None,
    check: Callable[[SubjectState], None] | None = None,
    discard_for: Callable[[SubjectState], SubjectState] | None = None,
) -> None:
    """Append a state event; ``evidence`` also keeps it as a record of that category,
    for each purpose the category serves that the subject's state allows. ``check``
    may refuse the change given the state, read under the subject's lock, and
    ``notices_for`` adds notices that depend on that state to ``notices``.
    ``discard_for`` gives the state after the change: the subject's records whose
    collection it refuses for want of a guardian's consent are deleted."""
    now = require_aware(now)
    if not isinstance(value, bool):
        raise StoreError("invalid_argument", f"expected true or false, got {value!r}")
    if purpose is None and kind == "suspension":
        raise StoreError("unknown_purpose", "a suspension names the purpose it suspends")
    if purpose is not None:
        with policy_errors_as_store_errors():
            store.policy.purpose(purpose)
    with write_transaction(store) as write:
        connection = write.connection
        subject, state = locked_state(store, connection, address)
        if check is not None:
            check(state)
        subject, key = ensure_subject(store, write, address, subject, now)
        _append_event(store, connection, subject, kind, purpose, value, now)
        # A purpose this takes out of use (suspended, a guardian's consent withdrawn) ends
        # the OpenID Connect grants resting on it, as a withdrawal does.
        end_grants_out_of_use(store, connection, subject, now=now)
        enqueue_notices(store, connection, address, notices, now)
        if notices_for is not None:
            enqueue_notices(store, connection, address, notices_for(state), now)
        if evidence is not None:
            _record_per_allowed_purpose(
                store, connection, subject, key, state, evidence[0], evidence[1], now, kind
            )
        detail: dict[str, DetailValue] = {"value": value}
        if discard_for is not None:
            detail["discarded"] = _discard_without_guardian(
                store, connection, subject, discard_for(state))
        log_event(store, connection, event, now, subject.id, purpose=purpose, detail=detail)


def _record_per_allowed_purpose(
    store: StoreHandle,
    connection: sa.Connection,
    subject: Subject,
    key: bytes,
    state: SubjectState,
    category: str,
    candidate: Mapping[str, object],
    now: datetime,
    source: str,
) -> None:
    """One record of ``category`` per purpose it serves that ``state`` allows now."""
    data = declared_only(store, category, candidate)
    for purpose in store.policy.category(category).retention:
        if decide_collection(store.policy, category, purpose, state).allowed:
            insert_record(connection, store.policy, subject.id, key, category, purpose, data,
                          now, source)


def _discard_without_guardian(
    store: StoreHandle, connection: sa.Connection, subject: Subject, state: SubjectState
) -> int:
    """Delete the subject's records ``state`` would refuse to collect for want of a
    guardian's consent; returns how many."""
    pairs = connection.execute(
        sa.select(records.c.category, records.c.purpose)
        .where(records.c.subject_id == subject.id).distinct()
    ).all()
    refused = [
        (category, purpose) for category, purpose in pairs
        if decide_collection(store.policy, category, purpose, state).reason
        == "guardian_consent_required"
    ]
    discarded = 0
    for category, purpose in refused:
        discarded += connection.execute(sa.delete(records).where(
            records.c.subject_id == subject.id, records.c.category == category,
            records.c.purpose == purpose,
        )).rowcount
    return discarded


def _append_event(
    store: StoreHandle, connection: sa.Connection, subject: Subject, kind: ConsentKind,
    purpose: str | None, value: bool, now: datetime,
) -> None:
    connection.execute(
        sa.insert(consent_events).values(
            subject_id=subject.id, kind=kind, purpose=purpose, value=value, at=now,
            policy_version=store.policy.version,
            # The words consented to: a later change of them puts the consent on hold.
            text_digest=store.current_texts().digests.get(purpose or "")
            if kind == "consent" else None,
        )
    )
