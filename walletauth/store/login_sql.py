"""The sign-in's statements, run on the DBAPI connection itself.

Why this module bypasses SQLAlchemy's ORM/Core layers: a sign-in is the service's hot
path, a handful of one-row statements in one transaction. Through SQLAlchemy Core they
cost about 0.55 ms of CPU per sign-in (connection and execution contexts, events, result
objects, per-statement type processing) against about 30 us through the bare driver, and
on one SQLite writer that CPU is the service's ceiling. So these few statements are plain
SQL text written once per dialect (SQLite and PostgreSQL speak the same ``ON CONFLICT``
and ``RETURNING``; only the placeholder differs), run on a pooled DBAPI connection in one
transaction that :meth:`LoginSql.batch` begins and ends itself. Times pass through
the columns' own type (:class:`UTCDateTime`), so the rows are exactly what the Core path
writes and reads. Everything else in the store stays on SQLAlchemy.

Group commit: on SQLite the commit (writing the transaction's pages to the WAL) costs
about a third of a sign-in's CPU, so concurrent sign-ins share one transaction, each in a
savepoint of its own (:meth:`LoginBatch.sign_in`): one that fails is undone alone, the
others still commit, all in one commit and one pool checkout per engine. A batch of one (every
sign-in on PostgreSQL, where the server does not batch) needs no savepoint: its failure
rolls the transaction back.

On PostgreSQL the key read runs in autocommit: psycopg would wrap its one SELECT in a
BEGIN and a COMMIT, two round trips of their own. Pipeline mode for the batch (BEGIN sent
with the first lookup, the writes after the record lookup sent together: 8 round trips
on the records' connection become 5) was tried and not kept: under
``benchmarks/login.py`` its many small polling steps (psycopg's pipeline loop, each taking
the GIL back from the event loop) gave the same CPU per sign-in and a worse p99 (three
alternating runs: 104-196 ms against 80-93 ms).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from walletauth.store.consent import ConsentEvent
from walletauth.store.subjects import Subject
from walletauth.store.types import UTCDateTime, require_aware

_USE_NONCE = (
    "INSERT INTO nonces (nonce, expires_at) VALUES (?, ?)"
    " ON CONFLICT (nonce) DO NOTHING RETURNING nonce"
)
_FIND_SUBJECT = (
    "SELECT s.id, s.ref, s.key_id, e.kind, e.purpose, e.value, e.at, e.policy_version,"
    " e.text_digest FROM subjects AS s LEFT OUTER JOIN consent_events AS e ON e.subject_id = s.id"
    " WHERE s.ref IN ({refs}) ORDER BY e.id"
)
_LOCK_SUBJECT = {"sqlite": "", "postgresql": " FOR UPDATE OF s"}
"""SQLite's ``BEGIN IMMEDIATE`` already serialises writers; PostgreSQL locks the row."""
_INSERT_SUBJECT = (
    "INSERT INTO subjects (ref, key_id, address_sealed, created_at, retained_until)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (ref) DO NOTHING RETURNING id"
)
_FIRST_RECORD = (
    "SELECT id, data FROM records WHERE subject_id = ? AND category = ? AND purpose = ?"
    " ORDER BY id LIMIT 1"
)
_INSERT_RECORD = (
    "INSERT INTO records (subject_id, category, purpose, basis, collected_at, updated_at,"
    " expires_at, source, policy_version, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPDATE_RECORD = (
    "UPDATE records SET updated_at = ?, expires_at = ?, policy_version = ?, data = ?"
    " WHERE id = ?"
)
_RETAIN_UNTIL = "UPDATE subjects SET retained_until = ? WHERE id = ? AND retained_until < ?"
_CREATE_SESSION = (
    "INSERT INTO sessions (id_hash, subject_id, expires_at) VALUES (?, ?, ?)"
    " ON CONFLICT (id_hash) DO UPDATE"
    " SET subject_id = excluded.subject_id, expires_at = excluded.expires_at"
)
_READ_KEY = "SELECT master_version, wrapped FROM keystore_subject_keys WHERE key_id = ?"

