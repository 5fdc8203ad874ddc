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
writes and reads. Everything else in the store stays on SQLAlchemy, but for the
disclosure's read of all a subject's records
(:func:`walletauth.store.records.fetch_subject_records`).

Group commit: on SQLite the commit (writing the transaction's pages to the WAL) costs
about a third of a sign-in's CPU, so concurrent sign-ins share one transaction, each in a
savepoint of its own (:meth:`LoginBatch.sign_in`): one that fails is undone alone, the
others still commit, all in one commit and one pool checkout per engine. A batch of one (every
sign-in on PostgreSQL, where the server does not batch) needs no savepoint: its failure
rolls the transaction back.

On PostgreSQL a round trip costs the server's backend about 50 us of CPU even when it
does nothing (removing the two pings per sign-in saved 100 us of backend CPU), so a
sign-in makes four: ``BEGIN``; the subject lookup, which locks the subject's row and then
(in a function that reads the state committed by whoever held the lock before it,
:meth:`LoginTransaction.find_subject`) reads its consent events, its wallet record and,
when the key store shares the database, its key row; the writes, held back and sent as one statement
(data-modifying ``WITH`` queries, :meth:`_Dialect.together`); ``COMMIT``. It made ten (with
the pool's ping per checkout, since removed in :mod:`walletauth.store.engines`):
``benchmarks/login.py``, 2,391 -> 2,064 us of CPU per sign-in in all processes. With the
key store apart, its key read runs in autocommit: psycopg would wrap its one SELECT in a
BEGIN and a COMMIT, two round trips of their own. Pipeline mode for the batch (BEGIN sent
with the first lookup, the writes after the record lookup sent together: 8 round trips
on the records' connection become 5) was tried and not kept: under
``benchmarks/login.py`` its many small polling steps (psycopg's pipeline loop, each taking
the GIL back from the event loop) gave the same CPU per sign-in and a worse p99 (three
alternating runs: 104-196 ms against 80-93 ms).

Several sign-ins on PostgreSQL (the Redis path's batches, :class:`LoginsTogether`) take
the same four round trips for all of them: one lookup for every subject, one write
statement over arrays, one commit (``benchmarks/README.md``: CPU per sign-in in all
processes 2,558-2,867 -> 1,424-1,527 us).
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
_STATE_COLUMNS = (
    "l.id, l.ref, l.key_id, h.kind, h.purpose, h.value, h.at, h.policy_version,"
    " h.text_digest, h.record_id, h.record_data{key_columns}"
)
_FIND_SUBJECT_AND_MORE = (
    "WITH l AS MATERIALIZED (SELECT id, ref, key_id FROM subjects WHERE ref IN ({refs})"
    " FOR UPDATE) SELECT " + _STATE_COLUMNS + " FROM l CROSS JOIN LATERAL"
    " walletauth_sign_in_state{key_function}(l.id,{key_argument} ?, ?) AS h"
)
"""PostgreSQL: the subject locked, then its consent events, its first record of a
category and purpose (the sign-in's wallet record) and its key row when the key store
shares the database, in one round trip instead of four. The state is read by a
``VOLATILE`` function called once the lock is granted, in a snapshot of its own
(migration ``0009_sign_in_state``): read by the locking statement itself, it would be
the state of before the wait (:meth:`LoginTransaction.find_subject`)."""
_KEY_COLUMNS = ", h.master_version, h.wrapped"
_KEY_FUNCTION = "_with_key"
_KEY_ARGUMENT = " l.key_id,"
_LOCK_SUBJECT = "SELECT id FROM subjects WHERE ref IN ({refs}) FOR UPDATE"
"""PostgreSQL: the subject's row locked in a statement of its own, before the lookup
(:meth:`LoginTransaction.find_subject`). SQLite's ``BEGIN IMMEDIATE`` already serialises
writers: no lock, no statement."""
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
_PREFETCHED_KEYS: ContextVar[dict[sa.Engine, dict[str, tuple[int, bytes] | None]] | None] = (
    ContextVar("walletauth_prefetched_keys", default=None)
)
"""Inside a :meth:`LoginSql.batch` whose key store shares the records' database: the key
rows the subject lookups read along (None: the key was destroyed), by key-store engine,
each handed once to the :class:`KeyRead` that asks for it."""
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
        self.locks_apart = self.name == "postgresql"
        """Whether :meth:`find_subject`'s lookup is preceded by :meth:`lock_subject`
        (PostgreSQL)."""
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
        self._lock_subject: dict[int, str] = {}
        self._find_subject_and_more: dict[tuple[int, bool], str] = {}
        self._together: dict[tuple[str, ...], str] = {}
        self.writes_together = self.name == "postgresql"
        """Whether a sign-in's writes go as one statement (see :meth:`together`)."""

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
            text = self._placeheld(_FIND_SUBJECT.format(refs=refs))
            self._find_subject[ref_count] = text
        return text

    def lock_subject(self, ref_count: int) -> str:
        """PostgreSQL: the lock on the subject of ``ref_count`` refs (:data:`_LOCK_SUBJECT`)."""
        text = self._lock_subject.get(ref_count)
        if text is None:
            refs = ", ".join("?" * ref_count)
            text = self._lock_subject[ref_count] = self._placeheld(_LOCK_SUBJECT.format(refs=refs))
        return text

    def find_subject_and_more(self, ref_count: int, *, with_key: bool) -> str:
        """PostgreSQL: :meth:`find_subject` with the first record of a category and purpose
        and, ``with_key``, the subject's key row (see :data:`_FIND_SUBJECT_AND_MORE`)."""
        text = self._find_subject_and_more.get((ref_count, with_key))
        if text is None:
            text = self._placeheld(_FIND_SUBJECT_AND_MORE.format(
                refs=", ".join("?" * ref_count),
                key_columns=_KEY_COLUMNS if with_key else "",
                key_function=_KEY_FUNCTION if with_key else "",
                key_argument=_KEY_ARGUMENT if with_key else "",
            ))
            self._find_subject_and_more[(ref_count, with_key)] = text
        return text

    def together(self, texts: tuple[str, ...]) -> str:
        """Several of this module's writes as one statement: all but the last as
        data-modifying ``WITH`` queries of the last (PostgreSQL). They see the same
        snapshot and so must not touch one row twice; a sign-in's never do (its wallet
        record, new access-log rows, its subject's retention, its session)."""
        text = self._together.get(texts)
        if text is None:
            *first, last = (self.sql(each) for each in texts)
            parts = ", ".join(f"w{index} AS ({each})" for index, each in enumerate(first))
            text = self._together[texts] = f"WITH {parts} {last}"
        return text


class LoginTransaction:
    """The sign-in's statements on one DBAPI cursor, inside one transaction."""

    def __init__(
        self, cursor: Any, dialect: _Dialect, *, keys: sa.Engine | None = None
    ) -> None:
        """``keys``: the key-store engine whose rows the subject lookup reads along, when
        the key store shares this database (PostgreSQL)."""
        self._cursor = cursor
        self._dialect = dialect
        self._keys = keys
        # A sign-in writes its time and each expiry into several columns: each distinct
        # value goes through the type's bind processing (~3 us) once per transaction.
        self._bound_times: dict[datetime, Any] = {}
        # PostgreSQL: writes wait here and go as one statement (:meth:`flush`), before the
        # next read or at the end of the sign-in, one round trip instead of one each.
        self._pending: list[tuple[str, tuple[Any, ...]]] = []
        # PostgreSQL: the first record the subject lookup read along, by its lookup key.
        self._first_records: dict[tuple[int, str, str], tuple[int, bytes] | None] = {}

    def _run(self, text: str, parameters: tuple[Any, ...]) -> Any:
        self.flush()
        return self._cursor.execute(self._dialect.sql(text), parameters)

    def _write(self, text: str, parameters: tuple[Any, ...]) -> None:
        if self._dialect.writes_together:
            self._pending.append((text, parameters))
        else:
            self._cursor.execute(self._dialect.sql(text), parameters)

    def flush(self) -> None:
        """Send the writes held back (see ``_pending``), as one statement."""
        pending = self._pending
        if not pending:
            return
        self._pending = []
        if len(pending) == 1:
            ((text, parameters),) = pending
            self._cursor.execute(self._dialect.sql(text), parameters)
            return
        texts = tuple(text for text, _parameters in pending)
        self._cursor.execute(
            self._dialect.together(texts),
            tuple(value for _text, parameters in pending for value in parameters),
        )

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

    def find_subject(
        self, refs: list[str], *, record: tuple[str, str] | None = None
    ) -> tuple[Subject | None, list[ConsentEvent]]:
        """The subject, locked for this transaction, and its consent events, oldest first
        (as :func:`walletauth.store.subjects.find_with_history`). On PostgreSQL the same
        round trip reads the subject's first record of ``record`` (category, purpose),
        which :meth:`first_record` then answers, and its key row when the key store shares
        the database, which the key store's next read of that key answers.

        On PostgreSQL the state is read after the lock is granted: a statement reads what
        was committed when it began, and when it locks a row it waited for, only that row
        is read again, not the rows joined to it; so events read by the locking statement
        itself would miss a withdrawal that held the lock and committed while it waited
        (tests/store/test_sign_in_under_lock.py). With ``record``, a function called
        after the lock reads them in a snapshot of its own (:data:`_FIND_SUBJECT_AND_MORE`);
        without (a subject created meanwhile, rare), the lock is a statement of its own."""
        self.flush()
        more = record is not None and self._dialect.writes_together
        if more:
            assert record is not None
            text = self._dialect.find_subject_and_more(len(refs), with_key=self._keys is not None)
            self._cursor.execute(text, [*refs, *record])
        else:
            if self._dialect.locks_apart:
                self._cursor.execute(self._dialect.lock_subject(len(refs)), refs)
            self._cursor.execute(self._dialect.find_subject(len(refs)), refs)
        return self._subject_of(self._cursor.fetchall(), record if more else None)

    def _subject_of(
        self, rows: list[Any], record: tuple[str, str] | None
    ) -> tuple[Subject | None, list[ConsentEvent]]:
        """:meth:`find_subject`'s answer from its rows; ``record``: the rows also hold the
        first record of that (category, purpose) and, with ``self._keys``, the key row."""
        if not rows:
            return None, []
        read_time = self._dialect.read_time
        events = [
            ConsentEvent(kind, purpose, bool(value), read_time(at), policy_version, digest)
            for _id, _ref, _key_id, kind, purpose, value, at, policy_version, digest, *_more
            in rows if kind is not None
        ]
        subject_id, ref, key_id = rows[0][:3]
        if record is not None:
            first = rows[0]
            self._first_records[(subject_id, *record)] = (
                None if first[9] is None else (first[9], bytes(first[10]))
            )
            if self._keys is not None:
                prefetched = _PREFETCHED_KEYS.get()
                if prefetched is not None:
                    prefetched.setdefault(self._keys, {})[key_id] = (
                        None if first[11] is None else (first[11], bytes(first[12]))
                    )
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
        looked_up = (subject_id, category, purpose)
        if looked_up in self._first_records:
            return self._first_records.pop(looked_up)
        self._run(_FIRST_RECORD, (subject_id, category, purpose))
        row = self._cursor.fetchone()
        return None if row is None else (row[0], bytes(row[1]))

    def insert_record(
        self, subject_id: int, category: str, purpose: str, *, basis: str, now: datetime,
        expires_at: datetime, source: str, policy_version: str, data: bytes,
    ) -> None:
        at = self._time(now)
        self._write(_INSERT_RECORD, (
            subject_id, category, purpose, basis, at, at, self._time(expires_at),
            source, policy_version, data,
        ))

    def update_record(
        self, record_id: int, *, now: datetime, expires_at: datetime, policy_version: str,
        data: bytes,
    ) -> None:
        self._write(_UPDATE_RECORD, (
            self._time(now), self._time(expires_at), policy_version, data, record_id
        ))

    def retain_until(self, subject_id: int, until: datetime) -> None:
        """Keep the subject row at least until ``until``."""
        at = self._time(until)
        self._write(_RETAIN_UNTIL, (at, subject_id, at))

    def create_session(self, id_hash: str, subject_id: int, expires_at: datetime) -> None:
        self._write(_CREATE_SESSION, (id_hash, subject_id, self._time(expires_at)))


_LOOKUP_MANY = (
    "WITH l AS MATERIALIZED (SELECT id, ref, key_id FROM subjects WHERE ref = ANY(%s)"
    " ORDER BY ref FOR UPDATE) SELECT " + _STATE_COLUMNS + " FROM l CROSS JOIN LATERAL"
    " walletauth_sign_in_state{key_function}(l.id,{key_argument} %s, %s) WITH ORDINALITY"
    " AS h ORDER BY l.ref, h.ordinality"
)
"""PostgreSQL: :data:`_FIND_SUBJECT_AND_MORE` for the refs of several sign-ins at once,
their subjects locked in the order of their refs (two workers' batches lock in one
order, so they wait for each other rather than deadlock), each subject's state read by
the function once its lock is granted; the function's rows (events oldest first) keep
their order within each subject."""
_WRITE_MANY = (
    "WITH updated AS (UPDATE records AS r SET updated_at = v.at, expires_at = v.until,"
    " policy_version = v.version, data = v.data"
    " FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[], %s::text[],"
    " %s::bytea[]) AS v(id, at, until, version, data) WHERE r.id = v.id),"
    " inserted AS (INSERT INTO records (subject_id, category, purpose, basis, collected_at,"
    " updated_at, expires_at, source, policy_version, data)"
    " SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[],"
    " %s::timestamptz[], %s::timestamptz[], %s::timestamptz[], %s::text[], %s::text[],"
    " %s::bytea[]))"
    " UPDATE subjects AS s SET retained_until = v.until"
    " FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, until)"
    " WHERE s.id = v.id AND s.retained_until < v.until"
)
"""PostgreSQL: the writes of several sign-ins (:data:`_UPDATE_RECORD`,
:data:`_INSERT_RECORD`, :data:`_RETAIN_UNTIL`, each a row of its arrays) as one statement
of one text whatever their number. The sign-ins are of distinct subjects, so no row is
touched twice."""


class RunAlone(Exception):
    """A sign-in of :class:`LoginsTogether` that needs a statement of its own (a first
    sign-in creating its subject, a record the lookup did not read): it runs alone after
    the batch."""


class _Prefetched(LoginTransaction):
    """A sign-in of :class:`LoginsTogether`: its subject, wallet record and key row come
    from the batch's one lookup, its writes stay in ``_pending`` for the batch's one
    write statement, and anything else is :class:`RunAlone`."""

    def __init__(
        self, dialect: _Dialect, keys: sa.Engine | None, rows: list[Any],
        record: tuple[str, str],
    ) -> None:
        super().__init__(None, dialect, keys=keys)
        self._rows = rows
        self._record = record

    def find_subject(
        self, refs: list[str], *, record: tuple[str, str] | None = None
    ) -> tuple[Subject | None, list[ConsentEvent]]:
        if record != self._record:
            raise RunAlone("a lookup the batch did not make")
        rows, self._rows = self._rows, []
        if not rows:
            raise RunAlone("the subject was looked up already")
        return self._subject_of(rows, record)

    def flush(self) -> None:
        """The writes wait for the batch's statement (see :meth:`LoginsTogether.write`)."""

    def _run(self, text: str, parameters: tuple[Any, ...]) -> Any:
        raise RunAlone("a statement of its own")


class LoginsTogether:
    """PostgreSQL: what :func:`~walletauth.store.logins.record_login` writes for several
    sign-ins of distinct subjects, in the four round trips one of them takes (``BEGIN``,
    one lookup, one write statement over arrays, ``COMMIT``): each sign-in's statements
    are the ones it makes alone, only sent together."""

    def __init__(self, cursor: Any, dialect: _Dialect, keys: sa.Engine | None) -> None:
        self._cursor = cursor
        self._dialect = dialect
        self._keys = keys
        self._rows: dict[str, list[Any]] = {}
        self._record: tuple[str, str] | None = None
        self._kept: list[_Prefetched] = []

    def look_up(self, refs: list[str], record: tuple[str, str]) -> None:
        """Lock and read the subjects of ``refs`` with the first record of ``record``
        (category, purpose) and their key rows, each read once its lock is granted (see
        :meth:`LoginTransaction.find_subject`). Not prepared: as a prepared statement
        psycopg runs it (and :data:`_WRITE_MANY`) on a generic plan whose cost grew batch
        by batch (``benchmarks/store_floor.py``: backend CPU per sign-in 261 -> 572 us
        over 2,400 batches of 5; unprepared 290-365 us throughout)."""
        with_key = self._keys is not None
        text = _LOOKUP_MANY.format(key_columns=_KEY_COLUMNS if with_key else "",
                                   key_function=_KEY_FUNCTION if with_key else "",
                                   key_argument=_KEY_ARGUMENT if with_key else "")
        self._cursor.execute(text, (refs, *record), prepare=False)
        self._record = record
        for row in self._cursor.fetchall():
            self._rows.setdefault(row[1], []).append(row)

    def sign_in(self, refs: list[str]) -> LoginTransaction:
        """The transaction one sign-in of ``refs`` runs its statements on; RunAlone if
        the lookup found no subject (a first sign-in) or more than one."""
        found = [ref for ref in refs if ref in self._rows]
        if len(found) != 1 or self._record is None:
            raise RunAlone("no subject, or several, for the sign-in's refs")
        return _Prefetched(self._dialect, self._keys, self._rows.pop(found[0]), self._record)

    def keep(self, transaction: LoginTransaction) -> None:
        """Write ``transaction``'s statements with the batch's (its sign-in succeeded)."""
        assert isinstance(transaction, _Prefetched)
        self._kept.append(transaction)

    def write(self) -> None:
        """The kept sign-ins' writes, as one statement (:data:`_WRITE_MANY`)."""
        updates: list[tuple[Any, ...]] = []
        inserts: list[tuple[Any, ...]] = []
        retains: list[tuple[Any, ...]] = []
        for transaction in self._kept:
            for text, parameters in transaction._pending:
                if text == _UPDATE_RECORD:
                    updates.append((parameters[4], *parameters[:4]))
                elif text == _INSERT_RECORD:
                    inserts.append(parameters)
                elif text == _RETAIN_UNTIL:
                    retains.append(parameters[1::-1])
                else:
                    raise RunAlone("a write the batch's statement does not make")
        if not (updates or inserts or retains):
            return
        columns = (
            _columns(updates, 5) + _columns(inserts, 10) + _columns(retains, 2)
        )
        self._cursor.execute(_WRITE_MANY, columns, prepare=False)


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """``rows`` as ``width`` arrays, one per column (empty arrays for no rows)."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * width


class TransactionLost(Exception):
    """A batch's transaction is in no known state (SQLite rolls a whole transaction back
    on some errors, so a sign-in's savepoint may be gone with the others' writes): the
    batch fails for every sign-in in it."""


class LoginBatch:
    """One write transaction for one or more sign-ins (see the module's docstring)."""

    def __init__(
        self, cursor: Any, dialect: _Dialect, *, several: bool, keys: sa.Engine | None = None
    ) -> None:
        self._cursor = cursor
        self._login = LoginTransaction(cursor, dialect, keys=keys)
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
        if error_type is None:
            try:
                batch._login.flush()  # the writes held back are part of this sign-in
            except BaseException:
                self._undo()
                raise
            if batch._savepoints:
                batch._savepoint("RELEASE SAVEPOINT sign_in")
        else:
            batch._login._pending.clear()
            self._undo()

    def _undo(self) -> None:
        batch = self._batch
        if not batch._savepoints:
            batch.undone = True
        else:
            # Also what makes PostgreSQL's transaction usable again after an error in it.
            batch._savepoint("ROLLBACK TO SAVEPOINT sign_in", "RELEASE SAVEPOINT sign_in")


class LoginSql:
    """The sign-in's statements for one records engine (see the module's docstring)."""

    def __init__(self, engine: sa.Engine, keys: sa.Engine | None = None) -> None:
        """``keys``: the key store's engine; when it is the same PostgreSQL database, the
        subject lookup reads the subject's key row along (one round trip less)."""
        self._engine = engine
        self._dialect = _Dialect(engine)
        self._keys = keys if keys is not None and _same_database(engine, keys) else None

    @contextlib.contextmanager
    def batch(self, size: int) -> Iterator[LoginBatch]:
        """One write transaction for ``size`` sign-ins: committed when the block ends
        (rolled back instead if its lone sign-in failed), rolled back if it raises."""
        with self._transaction() as (connection, cursor):
            if self._dialect.begin is not None:
                cursor.execute(self._dialect.begin)
            batch = LoginBatch(cursor, self._dialect, several=size > 1, keys=self._keys)
            with _holding_key_connections():
                yield batch
            if batch.undone:
                connection.rollback()
            else:
                connection.commit()

    @property
    def together_possible(self) -> bool:
        """Whether :meth:`together` serves this database (PostgreSQL; SQLite batches in
        savepoints instead, see :meth:`batch`)."""
        return self._dialect.writes_together

    @contextlib.contextmanager
    def together(self) -> Iterator[LoginsTogether]:
        """One write transaction for several sign-ins' :class:`LoginsTogether`: committed
        when the block ends, rolled back (nothing of it written) if it raises."""
        with self._transaction() as (connection, cursor):
            with _holding_key_connections():
                yield LoginsTogether(cursor, self._dialect, self._keys)
            connection.commit()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[tuple[Any, Any]]:
        """A pooled DBAPI connection and a cursor on it, for a block that ends its
        transaction itself; rolled back if the block raises, both closed after."""
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                yield connection, cursor
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
        prefetched = _PREFETCHED_KEYS.get()
        if prefetched is not None:
            read_along = prefetched.get(self._engine, {})
            if key_id in read_along:
                return read_along.pop(key_id)
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
    prefetched = _PREFETCHED_KEYS.set({})
    try:
        yield
    finally:
        _PREFETCHED_KEYS.reset(prefetched)
        _HELD_KEY_CONNECTIONS.reset(token)
        for connection in held.values():
            connection.close()


def _same_database(engine: sa.Engine, other: sa.Engine) -> bool:
    """Whether two PostgreSQL engines reach one database (so one statement reads both)."""
    return (
        engine.dialect.name == other.dialect.name == "postgresql"
        and engine.url.render_as_string(hide_password=False)
        == other.url.render_as_string(hide_password=False)
    )
