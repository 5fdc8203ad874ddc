"""What every part of the store works with: the engines, the key store, the policy and the
secrets (:class:`StoreHandle`), and the few steps they all take (one write transaction,
finding a subject, creating one, the argument checks).

Each concept's module (:mod:`~walletauth.store.logins`,
:mod:`~walletauth.store.purpose_records`, :mod:`~walletauth.store.erasure`...) is a set of
functions over a handle; :class:`walletauth.store.Store` binds the ones the layers above
call. Every call is one short transaction (or a few, for purge and re-keying) on a pooled
engine, so a handle is shared by all threads of the server.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from walletauth.policy.evaluate import SubjectState
from walletauth.policy.model import Policy
from walletauth.store.addresses import normalise_address
from walletauth.store.consent import ConsentEvent, CurrentTexts, state_from_events
from walletauth.store.engines import READ_ONLY
from walletauth.store.errors import StoreError, policy_errors_as_store_errors
from walletauth.store.keystore import KeyStore
from walletauth.store.login_sql import LoginSql
from walletauth.store.outbox import PendingNotice, enqueue
from walletauth.store.records import minimised
from walletauth.store.secrets import Secrets
from walletauth.store.subjects import Subject, find_with_history, insert_subject, refs_of

if TYPE_CHECKING:
    from walletauth.store.logins import LoginPlan


class StoreHandle:
    """The records engine, the key store, the policy in force and the secrets."""

    def __init__(
        self, engine: sa.Engine, keys: KeyStore, *, policy: Policy, secrets: Secrets
    ) -> None:
        self.engine = engine
        self.keys = keys
        self._policy = policy
        self.secrets = secrets
        self.reader = engine.execution_options(**READ_ONLY)
        """The engine for transactions that only read (DEFERRED on SQLite)."""
        self.login_sql = LoginSql(engine, keys.engine)
        self.login_plan: LoginPlan | None = None
        """What a sign-in writes under the policy (see :mod:`.logins`), once it is asked."""
        self._texts: CurrentTexts | None = None

    @property
    def policy(self) -> Policy:
        """The policy in force, for the handle's life: a new policy takes a new handle (the
        server loads it at start-up), so what is derived from it is computed once."""
        return self._policy

    def close(self) -> None:
        self.engine.dispose()
        self.keys.engine.dispose()

    def subject_ref(self, address: str) -> str:
        """The keyed hash a subject is filed under (current secrets version)."""
        return refs_of(self.secrets, normalise_address(address))[0]

    def state_of(self, events: Sequence[ConsentEvent]) -> SubjectState:
        """The state ``events`` imply under the policy in force: a consent given to an
        earlier text of its purpose is outdated (on hold until given again)."""
        return state_from_events(events, self.current_texts())

    def current_texts(self) -> CurrentTexts:
        """The digests of the policy in force."""
        if self._texts is None:
            self._texts = CurrentTexts(self.policy.version, self.policy.consent_digests())
        return self._texts


@dataclass(slots=True)
class Write:
    """One write transaction and the subject keys it created (dropped if it fails)."""

    connection: sa.Connection
    created_keys: list[str] = field(default_factory=list)


@contextlib.contextmanager
def write_transaction(store: StoreHandle) -> Iterator[Write]:
    """One write transaction; keys created for subjects it never committed are dropped."""
    created: list[str] = []
    try:
        with store.engine.begin() as connection:
            yield Write(connection, created)
    except BaseException:
        store.keys.destroy(created)
        raise


def find_subject(
    store: StoreHandle, connection: sa.Connection, address: str
) -> tuple[Subject | None, list[ConsentEvent]]:
    """The subject filed under ``address`` (any secrets version held) and its events."""
    refs = refs_of(store.secrets, normalise_address(address))
    return find_with_history(connection, refs, lock=False)


def locked_state(
    store: StoreHandle, connection: sa.Connection, address: str
) -> tuple[Subject | None, SubjectState]:
    """The subject, locked for this transaction, and its state."""
    refs = refs_of(store.secrets, normalise_address(address))
    subject, events = find_with_history(connection, refs, lock=True)
    return subject, store.state_of(events)


def ensure_subject(
    store: StoreHandle, write: Write, address: str, subject: Subject | None, now: datetime
) -> tuple[Subject, bytes]:
    """``subject`` and its key, or a new subject (with a new key) for ``address``."""
    if subject is not None:
        return subject, store.keys.require(subject.key_id)
    checksum = normalise_address(address)
    refs = refs_of(store.secrets, checksum)
    key_id, key = store.keys.create()
    write.created_keys.append(key_id)
    created = insert_subject(
        write.connection, ref=refs[0], key_id=key_id, key=key, checksum_address=checksum,
        now=now,
    )
    if created is not None:
        return created, key
    # Another transaction created the subject meanwhile: use theirs, drop our key.
    store.keys.destroy([key_id])
    write.created_keys.remove(key_id)
    existing, _events = find_with_history(write.connection, refs, lock=True)
    if existing is None:
        raise StoreError("unknown_subject", "the subject vanished while being created")
    return existing, store.keys.require(existing.key_id)


def declared_only(
    store: StoreHandle, category: str, candidate: Mapping[str, object]
) -> dict[str, object]:
    """What a write offers, cut down to the fields the policy declares, minimised."""
    declared = store.policy.category(category).fields
    offered = {name: value for name, value in candidate.items()
               if name in declared and value is not None}
    with policy_errors_as_store_errors():
        return minimised(store.policy, store.secrets, category, offered)


def enqueue_notices(
    store: StoreHandle, connection: sa.Connection, address: str,
    notices: Sequence[PendingNotice], now: datetime,
) -> None:
    for notice in notices:
        enqueue(connection, store.secrets, notice, normalise_address(address), now)


def checkpoint(store: StoreHandle) -> None:
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
        pass  # the change is committed; the next checkpoint will do
    finally:
        raw.close()


def require_positive_int(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise StoreError("invalid_argument", f"{name} must be a positive integer, got {value!r}")


def require_nonce(nonce: object) -> None:
    if not isinstance(nonce, str) or not 8 <= len(nonce) <= 128:
        raise StoreError("invalid_argument", "a nonce is 8 to 128 characters")


def require_session_id(session_id: object) -> None:
    if not isinstance(session_id, str) or not 16 <= len(session_id) <= 512:
        raise StoreError("invalid_argument", "a session id is 16 to 512 characters")