_STATEMENTS = (
    _USE_NONCE, _INSERT_SUBJECT, _FIRST_RECORD, _INSERT_RECORD, _UPDATE_RECORD, _RETAIN_UNTIL,
    _CREATE_SESSION, _READ_KEY,
)
_HELD_KEY_CONNECTIONS: ContextVar[dict[sa.Engine, Any] | None] = ContextVar(
    "walletauth_held_key_connections", default=None
)
"""Inside a :meth:`LoginSql.batch`: the key-store connection each :class:`KeyRead` keeps
until the batch ends, so a batch checks one out of the pool, not one per sign-in (a
checkout and its return cost about 15 us). The key store is another engine, reached
through :class:`~walletauth.store.keystore.KeyStore`, so the batch cannot hand it one."""
_BEGIN = {"sqlite": "BEGIN IMMEDIATE", "postgresql": None}
"""How a write transaction starts: the SQLite connections run in autocommit mode (see
:mod:`walletauth.store.engines`), psycopg opens one implicitly on the first statement."""


def sqlite_time(moment: datetime) -> str:
    """What :class:`UTCDateTime` binds on SQLite (naive UTC in SQLite's ``DATETIME`` text,
    ``YYYY-MM-DD HH:MM:SS.ffffff``), in one call: through the type decorator and the
    dialect's processor (a format string over a dict of seven fields) it costs about 3 us,
    and a sign-in binds five distinct times. Tests compare the two."""
    if moment.tzinfo is not UTC:  # the store's times are UTC already; others as the type does
        moment = require_aware(moment, "time")
    return moment.replace(tzinfo=None).isoformat(" ", "microseconds")


