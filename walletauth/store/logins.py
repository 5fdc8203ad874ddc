"""The fast sign-in: the nonce's use, the wallet and access-log records ``policy.login``
names, and the session, in one transaction on the driver (:mod:`.login_sql`).

This is the service's hot path: what the policy has a sign-in write is looked up once
per policy (:class:`LoginPlan`), and concurrent sign-ins share one transaction
(:func:`sign_in_many`), each undone alone if it fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from walletauth.policy.evaluate import SubjectState, UseDecision, decide_allowed_collection
from walletauth.policy.model import Policy
from walletauth.store.addresses import normalise_address
from walletauth.store.crypto import seal
from walletauth.store.ephemeral import session_hash
from walletauth.store.errors import StoreError, policy_errors_as_store_errors, refuse
from walletauth.store.handle import (
    StoreHandle,
    declared_only,
    require_nonce,
    require_positive_int,
    require_session_id,
)
from walletauth.store.login_sql import LoginBatch, LoginTransaction, RunAlone, TransactionLost
from walletauth.store.records import open_data, seal_data
from walletauth.store.subjects import ADDRESS_ASSOCIATED, Subject, refs_of
from walletauth.store.types import require_aware


@dataclass(frozen=True, slots=True, kw_only=True)
class SignIn:
    """One verified sign-in: what the server's verify builds and the store writes, the
    one shape of a sign-in from the verify to the database."""

    address: str
    chain_id: int
    now: datetime
    nonce: str
    nonce_issued_at: datetime
    """When the nonce was issued: Redis checks it against the epoch of its memory of used
    nonces (:mod:`walletauth.server.signin.nonces`); the SQL tables need no such check."""
    nonce_remember_until: datetime
    session_id: str
    session_expires_at: datetime
    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class SignInOutcome:
    """How one sign-in of :func:`sign_in_many` ended, as it would have alone: written
    (True), its nonce used already (False, nothing written), or ``error``, which it would
    have raised."""

    written: bool
    error: Exception | None = None

    def result(self) -> bool:
        """``written``, or ``error`` raised."""
        if self.error is not None:
            raise self.error
        return self.written


@dataclass(frozen=True, slots=True)
class _NonceAndSession:
    """What a sign-in writes beside its records: the nonce's use and the session."""

    nonce: str
    remember_until: datetime
    session_hash: str
    session_expires_at: datetime


@dataclass(frozen=True, slots=True)
class _Login:
    """A sign-in (or :func:`record_login`) with its arguments checked: times in UTC, the
    subject's refs, and the session id's hash."""

    checksum: str
    refs: list[str]
    chain_id: int
    now: datetime
    ip: str | None
    user_agent: str | None
    once: _NonceAndSession | None = None
    """None for :func:`record_login`: its nonce and session are kept elsewhere."""


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
class LoginPlan:
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
    def of(cls, policy: Policy) -> LoginPlan:
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


def record_login(
    store: StoreHandle,
    address: str,
    chain_id: int,
    *,
    now: datetime,
    ip: str | None = None,
    user_agent: str | None = None,
) -> None:
    """Store what a sign-in stores, per ``policy.login`` (its nonce and session kept
    elsewhere, e.g. in Redis).

    The wallet record is upserted (``first_sign_in`` kept; ``last_sign_in`` and its
    expiry moved); one access-log record is added per purpose that the access-log
    category serves and the subject's state allows right now.
    """
    now = require_aware(now)
    require_positive_int(chain_id, "chain_id")
    checksum = normalise_address(address)
    login = _Login(checksum, refs_of(store.secrets, checksum), chain_id, now, ip, user_agent)
    (outcome,) = _logins(store, [login])
    outcome.result()


def record_logins(store: StoreHandle, sign_ins: Sequence[SignIn]) -> list[SignInOutcome]:
    """:func:`record_login` for each of ``sign_ins`` (their nonces and sessions kept
    elsewhere), each ending as it would alone: written (True) or the error it would raise.

    On PostgreSQL the returning wallets among them (one sign-in per wallet) share one
    transaction of four round trips (:class:`~walletauth.store.login_sql.LoginsTogether`)
    and one commit; a first sign-in, a second sign-in of a wallet and any sign-in of a
    batch whose transaction failed (a deadlock, a lost connection) then run alone, each in
    its own transaction as :func:`record_login` runs it. On SQLite they share one
    transaction in savepoints, as :func:`sign_in_many`'s.
    """
    logins = [_checked(store, sign_in, with_nonce=False) for sign_in in sign_ins]
    if not store.login_sql.together_possible:
        return _logins(store, logins)
    outcomes: dict[int, SignInOutcome] = {}
    alone: list[int] = []
    together: list[tuple[int, _Login]] = []
    wallets: set[str] = set()
    for index, login in enumerate(logins):
        if isinstance(login, StoreError):
            outcomes[index] = SignInOutcome(False, login)
        elif login.checksum in wallets or len(logins) == 1:
            alone.append(index)
        else:
            wallets.add(login.checksum)
            together.append((index, login))
    if together:
        try:
            written, ran_alone = _logins_together(store, together)
        except Exception:  # the batch's transaction wrote nothing: each runs alone
            written, ran_alone = {}, [index for index, _login in together]
        outcomes.update(written)
        alone.extend(ran_alone)
    for index in sorted(alone):
        (outcomes[index],) = _logins(store, [logins[index]])
    return [outcomes[index] for index in range(len(logins))]


