"""The server process (``walletauth serve``) SIGKILLed in the middle of ``POST /me/erase``:
restarted, it has the subject whole (its session works, a new erasure removes every
record) or gone (its token is refused), with the requests log and the notice outbox in
agreement. The kill moments are chosen from evidence, not luck: the erasure's
transaction is seen open (SQLite: its uncommitted pages spilling into the write-ahead
log; PostgreSQL: the transaction waiting on a lock the test holds), or seen committed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.rights.helpers import signed_request
from tests.server.conftest import DOMAIN, Wallet
from tests.server.test_multiworker import free_port, wait_until_healthy
from walletauth.sdk import new_webhook_secret

pytestmark = pytest.mark.slow

EXTRA_RECORDS = 20_000
"""Enough that the erasure's transaction lasts a while and spills pages to the WAL."""
REPO = Path(__file__).resolve().parents[2]
SPILLED = 256 * 1024
"""WAL growth (bytes) that only the open erasure transaction writes."""


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]


@contextmanager
def serve(data_dir: Path, database_url: str | None) -> Iterator[Server]:
    """``walletauth serve`` in its own process; one registered webhook (never delivered
    here), so that an erasure enqueues a notice."""
    port = free_port()
    environment = {
        **os.environ,
        "WALLETAUTH_DATA_DIR": str(data_dir),
        "WALLETAUTH_DOMAINS": DOMAIN,
        "WALLETAUTH_RATE_LIMITS": "off",
        "WALLETAUTH_LOG_LEVEL": "warning",
        "WALLETAUTH_NOTICE_DELIVERY": "false",
        "WALLETAUTH_SERVICES": '{"music": {"webhook_url": "http://127.0.0.1:9/hooks",'
                               f' "webhook_secrets": ["{new_webhook_secret()}"]}}}}',
    }
    if database_url:
        environment["WALLETAUTH_DATABASE_URL"] = database_url
    process = subprocess.Popen(
        [sys.executable, "-c", "from walletauth.cli import app; app()", "serve", "--port",
         str(port)], env=environment, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    server = Server(f"http://127.0.0.1:{port}", process)
    try:
        wait_until_healthy(server.url, process)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


@contextmanager
def database(url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def add_records(engine: sa.Engine, count: int) -> int:
    """Copies of the subject's wallet record (sealed under its key); the total it has."""
    with engine.begin() as connection:
        subject_id = connection.execute(sa.text("SELECT id FROM subjects")).scalar_one()
        columns = ("category, purpose, basis, collected_at, updated_at, expires_at, source,"
                   " policy_version, data")
        template = connection.execute(sa.text(
            f"SELECT {columns} FROM records WHERE category = 'wallet_address'")).one()
        names = [name.strip() for name in columns.split(",")]
        connection.execute(
            sa.text(f"INSERT INTO records (subject_id, {columns}) VALUES (:subject_id, "
                    + ", ".join(f":{name}" for name in names) + ")"),
            [{"subject_id": subject_id, **template._asdict()}] * count,
        )
        return connection.execute(sa.text("SELECT count(*) FROM records")).scalar_one()


def counts(engine: sa.Engine) -> tuple[int, int, list[str]]:
    """Records, queued notices, and the statuses of erasure requests."""
    with engine.connect() as connection:
        records, outbox = (
            connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("records", "notice_outbox")
        )
    return records, outbox, erase_statuses(engine)


def erase_and_kill(server: Server, wallet: Wallet, token: str,
                   kill_when: Callable[[], bool]) -> None:
    """Send the erasure; SIGKILL the server as soon as ``kill_when()`` holds."""
    with httpx.Client(base_url=server.url) as http:
        body = signed_request(http, wallet, "erase")
    answered: list[object] = []

    def send() -> None:
        try:
            answered.append(httpx.post(f"{server.url}/me/erase", json=body, timeout=60,
                                       headers={"Authorization": f"Bearer {token}"}))
        except httpx.TransportError as error:
            answered.append(error)

    sender = threading.Thread(target=send)
    sender.start()
    deadline = time.monotonic() + 30
    while not kill_when():
        assert time.monotonic() < deadline, "the moment to kill never came"
        assert not answered, f"the erasure finished before the kill: {answered}"
        time.sleep(0.001)
    server.process.kill()
    server.process.wait(timeout=30)
    sender.join(timeout=30)
    assert answered and isinstance(answered[0], httpx.TransportError)  # no answer came


@dataclass
class Subject:
    wallet: Wallet
    token: str
    records: int


@pytest.fixture
def place(request, tmp_path) -> tuple[Path, str]:
    """A data dir and the records database: an SQLite file in it, or PostgreSQL."""
    data_dir = tmp_path / "data"
    if request.param == "postgres":
        return data_dir, request.getfixturevalue("postgres_url")
    return data_dir, f"sqlite:///{data_dir / 'walletauth.sqlite3'}"


def signed_in_with_many_records(place: tuple[Path, str]) -> Subject:
    data_dir, url = place
    wallet = Wallet()
    with serve(data_dir, url) as server, httpx.Client(base_url=server.url) as http:
        nonce = http.get("/auth/nonce").json()["nonce"]
        token = http.post("/auth/verify", json=wallet.signed_body(nonce)).json()["access_token"]
    with database(url) as engine:
        return Subject(wallet, token, add_records(engine, EXTRA_RECORDS))


def assert_whole_after_restart(place: tuple[Path, str], subject: Subject) -> None:
    data_dir, url = place
    with serve(data_dir, url) as server, database(url) as engine:
        assert counts(engine) == (subject.records, 0, ["received"])
        auth = {"Authorization": f"Bearer {subject.token}"}
        assert httpx.get(f"{server.url}/auth/session", headers=auth).status_code == 200
        with httpx.Client(base_url=server.url, timeout=60) as http:
            again = http.post("/me/erase", headers=auth,
                              json=signed_request(http, subject.wallet, "erase"))
        assert again.status_code == 200, again.text
        assert sum(again.json()["erased"].values()) == subject.records


def assert_gone_after_restart(place: tuple[Path, str], subject: Subject) -> None:
    data_dir, url = place
    with serve(data_dir, url) as server, database(url) as engine:
        assert counts(engine) == (0, 1, ["completed"])
        refused = httpx.get(f"{server.url}/auth/session",
                            headers={"Authorization": f"Bearer {subject.token}"})
        assert refused.status_code == 401


def erase_statuses(engine: sa.Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(sa.text(
            "SELECT status FROM rights_requests WHERE kind = 'erase'")).scalars())


@pytest.mark.parametrize("place", ["sqlite"], indirect=True)
def test_killed_while_the_erasure_transaction_is_open_the_subject_is_whole(place):
    subject = signed_in_with_many_records(place)
    data_dir, url = place
    wal = data_dir / "walletauth.sqlite3-wal"
    started_at: list[int] = []

    def open_and_spilling(engine: sa.Engine) -> bool:
        if erase_statuses(engine) != ["received"]:
            return False
        started_at[:] = started_at or [wal.stat().st_size]
        return wal.stat().st_size > started_at[0] + SPILLED

    with database(url) as engine, serve(data_dir, url) as server:
        erase_and_kill(server, subject.wallet, subject.token, lambda: open_and_spilling(engine))

    assert_whole_after_restart(place, subject)


@pytest.mark.parametrize("place", ["sqlite"], indirect=True)
def test_killed_once_the_erasure_has_committed_the_subject_is_gone(place):
    subject = signed_in_with_many_records(place)
    data_dir, url = place

    with database(url) as engine, serve(data_dir, url) as server:
        erase_and_kill(server, subject.wallet, subject.token,
                       lambda: erase_statuses(engine) == ["completed"])

    assert_gone_after_restart(place, subject)


@pytest.mark.postgres
@pytest.mark.parametrize("place", ["postgres"], indirect=True)
def test_killed_mid_transaction_on_postgresql_the_subject_is_whole(place):
    """The test locks the outbox, so the erasure stops mid-transaction (records deleted,
    nothing committed) at its notice; the server is killed there."""
    subject = signed_in_with_many_records(place)
    data_dir, url = place

    def waiting_on_the_outbox(engine: sa.Engine) -> bool:
        with engine.connect() as connection:
            return connection.execute(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE 'INSERT INTO notice_outbox%'")).scalar_one() == 1

    with database(url) as engine, engine.connect() as locker:
        locker.execute(sa.text("LOCK TABLE notice_outbox IN ACCESS EXCLUSIVE MODE"))
        with serve(data_dir, url) as server:
            erase_and_kill(server, subject.wallet, subject.token,
                           lambda: waiting_on_the_outbox(engine))
        locker.rollback()

    assert_whole_after_restart(place, subject)
