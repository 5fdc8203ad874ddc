"""The purpose-tagged record store: what the HTTP service and the rights layer call.

Every public method is one short transaction (or a few, for purge and re-keying) on a
pooled engine, so a :class:`Store` is shared by all threads of the server. Policy
decisions come from :mod:`walletauth.policy.evaluate`; this module only asks them and
keeps the answer, never re-implements them in SQL.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from walletauth.policy.evaluate import (
    SubjectState,
    UseDecision,
    decide_allowed_collection,
    decide_collection,
    decide_consent_change,
    decide_use,
    effective_consents,
)
from walletauth.policy.model import AgeRule, Policy
from walletauth.store import ephemeral
from walletauth.store.addresses import normalise_address
from walletauth.store.audit import AuditEntry, AuditEvent, DetailValue, read_audit, write_audit
from walletauth.store.consent import (
    ConsentEvent,
    ConsentKind,
    CurrentTexts,
    state_from_events,
)
from walletauth.store.crypto import seal
from walletauth.store.engines import READ_ONLY, create_engine, default_keystore_url
from walletauth.store.ephemeral import session_hash
from walletauth.store.errors import StoreError, policy_errors_as_store_errors, refuse
from walletauth.store.keystore import KeyStore
from walletauth.store.login_sql import LoginBatch, LoginSql, LoginTransaction, TransactionLost
from walletauth.store.migrate import upgrade_engine
from walletauth.store.outbox import PendingNotice, enqueue
from walletauth.store.purge import (
    INTERRUPTED_REQUEST_AFTER,
    NOTICE_ABANDON_AFTER,
    ORPHAN_KEY_GRACE,
    REQUESTS_LOG_RETENTION,
    SHORT_LIVED,
    PurgeReport,
    abandoned_notices_batch,
    empty_subjects_batch,
    expired_records_batch,
    expired_rows_batch,
    interrupted_requests_batch,
    old_provisions_batch,
    old_requests_batch,
    orphan_key_batches,
)
from walletauth.store.records import (
    Record,
    insert_record,
    minimised,
    open_data,
    open_record,
    seal_data,
)
from walletauth.store.rekey import RotationReport, rekey_subjects
from walletauth.store.schema import consent_events, records
from walletauth.store.secrets import Secrets
from walletauth.store.subjects import (
    ADDRESS_ASSOCIATED,
    Subject,
    find_with_history,
    insert_subject,
    refs_of,
    retain_until,
)
from walletauth.store.types import require_aware

if TYPE_CHECKING:
    from walletauth.store.subject_ops import Erasure


@dataclass(slots=True)
class _Write:
    connection: sa.Connection
    created_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SignIn:
    """One verified sign-in to write (the arguments of :meth:`Store.sign_in`)."""

    address: str
    chain_id: int
    now: datetime
    nonce: str
    nonce_remember_until: datetime
    session_id: str
    session_expires_at: datetime
    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class SignInOutcome:
    """How one sign-in of :meth:`Store.sign_in_many` ended, as :meth:`Store.sign_in`
    alone would have: written (True), its nonce used already (False, nothing written),
    or ``error``, which it would have raised."""

    written: bool
    error: Exception | None = None

    def result(self) -> bool:
        """``written``, or ``error`` raised."""
        if self.error is not None:
            raise self.error
        return self.written


@dataclass(frozen=True, slots=True)
class _Login:
    """A sign-in (or :meth:`Store.record_login`) with its arguments checked."""

    checksum: str
    refs: list[str]
    chain_id: int
    now: datetime
    ip: str | None
    user_agent: str | None
    nonce: tuple[str, datetime] | None
    session: tuple[str, datetime] | None
    """The session id's hash and when the session expires."""


@dataclass(frozen=True, slots=True)
class _Kept:
    """A category kept for a purpose, as the policy has a sign-in write it."""

    category: str
    purpose: str
    basis: str
    retention: timedelta

    @classmethod
    def of(cls, policy: Policy, category: str, purpose: str) -> _Kept:
        return cls(category, purpose, policy.purpose(purpose).basis,
                   policy.retention(category, purpose))


@dataclass(frozen=True, slots=True)
class _LoginPlan:
    """What ``policy.login`` has a sign-in write, looked up once per policy (a frozen
    value) rather than a dozen lookups per sign-in. Which access-log purposes it writes
    still depends on the subject's state, decided per sign-in.

    A plan exists only if ``policy.retention`` took each of its (category, purpose)
    pairs, which it does exactly when :func:`decide_collection`'s policy-only checks
    (known category, known purpose, allowed pair) pass; so for these pairs deciding a
    collection is :func:`decide_allowed_collection` (:meth:`may_collect`), not those
    checks again per sign-in."""

    policy: Policy
    wallet: _Kept
    access_log_category: str | None
    access_log: tuple[_Kept, ...]
    """Every purpose the access-log category serves, in the policy's order."""

    @classmethod
    def of(cls, policy: Policy) -> _LoginPlan:
        login = policy.login
        log_category = login.access_log_category
        logs = () if log_category is None else tuple(
            _Kept.of(policy, log_category, purpose)
            for purpose in policy.category(log_category).retention
        )
        return cls(policy, _Kept.of(policy, login.wallet_category, login.purpose), log_category,
                   logs)

    def may_collect(self, kept: _Kept, state: SubjectState) -> UseDecision:
        """``decide_collection(policy, kept.category, kept.purpose, state)`` for one of
        this plan's pairs (see the class docstring)."""
        return decide_allowed_collection(self.policy, kept.category, kept.purpose, state)