def _logins_together(
    store: StoreHandle, together: Sequence[tuple[int, _Login]]
) -> tuple[dict[int, SignInOutcome], list[int]]:
    """:func:`record_logins`' one transaction: the outcomes it decided (valid once it
    committed, which it has when this returns) and the sign-ins left to run alone."""
    plan = _login_plan(store)
    record = (plan.wallet.category, plan.wallet.purpose)
    outcomes: dict[int, SignInOutcome] = {}
    alone: list[int] = []
    created_keys: list[str] = []  # none: a sign-in that would create its subject runs alone
    try:
        with store.login_sql.together() as batch:
            batch.look_up([ref for _index, login in together for ref in login.refs], record)
            for index, login in together:
                try:
                    transaction = batch.sign_in(login.refs)
                    outcomes[index] = _login(store, transaction, plan, login, created_keys)
                except RunAlone:
                    alone.append(index)
                    continue
                except Exception as error:  # its own refusal or failure; nothing of it kept
                    outcomes[index] = SignInOutcome(False, error)
                    continue
                batch.keep(transaction)
            batch.write()
    finally:
        store.keys.destroy(created_keys)
    return outcomes, alone


def sign_in_many(store: StoreHandle, sign_ins: Sequence[SignIn]) -> list[SignInOutcome]:
    """Everything each sign-in writes: the nonce's use, what :func:`record_login` stores,
    and the session; all of them in one transaction (one commit for all: see
    :mod:`walletauth.store.login_sql`).

    A sign-in whose nonce was used already is ``False``, with nothing written. An
    argument it refuses, a refusal by the policy (its nonce kept used, so its signed
    message cannot be replayed later when the subject's state may allow it) or an
    unexpected error (its writes undone, keys it created destroyed) is that sign-in's
    outcome alone; the others still commit. Returns once the commit is done; a failing
    commit raises for all, and the keys the batch created are destroyed.
    """
    return _logins(store, [_checked(store, sign_in) for sign_in in sign_ins])


def _checked(
    store: StoreHandle, sign_in: SignIn, *, with_nonce: bool = True
) -> _Login | StoreError:
    """``sign_in`` checked, or what it was refused for (before its nonce is used);
    ``with_nonce`` false: its nonce and session are kept elsewhere (:func:`record_logins`)."""
    try:
        now = require_aware(sign_in.now)
        if not with_nonce:  # record_login's checks, in its order
            require_positive_int(sign_in.chain_id, "chain_id")
            checksum = normalise_address(sign_in.address)
            return _Login(checksum, refs_of(store.secrets, checksum), sign_in.chain_id, now,
                          sign_in.ip, sign_in.user_agent)
        remember_until = require_aware(sign_in.nonce_remember_until, "nonce_remember_until")
        session_expires_at = require_aware(sign_in.session_expires_at, "session_expires_at")
        require_positive_int(sign_in.chain_id, "chain_id")
        require_nonce(sign_in.nonce)
        require_session_id(sign_in.session_id)
        checksum = normalise_address(sign_in.address)
        return _Login(
            checksum, refs_of(store.secrets, checksum), sign_in.chain_id, now, sign_in.ip,
            sign_in.user_agent, _NonceAndSession(sign_in.nonce, remember_until,
                                                 session_hash(sign_in.session_id),
                                                 session_expires_at),
        )
    except StoreError as refused:
        return refused


