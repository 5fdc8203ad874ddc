"""Engines for the supported databases: an embedded SQLite file, or PostgreSQL (psycopg 3).

SQLite is tuned for a small server: WAL (readers never block the writer), secure
delete (erased rows are overwritten, not left in free pages), foreign keys (the
cascades erasure relies on), a busy timeout, and write transactions that take the
write lock up front (``BEGIN IMMEDIATE``) so two writers queue instead of one failing
half-way with "database is locked".
"""

from __future__ import annotations

import contextlib
import os
import select
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import StaticPool

from walletauth.store.errors import StoreError

BUSY_TIMEOUT_MS = 10_000
READ_ONLY = {"walletauth_read_only": True}
"""Execution option for transactions that only read: on SQLite they begin DEFERRED."""


def backend_of(url: str) -> str:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise StoreError("unsupported_database", f"not a database URL: {url!r}") from None
    backend = parsed.get_backend_name()
    if backend not in {"sqlite", "postgresql"}:
        raise StoreError(
            "unsupported_database",
            f"walletauth stores data in SQLite or PostgreSQL, not {backend!r}",
        )
    return backend


def is_memory_sqlite(url: str) -> bool:
    database = sa.make_url(url).database
    return not database or database == ":memory:"


def default_keystore_url(url: str) -> str:
    """Where subject keys live unless configured otherwise.

    SQLite: a separate file beside the data file (``walletauth.db`` ->
    ``walletauth.keys.db``). PostgreSQL: the same database, in tables of their own;
    in production point ``keystore_url`` at a separate database with its own backups.
    """
    if backend_of(url) == "postgresql":
        return url
    if is_memory_sqlite(url):
        return "sqlite://"
    parsed = sa.make_url(url)
    path = Path(parsed.database or "")
    keys = path.with_name(f"{path.stem}.keys{path.suffix or '.db'}")
    return parsed.set(database=str(keys)).render_as_string(hide_password=False)


def create_engine(url: str) -> sa.Engine:
    backend = backend_of(url)
    if backend == "postgresql":
        return _postgresql_engine(url)
    return _sqlite_engine(url)


def _postgresql_engine(url: str) -> sa.Engine:
    parsed = sa.make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    # Ten kept open: the server runs at most eight store calls at once, so a burst of
    # sign-ins reuses connections instead of opening (and closing) overflow ones per call.
    # No ping per checkout (a round trip, and a backend's wake-up, per store call: two per
    # sign-in): a dead pooled connection is found without one (:func:`_closed_by_server`).
    engine = sa.create_engine(parsed, pool_size=10, max_overflow=10)
    event.listen(engine, "checkout", _replace_if_closed_by_server)
    return engine


def _closed_by_server(dbapi_connection: Any) -> bool:
    """Whether PostgreSQL has ended an idle pooled connection, without a round trip.

    An idle connection receives nothing unless the server is ending it: a restart, an
    administrator's ``pg_terminate_backend``, an idle timeout, a failover each send their
    FATAL message and close, which leaves the socket readable. So a readable idle socket
    (or one psycopg knows to be closed) is a dead connection; anything else is taken as
    alive, as a ping would have found it (a connection that dies later fails as after a
    ping). This looks at the socket in about a microsecond where ``pool_pre_ping`` cost a
    round trip and a wake-up of the backend on every checkout."""
    if dbapi_connection.closed or dbapi_connection.broken:
        return True
    try:
        socket = dbapi_connection.pgconn.socket
    except psycopg.OperationalError:
        return True  # no socket left to look at
    # poll, not select: a worker serving a thousand clients holds descriptors past
    # select's 1,024, where select refuses every socket (and so every checkout).
    poller = select.poll()
    poller.register(socket, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


def _replace_if_closed_by_server(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    if _closed_by_server(dbapi_connection):
        # The pool discards this connection and checks out (or opens) another.
        raise sa.exc.DisconnectionError("the server closed this pooled connection")


def _create_private_file(path: Path) -> None:
    """Make the database file (and a missing directory) readable by this user only.

    SQLite creates the -wal and -shm files with the database file's permissions, so
    creating it 0600 here keeps all three private whatever the process umask. An
    existing file keeps the permissions its operator gave it.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _sqlite_engine(url: str) -> sa.Engine:
    options: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
    memory = is_memory_sqlite(url)
    if memory:
        # One shared connection, or every checkout would see a new empty database.
        options["poolclass"] = StaticPool
    else:
        _create_private_file(Path(sa.make_url(url).database or ""))
    engine = sa.create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not memory:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        read_only = connection.get_execution_options().get("walletauth_read_only", False)
        connection.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")

    return engine