def _require_positive_int(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise StoreError("invalid_argument", f"{name} must be a positive integer, got {value!r}")


def _purposes_taken_out_of_use(
    policy: Policy, before: SubjectState, after: SubjectState
) -> tuple[str, ...]:
    """The optional purposes in use under ``before`` that ``after`` no longer allows, in
    the policy's order."""
    return tuple(
        purpose.id for purpose in policy.purposes.values()
        if purpose.optional and decide_use(policy, purpose.id, before).allowed
        and not decide_use(policy, purpose.id, after).allowed
    )


def _refuse_growing_up(state: SubjectState) -> None:
    if state.age_confirmed and state.under_guardian_age:
        raise StoreError("age_confirmation_final",
                         "the subject is confirmed under the guardian age; a new"
                         " declaration cannot undo that")


class Store:
    """Purpose-tagged personal-data records, consent, audit and short-lived state."""

    policy: Policy

    def __init__(
        self, engine: sa.Engine, keys: KeyStore, *, policy: Policy, secrets: Secrets
    ) -> None:
        self.engine = engine
        self.keys = keys
        self.policy = policy
        self.secrets = secrets
        self._reader = engine.execution_options(**READ_ONLY)
        self._login_sql = LoginSql(engine, keys.engine)
        self._plan: _LoginPlan | None = None
        self._texts: tuple[Policy, CurrentTexts] | None = None

    @classmethod
    def open(
        cls, url: str, *, policy: Policy, secrets: Secrets, keystore_url: str | None = None
    ) -> Store:
        """Connect, upgrade both schemas to head, and return a ready store."""
        engine = create_engine(url)
        key_engine = create_engine(keystore_url or default_keystore_url(url))
        try:
            upgrade_engine(engine, "records")
            upgrade_engine(key_engine, "keystore")
        except BaseException:
            engine.dispose()
            key_engine.dispose()
            raise
        return cls(engine, KeyStore(key_engine, secrets), policy=policy, secrets=secrets)

    def close(self) -> None:
        self.engine.dispose()
        self.keys.engine.dispose()

    # ------------------------------------------------------------------ subjects

    def subject_ref(self, address: str) -> str:
        """The keyed hash a subject is filed under (current secrets version)."""
        return refs_of(self.secrets, normalise_address(address))[0]

    def state_of(self, events: Sequence[ConsentEvent]) -> SubjectState:
        """The state ``events`` imply under the policy in force: a consent given to an
        earlier text of its purpose is outdated (on hold until given again)."""
        return state_from_events(events, self._current_texts())

    def _current_texts(self) -> CurrentTexts:
        """The digests of the policy in force (computed again if the policy changed)."""
        texts = self._texts
        if texts is None or texts[0] is not self.policy:
            texts = self._texts = (self.policy, CurrentTexts(self.policy.version,
                                                             self.policy.consent_digests()))
        return texts[1]

    def subject_state(self, address: str) -> SubjectState:
        with self._reader.begin() as connection:
            _subject, events = self._find(connection, address)
        return self.state_of(events)

    # ------------------------------------------------------------------ records

    def record_login(
        self,
        address: str,
        chain_id: int,
        *,
        now: datetime,
        ip: str | None = None,
        user_agent: str | None = None,
    ) -> None:
        """Store what a sign-in stores, per ``policy.login``.

        The wallet record is upserted (``first_sign_in`` kept; ``last_sign_in`` and its
        expiry moved); one access-log record is added per purpose that the access-log
        category serves and the subject's state allows right now.
        """
        now = require_aware(now)
        _require_positive_int(chain_id, "chain_id")
        (outcome,) = self._logins([self._login_of(address, chain_id, now, ip, user_agent)])
        outcome.result()

    def sign_in(
        self,
        address: str,
        chain_id: int,
        *,
        now: datetime,
        nonce: str,
        nonce_remember_until: datetime,
        session_id: str,
        session_expires_at: datetime,
        ip: str | None = None,
        user_agent: str | None = None,
    ) -> bool:
        """Everything a sign-in writes, in one transaction: the nonce's use (see
        :meth:`use_nonce`), what :meth:`record_login` stores, and the session.

        False, with nothing written, if the nonce was used already. A sign-in the policy
        refuses raises :class:`StoreError` but keeps the nonce used, so its signed
        message cannot be replayed later when the subject's state may allow it.
        """
        (outcome,) = self.sign_in_many([SignIn(
            address, chain_id, now, nonce, nonce_remember_until, session_id,
            session_expires_at, ip, user_agent,
        )])
        return outcome.result()

    def sign_in_many(self, sign_ins: Sequence[SignIn]) -> list[SignInOutcome]:
        """Several sign-ins in one transaction (one commit for all: see
        :mod:`walletauth.store.login_sql`), each ending as :meth:`sign_in` alone would.

        An argument it refuses, a refusal by the policy (its nonce kept used) or an
        unexpected error (its writes undone, keys it created destroyed) is that sign-in's
        outcome alone; the others still commit. Returns once the commit is done; a failing
        commit raises for all, and the keys the batch created are destroyed.
        """
        return self._logins([self._sign_in_login(sign_in) for sign_in in sign_ins])

    def _sign_in_login(self, sign_in: SignIn) -> _Login | StoreError:
        """``sign_in`` checked, or what it was refused for (before its nonce is used)."""
        try:
            now = require_aware(sign_in.now)
            remember_until = require_aware(sign_in.nonce_remember_until, "nonce_remember_until")
            session_expires_at = require_aware(sign_in.session_expires_at, "session_expires_at")
            _require_positive_int(sign_in.chain_id, "chain_id")
            self._require_nonce(sign_in.nonce)
            self._require_session_id(sign_in.session_id)
            return self._login_of(
                sign_in.address, sign_in.chain_id, now, sign_in.ip, sign_in.user_agent,
                nonce=(sign_in.nonce, remember_until),
                session=(session_hash(sign_in.session_id), session_expires_at),
            )
        except StoreError as refused:
            return refused

    def _login_of(
        self, address: str, chain_id: int, now: datetime, ip: str | None,
        user_agent: str | None, *, nonce: tuple[str, datetime] | None = None,
        session: tuple[str, datetime] | None = None,
    ) -> _Login:
        checksum = normalise_address(address)
        return _Login(checksum, refs_of(self.secrets, checksum), chain_id, now, ip, user_agent,
                      nonce, session)

    def _logins(self, logins: Sequence[_Login | StoreError]) -> list[SignInOutcome]:
        """The sign-ins' one transaction on the driver (:mod:`walletauth.store.login_sql`);
        the refused ones are outcomes already and take no part."""
        outcomes = {index: SignInOutcome(False, login) for index, login in enumerate(logins)
                    if isinstance(login, StoreError)}
        to_run = [(index, login) for index, login in enumerate(logins)
                  if isinstance(login, _Login)]
        if to_run:
            plan = self._login_plan()
            created_keys: list[str] = []
            try:
                with self._login_sql.batch(len(to_run)) as batch:
                    for index, login in to_run:
                        outcomes[index] = self._login_alone(batch, plan, login, created_keys)
            except BaseException:
                self.keys.destroy(created_keys)  # keys of subjects this never committed
                raise
        return [outcomes[index] for index in range(len(logins))]

    def _login_alone(
        self, batch: LoginBatch, plan: _LoginPlan, login: _Login, created_keys: list[str]
    ) -> SignInOutcome:
        """One sign-in of the batch: an error undoes its own writes and keys, no one else's."""
        own_keys_from = len(created_keys)
        try:
            with batch.sign_in() as transaction:
                return self._login(transaction, plan, login, created_keys)
        except TransactionLost:
            raise  # the others' writes may be gone with its own: the batch fails for all
        except Exception as error:
            self.keys.destroy(created_keys[own_keys_from:])
            del created_keys[own_keys_from:]
            return SignInOutcome(False, error)

    def _login(
        self, transaction: LoginTransaction, plan: _LoginPlan, login: _Login,
        created_keys: list[str],
    ) -> SignInOutcome:
        """One sign-in's statements. With a nonce: False, nothing written, if it was used
        already; a refusal by the policy keeps it used and is the outcome. Without: a
        refusal is raised (so nothing is written). The subject is kept until the latest of
        its records' expiries and the session's, moved once rather than once per row."""
        if login.nonce is not None and not transaction.use_nonce(*login.nonce):
            return SignInOutcome(False)
        subject, events = transaction.find_subject(
            login.refs, record=(plan.wallet.category, plan.wallet.purpose)
        )
        state = self.state_of(events)
        try:
            self._refuse_login(plan, state)
        except StoreError as refused:
            if login.nonce is None:
                raise
            return SignInOutcome(False, refused)  # the nonce's use alone is kept
        subject, key = self._login_subject(transaction, subject, login, created_keys)
        expiries = self._write_login(transaction, plan, subject, key, state, login)
        if login.session is not None:
            id_hash, session_expires_at = login.session
            transaction.create_session(id_hash, subject.id, session_expires_at)
            expiries.append(session_expires_at)
        transaction.retain_until(subject.id, max(expiries))
        return SignInOutcome(True)

    def _login_plan(self) -> _LoginPlan:
        """What a sign-in writes under the current policy (looked up again if it changed)."""
        plan = self._plan
        if plan is None or plan.policy is not self.policy:
            with policy_errors_as_store_errors():
                plan = self._plan = _LoginPlan.of(self.policy)
        return plan

    def _refuse_login(self, plan: _LoginPlan, state: SubjectState) -> None:
        wallet = plan.wallet
        with policy_errors_as_store_errors():
            refuse(plan.may_collect(wallet, state), "sign-in")

    def _login_subject(
        self, transaction: LoginTransaction, subject: Subject | None, login: _Login,
        created_keys: list[str],
    ) -> tuple[Subject, bytes]:
        """The signing-in subject and its key; a first sign-in creates both."""
        if subject is not None:
            return subject, self.keys.require(subject.key_id)
        key_id, key = self.keys.create()
        created_keys.append(key_id)
        created = transaction.insert_subject(
            login.refs[0], key_id,
            seal(key, login.checksum.encode("ascii"), ADDRESS_ASSOCIATED), login.now,
        )
        if created is not None:
            return created, key
        # Another transaction created the subject meanwhile: use theirs, drop our key.
        self.keys.destroy([key_id])
        created_keys.remove(key_id)
        existing, _events = transaction.find_subject(login.refs)
        if existing is None:
            raise StoreError("unknown_subject", "the subject vanished while being created")
        return existing, self.keys.require(existing.key_id)

    def _write_login(
        self, transaction: LoginTransaction, plan: _LoginPlan, subject: Subject, key: bytes,
        state: SubjectState, login: _Login,
    ) -> list[datetime]:
        """The wallet record (``first_sign_in`` kept) and an access-log record per purpose
        the state allows; returns when each expires."""
        wallet, now, version = plan.wallet, login.now, self.policy.version
        existing = transaction.first_record(subject.id, wallet.category, wallet.purpose)
        first_sign_in = last_sign_in = now.isoformat()
        if existing is not None:
            previous = open_data(key, wallet.category, wallet.purpose, existing[1])
            first_sign_in = str(previous.get("first_sign_in", first_sign_in))
        sealed = seal_data(key, wallet.category, wallet.purpose, self._declared_only(
            wallet.category,
            {"chain_id": login.chain_id, "first_sign_in": first_sign_in,
             "last_sign_in": last_sign_in},
        ))
        expires_at = now + wallet.retention
        if existing is None:
            transaction.insert_record(
                subject.id, wallet.category, wallet.purpose, basis=wallet.basis, now=now,
                expires_at=expires_at, source="login", policy_version=version, data=sealed,
            )
        else:
            transaction.update_record(existing[0], now=now, expires_at=expires_at,
                                      policy_version=version, data=sealed)
        expiries = [expires_at]
        if plan.access_log_category is not None:
            entry = self._declared_only(plan.access_log_category, {
                "ip": login.ip, "browser": login.user_agent, "at": last_sign_in,
            })
            for log in plan.access_log:
                if not plan.may_collect(log, state).allowed:
                    continue
                log_expires_at = now + log.retention
                transaction.insert_record(
                    subject.id, log.category, log.purpose, basis=log.basis, now=now,
                    expires_at=log_expires_at, source="login", policy_version=version,
                    data=seal_data(key, log.category, log.purpose, entry),
                )
                expiries.append(log_expires_at)
        return expiries

    def put_record(
        self,
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
        with self._write() as write:
            subject, state = self._locked_state(write.connection, address)
            with policy_errors_as_store_errors():
                refuse(decide_collection(self.policy, category, purpose, state), "write")
                data_kept = minimised(self.policy, self.secrets, category, data)
            if subject is None and not create_subject:
                raise StoreError("unknown_subject", "no data is kept about this address")
            subject, key = self._ensure_subject(write, address, subject, now)
            return insert_record(write.connection, self.policy, subject.id, key, category,
                                 purpose, data_kept, now, source)

    def records(
        self, address: str, purpose: str, *, now: datetime, category: str | None = None
    ) -> list[Record]:
        """The subject's live records kept for ``purpose`` (of ``category``, if given).

        Empty while the subject has the purpose suspended or lacks the consent it needs:
        what may not be used is not handed out.
        """
        now = require_aware(now)
        with policy_errors_as_store_errors():
            self.policy.purpose(purpose)
            if category is not None:
                self.policy.category(category)
        with self._reader.begin() as connection:
            subject, events = self._find(connection, address)
            if subject is None:
                return []
            with policy_errors_as_store_errors():
                usable = decide_use(self.policy, purpose, self.state_of(events)).allowed
            if not usable:
                return []
            query = (
                sa.select(records)
                .where(
                    records.c.subject_id == subject.id,
                    records.c.purpose == purpose,
                    records.c.expires_at > now,
                )
                .order_by(records.c.id)
            )
            if category is not None:
                query = query.where(records.c.category == category)
            rows = connection.execute(query).all()
        key = self.keys.get(subject.key_id)
        if key is None:  # erased between the two reads: nothing of theirs is readable
            return []
        return [open_record(row, key) for row in rows]

    def subject_records(self, address: str, *, now: datetime) -> list[Record]:
        """Every live record of the subject, whatever its purpose or the subject's state.

        Not purpose-bound on purpose: this is the subject's own access (export) request,
        which covers suspended and withdrawn purposes too. Never use it for processing.
        """
        now = require_aware(now)
        with self._reader.begin() as connection:
            subject, _events = self._find(connection, address)
            if subject is None:
                return []
            rows = connection.execute(
                sa.select(records)
                .where(records.c.subject_id == subject.id, records.c.expires_at > now)
                .order_by(records.c.id)
            ).all()
        key = self.keys.get(subject.key_id)
        return [] if key is None else [open_record(row, key) for row in rows]

    # ------------------------------------------------------------------ consent and state

    def set_consent(
        self, address: str, purpose: str, granted: bool, *, now: datetime,
        notices: Sequence[PendingNotice] = (),
    ) -> None:
        """Grant or withdraw consent for ``purpose`` (or a third-party ground); ``notices``
        are enqueued in the same transaction."""
        now = require_aware(now)
        if not isinstance(granted, bool):
            raise StoreError("invalid_argument", f"granted must be true or false: {granted!r}")
        with self._write() as write:
            subject, state = self._locked_state(write.connection, address)
            with policy_errors_as_store_errors():
                refuse(
                    decide_consent_change(self.policy, purpose, granted, state), "consent change"
                )
            subject, _key = self._ensure_subject(write, address, subject, now)
            self._append_event(write.connection, subject, "consent", purpose, granted, now)
            self._audit(write.connection, "consent_change", now, subject.id, purpose=purpose,
                        detail={"granted": granted})
            self._enqueue(write.connection, address, notices, now)

    def consents(self, address: str) -> dict[str, bool]:
        """The effective consent per purpose (explicit choices over the policy's defaults)."""
        state = self.subject_state(address)
        with policy_errors_as_store_errors():
            return effective_consents(self.policy, state.consents, state.outdated)

    def consent_history(self, address: str) -> list[ConsentEvent]:
        """Every consent, suspension, stop and age event of the subject, oldest first."""
        with self._reader.begin() as connection:
            return self._find(connection, address)[1]

    def suspend(
        self, address: str, purpose: str, *, now: datetime,
        notices: Sequence[PendingNotice] = (),
    ) -> None:
        """Stop using the subject's data for ``purpose`` until lifted (the restrict right);
        ``notices`` are enqueued in the same transaction."""
        self._state_event(address, "suspension", purpose, True, now, "suspension",
                          notices=notices)

    def lift_suspension(
        self, address: str, purpose: str, *, now: datetime,
        notices: Sequence[PendingNotice] = (),
    ) -> None:
        self._state_event(address, "suspension", purpose, False, now, "suspension_lifted",
                          notices=notices)

    def stop_third_party(self, address: str, stopped: bool, *, now: datetime) -> None:
        """Stop (or resume) provision to third parties on consent-based grounds."""
        self._state_event(address, "third_party_stop", None, stopped, now, "third_party_stop")

    def confirm_age(self, address: str, *, under_guardian_age: bool, now: datetime) -> None:
        """Record the subject's age confirmation (and whether a guardian must consent).

        Kept as a consent event (for the state) and, where the policy names a category
        for it, as a record of that category (for export). Refused (``no_age_rule``)
        under a policy without an age rule: nothing would ask for it, so nothing is kept.
        A confirmation of being under the guardian age is final
        (``age_confirmation_final``): otherwise a child could undo it by declaring again
        and skip the guardian; confirming it again, or moving an adult below, is allowed.

        Confirming it without a guardian's consent on record also deletes, in the same
        transaction, what was kept before the answer that the age rule does not let be
        kept now (e.g. a first sign-in's access log): nothing about the child is kept
        beyond the wallet record and the age rule's own records.
        """
        category = self._age_rule().confirmation_category
        evidence = {"under_guardian_age": under_guardian_age, "confirmed_at": now.isoformat()}
        self._state_event(
            address, "age_confirmation", None, under_guardian_age, now, "age_confirmation",
            evidence=(category, evidence) if category else None,
            check=None if under_guardian_age else _refuse_growing_up,
            discard_for=(lambda state: replace(state, age_confirmed=True,
                                               under_guardian_age=True))
            if under_guardian_age else None,
        )

    def set_guardian_consent(
        self, address: str, granted: bool, *, now: datetime, method: str | None = None,
        withdrawal_notices: Callable[[Sequence[str]], Sequence[PendingNotice]] | None = None,
    ) -> None:
        """Record a guardian's consent (``method``: how it was obtained) or its withdrawal;
        ``no_age_rule`` under a policy without an age rule.

        ``withdrawal_notices`` turns the optional purposes the change takes out of use
        into notices enqueued in the same transaction; it is not called when none are.
        Which purposes were in use is read under the subject's lock, so a consent the
        user changes at the same moment is either in the notice or decided after it.
        """
        category = self._age_rule().guardian_consent_category
        evidence = {"method": method, "granted_at": now.isoformat()}

        def notices_for(before: SubjectState) -> Sequence[PendingNotice]:
            if withdrawal_notices is None:
                return ()
            after = replace(before, guardian_consent=granted)
            lost = _purposes_taken_out_of_use(self.policy, before, after)
            return withdrawal_notices(lost) if lost else ()

        self._state_event(
            address, "guardian_consent", None, granted, now, "guardian_consent",
            evidence=(category, evidence) if category and granted else None,
            notices_for=notices_for,
        )

    def _age_rule(self) -> AgeRule:
        if self.policy.age is None:
            raise StoreError("no_age_rule",
                             f"the policy {self.policy.id!r} has no age rule: nothing to record")
        return self.policy.age

    # ------------------------------------------------------------------ audit and erasure

    def audit(
        self,
        address: str | None,
        event: AuditEvent,
        *,
        now: datetime,
        purpose: str | None = None,
        category: str | None = None,
        detail: Mapping[str, DetailValue] | None = None,
    ) -> None:
        """Log a processing event done above the store (an export, a correction...).

        ``detail`` must hold counts and flags only, never personal data.
        """
        now = require_aware(now)
        with self._write() as write:
            subject_id = None
            if address is not None:
                subject, _events = self._find(write.connection, address)
                subject_id = None if subject is None else subject.id
            self._audit(write.connection, event, now, subject_id, purpose=purpose,
                        category=category, detail=detail)

    def audit_entries(self, address: str | None = None) -> list[AuditEntry]:
        """The whole audit log, or one subject's own entries (for export)."""
        with self._reader.begin() as connection:
            if address is None:
                return read_audit(connection, None)
            subject, _events = self._find(connection, address)
            return [] if subject is None else read_audit(connection, subject.id)

    def erase(self, address: str, *, now: datetime) -> Erasure:
        """Erase everything about the subject but what the law requires to be kept.

        One transaction removes the records (except live ones kept for a legal-obligation
        purpose, listed in ``retained``), consent history, sessions and the records of
        provisions past the policy's ``record_retention`` (the others are kept, listed in
        ``retained_provisions``); audit entries lose their link to the subject. When
        nothing is retained the subject's key is destroyed (crypto-shredding: every copy
        of its rows, backups included, becomes unreadable). The same erasure as the wallet
        owner's request, without its request log and notices.
        """
        # subject_ops builds on Store, so it can only be imported once Store exists.
        from walletauth.store.subject_ops import erase_subject

        return erase_subject(self, address, now=now)

    # ------------------------------------------------------------------ retention

    def purge(
        self, *, now: datetime, batch_size: int = 5000,
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
        _require_positive_int(batch_size, "batch_size")
        if not isinstance(orphan_grace, timedelta) or orphan_grace < timedelta(0):
            raise StoreError("invalid_argument", "orphan_grace must be a timedelta >= 0")
        for name, bound in (("requests_retention", requests_retention),
                            ("notice_abandon_after", notice_abandon_after),
                            ("interrupted_after", interrupted_after)):
            if not isinstance(bound, timedelta) or bound <= timedelta(0):
                raise StoreError("invalid_argument", f"{name} must be a timedelta > 0")
        removed: dict[tuple[str, str], int] = {}
        # Before the subjects: a subject whose last provision record goes is then empty.
        provisions = self._batched(
            old_provisions_batch, provided_before=now - self.policy.third_party.record_retention,
            batch_size=batch_size)
        while True:
            with self.engine.begin() as connection:
                batch = expired_records_batch(connection, now, batch_size)
            for pair, count in batch.items():
                removed[pair] = removed.get(pair, 0) + count
            if sum(batch.values()) < batch_size:
                break
        subjects_removed = self._purge_empty_subjects(now, batch_size)
        short_lived = {
            name: self._purge_table(table, now, batch_size) for name, table in SHORT_LIVED.items()
        }
        orphans = self._destroy_orphan_keys(now, orphan_grace, batch_size)
        bookkeeping = {
            "requests_interrupted": self._batched(
                interrupted_requests_batch, received_before=now - interrupted_after, now=now,
                batch_size=batch_size),
            "requests_removed": self._batched(
                old_requests_batch, before=now - requests_retention, batch_size=batch_size),
            "notices_abandoned": self._batched(
                abandoned_notices_batch, occurred_before=now - notice_abandon_after,
                batch_size=batch_size),
        }
        report = PurgeReport(records=removed, subjects=subjects_removed, **short_lived,
                             orphan_keys=orphans, provisions=provisions, **bookkeeping)
        if report.anything_removed:
            with self.engine.begin() as connection:
                self._audit(connection, "purge", now, None, detail=report.audit_detail())
        return report

    # ------------------------------------------------------------------ secrets

    def rotate_secrets(
        self, secrets: Secrets | None = None, *, batch_size: int = 1000,
        now: datetime | None = None,
    ) -> RotationReport:
        """Move everything to the current secrets version.

        Adopts ``secrets`` (e.g. ``store.secrets.rotate()``) when given, then re-wraps
        every subject key under the current master key and recomputes every subject ref
        under the current HMAC key from the subject's decrypted address. Subjects stay
        findable throughout; afterwards older versions may be retired.
        """
        if secrets is not None:
            self.secrets = secrets
            self.keys.secrets = secrets
        keys = self.keys.rewrap(batch_size)
        refs = rekey_subjects(self.engine, self.keys, self.secrets, batch_size)
        with self.engine.begin() as connection:
            at = datetime.now(UTC) if now is None else require_aware(now)
            self._audit(connection, "secrets_rotation", at, None,
                        detail={"version": self.secrets.current.version, "subjects": refs,
                                "keys": keys})
        return RotationReport(subjects=refs, keys=keys)

    # ------------------------------------------------------------------ short-lived state

    def use_nonce(self, nonce: str, *, remember_until: datetime) -> bool:
        """Record a (stateless, server-authenticated) nonce as used until
        ``remember_until``: True for exactly one caller, however many race."""
        remember_until = require_aware(remember_until, "remember_until")
        self._require_nonce(nonce)
        with self.engine.begin() as connection:
            return ephemeral.use_nonce(connection, nonce, remember_until)

    def create_session(self, session_id: str, address: str, *, expires_at: datetime) -> None:
        expires_at = require_aware(expires_at, "expires_at")
        self._require_session_id(session_id)
        with self._write() as write:
            subject, _events = self._find(write.connection, address)
            subject, _key = self._ensure_subject(write, address, subject, expires_at)
            ephemeral.create_session(write.connection, session_id, subject.id, expires_at)
            retain_until(write.connection, subject.id, expires_at)

    def session_active(self, session_id: str, *, now: datetime) -> bool:
        now = require_aware(now)
        if not isinstance(session_id, str):
            return False
        with self._reader.begin() as connection:
            return ephemeral.session_active(connection, session_id, now)

    def rotate_session(
        self, session_id: str, new_session_id: str, *, now: datetime
    ) -> ephemeral.Rotation:
        """A refresh: ``new_session_id`` replaces the active ``session_id`` in its family
        (same expiry); a ``session_id`` rotated before ends its whole family (``reused``)."""
        now = require_aware(now)
        self._require_session_id(session_id)
        self._require_session_id(new_session_id)
        with self.engine.begin() as connection:
            return ephemeral.rotate_session(connection, session_id, new_session_id, now)

    def end_family_if_rotated(self, session_id: str) -> bool:
        """If ``session_id`` was rotated by a refresh, end every session of its family."""
        self._require_session_id(session_id)
        with self.engine.begin() as connection:
            return ephemeral.end_family_if_rotated(connection, session_id)

    def revoke_session(self, session_id: str) -> None:
        self._require_session_id(session_id)
        with self.engine.begin() as connection:
            ephemeral.revoke_session(connection, session_id)

    def revoke_sessions_of(self, address: str) -> int:
        """End every session of the address; returns how many were live."""
        with self.engine.begin() as connection:
            subject, _events = self._find(connection, address)
            return 0 if subject is None else ephemeral.revoke_sessions_of(connection, subject.id)

    # ------------------------------------------------------------------ internals

    @contextlib.contextmanager
    def _write(self) -> Iterator[_Write]:
        """One write transaction; keys created for subjects it never committed are dropped."""
        created: list[str] = []
        try:
            with self.engine.begin() as connection:
                yield _Write(connection, created)
        except BaseException:
            self.keys.destroy(created)
            raise

    def _find(
        self, connection: sa.Connection, address: str
    ) -> tuple[Subject | None, list[ConsentEvent]]:
        refs = refs_of(self.secrets, normalise_address(address))
        return find_with_history(connection, refs, lock=False)

    def _locked_state(
        self, connection: sa.Connection, address: str
    ) -> tuple[Subject | None, SubjectState]:
        refs = refs_of(self.secrets, normalise_address(address))
        subject, events = find_with_history(connection, refs, lock=True)
        return subject, self.state_of(events)

    def _ensure_subject(
        self, write: _Write, address: str, subject: Subject | None, now: datetime
    ) -> tuple[Subject, bytes]:
        if subject is not None:
            return subject, self.keys.require(subject.key_id)
        checksum = normalise_address(address)
        refs = refs_of(self.secrets, checksum)
        key_id, key = self.keys.create()
        write.created_keys.append(key_id)
        created = insert_subject(
            write.connection, ref=refs[0], key_id=key_id, key=key, checksum_address=checksum,
            now=now,
        )
        if created is not None:
            return created, key
        # Another transaction created the subject meanwhile: use theirs, drop our key.
        self.keys.destroy([key_id])
        write.created_keys.remove(key_id)
        existing, _events = find_with_history(write.connection, refs, lock=True)
        if existing is None:
            raise StoreError("unknown_subject", "the subject vanished while being created")
        return existing, self.keys.require(existing.key_id)

    def _record_per_allowed_purpose(
        self,
        connection: sa.Connection,
        subject: Subject,
        key: bytes,
        state: SubjectState,
        category: str,
        candidate: Mapping[str, object],
        now: datetime,
        source: str,
        *,
        retain: bool = True,
    ) -> list[datetime]:
        """One record of ``category`` per purpose it serves that ``state`` allows now;
        returns when each expires."""
        data = self._declared_only(category, candidate)
        expiries = []
        for purpose in self._allowed_purposes(category, state):
            insert_record(connection, self.policy, subject.id, key, category, purpose, data,
                          now, source, retain=retain)
            expiries.append(now + self.policy.retention(category, purpose))
        return expiries

    def _allowed_purposes(self, category: str, state: SubjectState) -> list[str]:
        """The purposes ``category`` serves that ``state`` allows collecting for now."""
        return [purpose for purpose in self.policy.category(category).retention
                if decide_collection(self.policy, category, purpose, state).allowed]

    def _declared_only(self, category: str, candidate: Mapping[str, object]) -> dict[str, object]:
        """What a sign-in offers, cut down to the fields the policy declares, minimised."""
        declared = self.policy.category(category).fields
        offered = {name: value for name, value in candidate.items()
                   if name in declared and value is not None}
        with policy_errors_as_store_errors():
            return minimised(self.policy, self.secrets, category, offered)

    def _state_event(
        self,
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
                self.policy.purpose(purpose)
        with self._write() as write:
            subject, state = self._locked_state(write.connection, address)
            if check is not None:
                check(state)
            subject, key = self._ensure_subject(write, address, subject, now)
            self._append_event(write.connection, subject, kind, purpose, value, now)
            self._enqueue(write.connection, address, notices, now)
            if notices_for is not None:
                self._enqueue(write.connection, address, notices_for(state), now)
            if evidence is not None:
                self._record_per_allowed_purpose(
                    write.connection, subject, key, state, evidence[0], evidence[1], now, kind
                )
            detail: dict[str, DetailValue] = {"value": value}
            if discard_for is not None:
                detail["discarded"] = self._discard_without_guardian(
                    write.connection, subject, discard_for(state))
            self._audit(write.connection, event, now, subject.id, purpose=purpose,
                        detail=detail)

    def _discard_without_guardian(
        self, connection: sa.Connection, subject: Subject, state: SubjectState
    ) -> int:
        """Delete the subject's records ``state`` would refuse to collect for want of a
        guardian's consent; returns how many."""
        pairs = connection.execute(
            sa.select(records.c.category, records.c.purpose)
            .where(records.c.subject_id == subject.id).distinct()
        ).all()
        refused = [
            (category, purpose) for category, purpose in pairs
            if decide_collection(self.policy, category, purpose, state).reason
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
        self, connection: sa.Connection, subject: Subject, kind: ConsentKind,
        purpose: str | None, value: bool, now: datetime,
    ) -> None:
        connection.execute(
            sa.insert(consent_events).values(
                subject_id=subject.id, kind=kind, purpose=purpose, value=value, at=now,
                policy_version=self.policy.version,
                # The words consented to: a later change of them puts the consent on hold.
                text_digest=self._current_texts().digests.get(purpose or "")
                if kind == "consent" else None,
            )
        )

    def _audit(
        self,
        connection: sa.Connection,
        event: AuditEvent,
        now: datetime,
        subject_id: int | None,
        *,
        purpose: str | None = None,
        category: str | None = None,
        detail: Mapping[str, DetailValue] | None = None,
    ) -> None:
        write_audit(connection, event, at=now, policy_version=self.policy.version,
                    subject_id=subject_id, purpose=purpose, category=category, detail=detail)

    def _purge_empty_subjects(self, now: datetime, batch_size: int) -> int:
        removed = 0
        while True:
            with self.engine.begin() as connection:
                key_ids = empty_subjects_batch(connection, now, batch_size)
            # Rows first, keys after: a crash in between leaves an unused key, never a
            # subject whose data cannot be read.
            self.keys.destroy(key_ids)
            removed += len(key_ids)
            if len(key_ids) < batch_size:
                return removed

    def _destroy_orphan_keys(self, now: datetime, grace: timedelta, batch_size: int) -> int:
        # Keys are stamped with the wall clock: a purge run with a later ``now`` must
        # still spare a key made moments ago by a sign-in in flight.
        created_before = min(now, datetime.now(UTC)) - grace
        return sum(
            self.keys.destroy(batch)
            for batch in orphan_key_batches(self.engine, self.keys.engine,
                                            created_before=created_before,
                                            batch_size=batch_size)
        )

    def _enqueue(
        self, connection: sa.Connection, address: str, notices: Sequence[PendingNotice],
        now: datetime,
    ) -> None:
        for notice in notices:
            enqueue(connection, self.secrets, notice, normalise_address(address), now)

    def _batched(self, batch: Callable[..., int], *, batch_size: int, **bounds: datetime) -> int:
        """Run ``batch`` in short transactions until it does less than a full batch."""
        done = 0
        while True:
            with self.engine.begin() as connection:
                count = batch(connection, batch_size=batch_size, **bounds)
            done += count
            if count < batch_size:
                return done

    def _purge_table(self, table: sa.Table, now: datetime, batch_size: int) -> int:
        removed = 0
        while True:
            with self.engine.begin() as connection:
                count = expired_rows_batch(connection, table, now, batch_size)
            removed += count
            if count < batch_size:
                return removed

    @staticmethod
    def _require_nonce(nonce: object) -> None:
        if not isinstance(nonce, str) or not 8 <= len(nonce) <= 128:
            raise StoreError("invalid_argument", "a nonce is 8 to 128 characters")

    @staticmethod
    def _require_session_id(session_id: object) -> None:
        if not isinstance(session_id, str) or not 16 <= len(session_id) <= 512:
            raise StoreError("invalid_argument", "a session id is 16 to 512 characters")