def _logins(store: StoreHandle, logins: Sequence[_Login | StoreError]) -> list[SignInOutcome]:
    """The sign-ins' one transaction on the driver (:mod:`walletauth.store.login_sql`);
    the refused ones are outcomes already and take no part."""
    outcomes = {index: SignInOutcome(False, login) for index, login in enumerate(logins)
                if isinstance(login, StoreError)}
    to_run = [(index, login) for index, login in enumerate(logins)
              if isinstance(login, _Login)]
    if to_run:
        plan = _login_plan(store)
        created_keys: list[str] = []
        try:
            with store.login_sql.batch(len(to_run)) as batch:
                for index, login in to_run:
                    outcomes[index] = _login_alone(store, batch, plan, login, created_keys)
        except BaseException:
            store.keys.destroy(created_keys)  # keys of subjects this never committed
            raise
    return [outcomes[index] for index in range(len(logins))]


def _login_alone(
    store: StoreHandle, batch: LoginBatch, plan: LoginPlan, login: _Login,
    created_keys: list[str],
) -> SignInOutcome:
    """One sign-in of the batch: an error undoes its own writes and keys, no one else's."""
    own_keys_from = len(created_keys)
    try:
        with batch.sign_in() as transaction:
            return _login(store, transaction, plan, login, created_keys)
    except TransactionLost:
        raise  # the others' writes may be gone with its own: the batch fails for all
    except Exception as error:
        store.keys.destroy(created_keys[own_keys_from:])
        del created_keys[own_keys_from:]
        return SignInOutcome(False, error)


def _login(
    store: StoreHandle, transaction: LoginTransaction, plan: LoginPlan, login: _Login,
    created_keys: list[str],
) -> SignInOutcome:
    """One sign-in's statements. With a nonce: False, nothing written, if it was used
    already; a refusal by the policy keeps it used and is the outcome. Without: a
    refusal is raised (so nothing is written). The subject is kept until the latest of
    its records' expiries and the session's, moved once rather than once per row."""
    once = login.once
    if once is not None and not transaction.use_nonce(once.nonce, once.remember_until):
        return SignInOutcome(False)
    subject, events = transaction.find_subject(
        login.refs, record=(plan.wallet.category, plan.wallet.purpose)
    )
    state = store.state_of(events)
    try:
        with policy_errors_as_store_errors():
            refuse(plan.may_collect(plan.wallet, state), "sign-in")
    except StoreError as refused:
        if once is None:
            raise
        return SignInOutcome(False, refused)  # the nonce's use alone is kept
    subject, key = _login_subject(store, transaction, subject, login, created_keys)
    expiries = _write_login(store, transaction, plan, subject, key, state, login)
    if once is not None:
        transaction.create_session(once.session_hash, subject.id, once.session_expires_at)
        expiries.append(once.session_expires_at)
    transaction.retain_until(subject.id, max(expiries))
    return SignInOutcome(True)


def _login_plan(store: StoreHandle) -> LoginPlan:
    """What a sign-in writes under the policy in force (fixed for the handle's life)."""
    plan = store.login_plan
    if plan is None:
        with policy_errors_as_store_errors():
            plan = store.login_plan = LoginPlan.of(store.policy)
    return plan


def _login_subject(
    store: StoreHandle, transaction: LoginTransaction, subject: Subject | None, login: _Login,
    created_keys: list[str],
) -> tuple[Subject, bytes]:
    """The signing-in subject and its key; a first sign-in creates both."""
    if subject is not None:
        return subject, store.keys.require(subject.key_id)
    key_id, key = store.keys.create()
    created_keys.append(key_id)
    created = transaction.insert_subject(
        login.refs[0], key_id,
        seal(key, login.checksum.encode("ascii"), ADDRESS_ASSOCIATED), login.now,
    )
    if created is not None:
        return created, key
    # Another transaction created the subject meanwhile: use theirs, drop our key.
    store.keys.destroy([key_id])
    created_keys.remove(key_id)
    existing, _events = transaction.find_subject(login.refs)
    if existing is None:
        raise StoreError("unknown_subject", "the subject vanished while being created")
    return existing, store.keys.require(existing.key_id)


def _write_login(
    store: StoreHandle, transaction: LoginTransaction, plan: LoginPlan, subject: Subject,
    key: bytes, state: SubjectState, login: _Login,
) -> list[datetime]:
    """The wallet record (``first_sign_in`` kept) and an access-log record per purpose
    the state allows; returns when each expires."""
    wallet, now, version = plan.wallet, login.now, store.policy.version
    existing = transaction.first_record(subject.id, wallet.category, wallet.purpose)
    first_sign_in = last_sign_in = now.isoformat()
    if existing is not None:
        previous = open_data(key, wallet.category, wallet.purpose, existing[1])
        first_sign_in = str(previous.get("first_sign_in", first_sign_in))
    sealed = seal_data(key, wallet.category, wallet.purpose, declared_only(
        store, wallet.category,
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
        entry = declared_only(store, plan.access_log_category, {
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
