"""The PostgreSQL engine's pool: no ping per checkout, yet a connection the server ended
is replaced before a call can fail on it."""

from __future__ import annotations

import select
import time

import pytest
import sqlalchemy as sa

from walletauth.store.engines import create_engine

pytestmark = pytest.mark.postgres


def _backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def _wait_until_readable(engine: sa.Engine) -> None:
    """Until the pooled connection's socket shows what the server sent as it ended it."""
    (record,) = list(engine.pool._pool.queue)  # type: ignore[attr-defined]
    socket = record.dbapi_connection.pgconn.socket
    deadline = time.monotonic() + 5
    while not select.select([socket], [], [], 0.05)[0]:
        assert time.monotonic() < deadline, "the terminated backend's socket never closed"


def test_a_pooled_connection_the_server_ended_is_replaced_at_checkout(postgres_url):
    engine = create_engine(postgres_url)
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        first = _backend_pid(engine)  # one connection, now idle in the pool
        with admin.connect() as connection:
            connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        _wait_until_readable(engine)
        # Without the check this call fails on the dead connection (no ping finds it).
        second = _backend_pid(engine)
        assert second != first
        assert _backend_pid(engine) == second  # and the new one is kept
    finally:
        engine.dispose()
        admin.dispose()


def test_a_checkout_sends_nothing_to_the_server(postgres_url, tmp_path):
    """A ping per checkout was a round trip for every store call: with the pooled
    connection's protocol traced, a call sends its own statement and nothing before it."""
    engine = create_engine(postgres_url)
    trace = tmp_path / "trace"
    try:
        _backend_pid(engine)
        (record,) = list(engine.pool._pool.queue)  # type: ignore[attr-defined]
        with trace.open("w") as out:
            record.dbapi_connection.pgconn.trace(out.fileno())
            with engine.connect() as connection:
                connection.execute(sa.text("SELECT 41 + 1"))
            record.dbapi_connection.pgconn.untrace()
        sent = [line.split("\t")[3] for line in trace.read_text().splitlines()
                if line.split("\t")[1] == "F"]
        assert sent.count("Query") + sent.count("Parse") + sent.count("Bind") >= 1
        queries = [line for line in trace.read_text().splitlines() if "\tF\t" in line
                   and ("\tQuery\t" in line or "\tParse\t" in line)]
        assert all("41 + 1" in line or "BEGIN" in line or "ROLLBACK" in line
                   for line in queries), queries
    finally:
        engine.dispose()


def test_a_connection_on_a_descriptor_past_1024_is_checked_out(postgres_url):
    """A worker with a thousand clients holds descriptors past select()'s limit: the
    check must not take every such connection for dead (it did, with select: a burst of
    1,000 sign-ins then failed its checkouts with "This connection is closed")."""
    import os
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"the hard limit of open files is {hard}: raise it to 1200 or more")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    engine = create_engine(postgres_url)
    try:
        first = _backend_pid(engine)
        (record,) = list(engine.pool._pool.queue)  # type: ignore[attr-defined]
        assert record.dbapi_connection.pgconn.socket >= 1024
        assert _backend_pid(engine) == first  # the same connection, kept
    finally:
        engine.dispose()
        for descriptor in filler:
            os.close(descriptor)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