def _processor(process: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    """SQLAlchemy returns no processor for a type that converts nothing; UTCDateTime
    converts both ways on every dialect, so a missing one would let naive or foreign-zone
    times through unconverted: fail at start instead."""
    if process is None:
        raise TypeError("UTCDateTime lost its time conversion for this dialect")
    return process


class _Dialect:
    """Statement text and time conversion for one engine's dialect."""

    def __init__(self, engine: sa.Engine) -> None:
        self.name = engine.dialect.name
        self.begin = _BEGIN[self.name]
        self.lock = _LOCK_SUBJECT[self.name]
        self.placeholder = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        time_type = UTCDateTime().dialect_impl(engine.dialect)
        self.bind_time: Callable[[datetime], Any] = (
            sqlite_time if self.name == "sqlite"
            else _processor(time_type.bind_processor(engine.dialect))
        )
        self.read_time: Callable[[Any], datetime] = _processor(
            time_type.result_processor(engine.dialect, None)
        )

        self._statements = {text: self._placeheld(text) for text in _STATEMENTS}
        self._find_subject: dict[int, str] = {}

    def _placeheld(self, text: str) -> str:
        return text if self.placeholder == "?" else text.replace("?", self.placeholder)

    def sql(self, text: str) -> str:
        """``text`` (one of this module's statements) in the driver's placeholder style."""
        return self._statements[text]

    def find_subject(self, ref_count: int) -> str:
        """The subject lookup for ``ref_count`` refs (one per secrets version held)."""
        text = self._find_subject.get(ref_count)
        if text is None:
            refs = ", ".join("?" * ref_count)
            text = self._placeheld(_FIND_SUBJECT.format(refs=refs) + self.lock)
            self._find_subject[ref_count] = text
        return text


class LoginTransaction:
    """The sign-in's statements on one DBAPI cursor, inside one transaction."""

    def __init__(self, cursor: Any, dialect: _Dialect) -> None:
        self._cursor = cursor
        self._dialect = dialect
        # A sign-in writes its time and each expiry into several columns: each distinct
        # value goes through the type's bind processing (~3 us) once per transaction.
        self._bound_times: dict[datetime, Any] = {}

    def _run(self, text: str, parameters: tuple[Any, ...]) -> Any:
        return self._cursor.execute(self._dialect.sql(text), parameters)

    def _time(self, moment: datetime) -> Any:
        bound = self._bound_times.get(moment)
        if bound is None:
            bound = self._bound_times[moment] = self._dialect.bind_time(moment)
        return bound

    def use_nonce(self, nonce: str, remember_until: datetime) -> bool:
        """Record ``nonce`` as used (see :mod:`walletauth.store.ephemeral`); False if it
        was used already."""
        self._run(_USE_NONCE, (nonce, self._time(remember_until)))
        return self._cursor.fetchone() is not None

    def find_subject(self, refs: list[str]) -> tuple[Subject | None, list[ConsentEvent]]:
        """The subject, locked for this transaction, and its consent events, oldest first
        (as :func:`walletauth.store.subjects.find_with_history`)."""
        self._cursor.execute(self._dialect.find_subject(len(refs)), refs)
        rows = self._cursor.fetchall()
        if not rows:
            return None, []
        read_time = self._dialect.read_time
        events = [
            ConsentEvent(kind, purpose, bool(value), read_time(at), policy_version, digest)
            for _id, _ref, _key_id, kind, purpose, value, at, policy_version, digest in rows
            if kind is not None
        ]
        subject_id, ref, key_id = rows[0][:3]
        return Subject(subject_id, ref, key_id), events

    def insert_subject(
        self, ref: str, key_id: str, address_sealed: bytes, now: datetime
    ) -> Subject | None:
        """A new subject row, or None if another transaction created it first."""
        at = self._time(now)
        self._run(_INSERT_SUBJECT, (ref, key_id, address_sealed, at, at))
        row = self._cursor.fetchone()
        return None if row is None else Subject(row[0], ref, key_id)

    def first_record(
        self, subject_id: int, category: str, purpose: str
    ) -> tuple[int, bytes] | None:
        """The id and sealed data of the subject's oldest record of ``category`` for
        ``purpose``."""
        self._run(_FIRST_RECORD, (subject_id, category, purpose))
        row = self._cursor.fetchone()
        return None if row is None else (row[0], bytes(row[1]))

    def insert_record(
        self, subject_id: int, category: str, purpose: str, *, basis: str, now: datetime,
        expires_at: datetime, source: str, policy_version: str, data: bytes,
    ) -> None:
        at = self._time(now)
        self._run(_INSERT_RECORD, (
            subject_id, category, purpose, basis, at, at, self._time(expires_at),
            source, policy_version, data,
        ))

    def update_record(
        self, record_id: int, *, now: datetime, expires_at: datetime, policy_version: str,
        data: bytes,
    ) -> None:
        self._run(_UPDATE_RECORD, (
            self._time(now), self._time(expires_at), policy_version, data, record_id
        ))

    def retain_until(self, subject_id: int, until: datetime) -> None:
        """Keep the subject row at least until ``until``."""
        at = self._time(until)
        self._run(_RETAIN_UNTIL, (at, subject_id, at))

    def create_session(self, id_hash: str, subject_id: int, expires_at: datetime) -> None:
        self._run(_CREATE_SESSION, (id_hash, subject_id, self._time(expires_at)))


class TransactionLost(Exception):
    """A batch's transaction is in no known state (SQLite rolls a whole transaction back
    on some errors, so a sign-in's savepoint may be gone with the others' writes): the
    batch fails for every sign-in in it."""


class LoginBatch:
    """One write transaction for one or more sign-ins (see the module's docstring)."""

    def __init__(self, cursor: Any, dialect: _Dialect, *, several: bool) -> None:
        self._cursor = cursor
        self._login = LoginTransaction(cursor, dialect)
        self._savepoints = several
        self.undone = False
        """A lone sign-in failed: the transaction is rolled back instead of committed."""

    def sign_in(self) -> _SignInScope:
        """One sign-in's statements: if the block raises, what they wrote is undone."""
        return _SignInScope(self)

    def _savepoint(self, *statements: str) -> None:
        try:
            for statement in statements:
                self._cursor.execute(statement)
        except Exception as error:
            raise TransactionLost(f"the sign-ins' transaction is lost: {error}") from error


class _SignInScope:
    """:meth:`LoginBatch.sign_in`'s block. A class rather than a generator context
    manager: it is entered once per sign-in, and ``contextlib``'s generator machinery
    costs about 1 us more per block."""

    __slots__ = ("_batch",)

    def __init__(self, batch: LoginBatch) -> None:
        self._batch = batch

    def __enter__(self) -> LoginTransaction:
        batch = self._batch
        if batch._savepoints:
            batch._savepoint("SAVEPOINT sign_in")
        return batch._login

    def __exit__(self, error_type: type[BaseException] | None, *_details: object) -> None:
        batch = self._batch
        if not batch._savepoints:
            if error_type is not None:
                batch.undone = True
        elif error_type is None:
            batch._savepoint("RELEASE SAVEPOINT sign_in")
        else:
            # Also what makes PostgreSQL's transaction usable again after an error in it.
            batch._savepoint("ROLLBACK TO SAVEPOINT sign_in", "RELEASE SAVEPOINT sign_in")


class LoginSql:
    """The sign-in's statements for one records engine (see the module's docstring)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._dialect = _Dialect(engine)

    @contextlib.contextmanager
    def batch(self, size: int) -> Iterator[LoginBatch]:
        """One write transaction for ``size`` sign-ins: committed when the block ends
        (rolled back instead if its lone sign-in failed), rolled back if it raises."""
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                if self._dialect.begin is not None:
                    cursor.execute(self._dialect.begin)
                batch = LoginBatch(cursor, self._dialect, several=size > 1)
                with _holding_key_connections():
                    yield batch
                if batch.undone:
                    connection.rollback()
                else:
                    connection.commit()
            except BaseException:
                connection.rollback()
                raise
            finally:
                cursor.close()
        finally:
            connection.close()


class KeyRead:
    """A subject key's row read in one statement on the key store's DBAPI connection: it
    is read once per sign-in (see the module's docstring). Within a :meth:`LoginSql.batch`
    every read of the batch goes through one connection, checked out at the first."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        dialect = _Dialect(engine)
        self._text = dialect.sql(_READ_KEY)
        # psycopg wraps even one SELECT in BEGIN and COMMIT, two round trips of their own:
        # the read runs in autocommit instead (SQLite's connections autocommit already).
        autocommit = dialect.name == "postgresql"
        self._read = self._read_autocommit if autocommit else self._read_in_transaction

    def __call__(self, key_id: str) -> tuple[int, bytes] | None:
        """The key's master version and wrapped bytes, or None once it was destroyed."""
        held = _HELD_KEY_CONNECTIONS.get()
        if held is None:
            connection = self._engine.raw_connection()
            try:
                return self._read(connection, key_id)
            finally:
                connection.close()
        held_connection = held.get(self._engine)
        if held_connection is None:
            held_connection = held[self._engine] = self._engine.raw_connection()
        return self._read(held_connection, key_id)

    def _read_in_transaction(self, connection: Any, key_id: str) -> tuple[int, bytes] | None:
        try:
            row = self._fetch(connection, key_id)
            connection.commit()  # a no-op on SQLite's autocommitting connections
        except BaseException:
            connection.rollback()  # a kept connection stays usable for the batch's next read
            raise
        return row

    def _read_autocommit(self, connection: Any, key_id: str) -> tuple[int, bytes] | None:
        driver = connection.driver_connection
        driver.autocommit = True
        try:
            return self._fetch(connection, key_id)
        finally:
            if not driver.closed:  # a broken connection is the pool's to throw away
                driver.autocommit = False

    def _fetch(self, connection: Any, key_id: str) -> tuple[int, bytes] | None:
        cursor = connection.cursor()
        try:
            cursor.execute(self._text, (key_id,))
            row = cursor.fetchone()
        finally:
            cursor.close()
        return None if row is None else (row[0], bytes(row[1]))


@contextlib.contextmanager
def _holding_key_connections() -> Iterator[None]:
    """Let :class:`KeyRead` keep its connection until the block ends (see
    :data:`_HELD_KEY_CONNECTIONS`)."""
    held: dict[sa.Engine, Any] = {}
    token = _HELD_KEY_CONNECTIONS.set(held)
    try:
        yield
    finally:
        _HELD_KEY_CONNECTIONS.reset(token)
        for connection in held.values():
            connection.close()
