"""Notice delivery runs by itself: the lifespan task, several workers, restarts, and cron."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from typer.testing import CliRunner

from tests.rights.helpers import signed_request
from tests.server import conftest as server_fixtures
from tests.server.conftest import free_socket, make_settings, serving, sign_in
from tests.store import conftest as store_fixtures
from tests.store.conftest import ALICE, BOB, CAROL
from walletauth.cli import app as cli
from walletauth.rights import RightsError, erase_subject, restrict
from walletauth.sdk import InMemoryReplayGuard, new_webhook_secret, verify_notice
from walletauth.server.delivery import DeliverySettings
from walletauth.store.outbox import claim_due, pending_count
from walletauth.store.rights_schema import notice_outbox

SECRET = new_webhook_secret()
FAST = {"WALLETAUTH_NOTICE_INTERVAL": "0.05", "WALLETAUTH_NOTICE_FIRST_RETRY": "0.1",
        "WALLETAUTH_NOTICE_TIMEOUT": "2"}

backend = store_fixtures.backend
secrets = store_fixtures.secrets
abcrecords = store_fixtures.abcrecords
store = store_fixtures.store
wallet = server_fixtures.wallet


class Receiver:
    """A downstream service on loopback: refuses connections until :meth:`up`, then
    answers 503 ``failures`` times before accepting."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.ids: list[str] = []
        self.notices = []
        self.seen = InMemoryReplayGuard()
        self.sock = free_socket()  # bound, not listening: connections are refused
        host, port = self.sock.getsockname()
        self.url = f"http://{host}:{port}/hooks"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    async def _hook(self, request: Request) -> Response:
        body = await request.body()
        self.ids.append(request.headers["webhook-id"])
        if self.failures:
            self.failures -= 1
            return Response(status_code=503)
        self.notices.append(verify_notice(body, request.headers, SECRET,
                                          now=datetime.now(UTC), seen=self.seen))
        return Response(status_code=204)

    def up(self) -> None:
        app = Starlette(routes=[Route("/hooks", self._hook, methods=["POST"])])
        self._server = uvicorn.Server(uvicorn.Config(app, log_level="warning",
                                                     access_log=False))
        server = self._server
        self._thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[self.sock])), daemon=True)
        self._thread.start()
        wait_for(lambda: server.started, "the receiver to start")

    def down(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self.sock.close()


def wait_for(condition, what: str, deadline: float = 10.0) -> None:
    give_up = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > give_up:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def attempts(store) -> list[int]:
    with store.engine.connect() as connection:
        return list(connection.execute(sa.select(notice_outbox.c.attempts)).scalars())


@pytest.fixture
def receiver():
    made = Receiver(failures=1)
    yield made
    made.down()


@pytest.fixture
def fast_delivery(monkeypatch, receiver):
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WALLETAUTH_NOTICE_ENDPOINTS",
                       json.dumps({"music": {"url": receiver.url, "secrets": [SECRET]}}))


@contextlib.contextmanager
def two_workers(settings):
    """Two apps over one database, as ``serve --workers 2`` runs them."""
    with serving(settings) as (_url, first), serving(settings) as (_url2, _second):
        yield first.state.runtime.store


def test_a_notice_queued_while_the_receiver_is_down_arrives_once_after_it_is_up(
    tmp_path, fast_delivery, receiver
):
    settings = make_settings(tmp_path)
    with two_workers(settings) as store:
        now = datetime.now(UTC)
        store.record_login(ALICE, 1, now=now)
        erase_subject(store, ALICE, now=now, notify=["music"])
        wait_for(lambda: attempts(store) and attempts(store)[0] >= 2,
                 "two refused delivery attempts")
    # Both workers stopped (a restart); the outbox kept the notice.
    receiver.up()
    with two_workers(settings) as store:
        wait_for(lambda: receiver.notices, "the notice to be delivered")
        wait_for(lambda: pending_count(store.engine) == 0, "the outbox to empty")
        time.sleep(0.3)  # several more rounds of both workers: nothing is sent again

    [notice] = receiver.notices
    assert (notice.type, notice.subject) == ("subject.erased", ALICE)
    # The 503 and the accepted attempt carried the same id: receivers dedupe by it.
    assert receiver.ids == [notice.id, notice.id]


def test_the_off_switch_leaves_the_outbox_to_cron(tmp_path, fast_delivery, receiver,
                                                  monkeypatch):
    monkeypatch.setenv("WALLETAUTH_NOTICE_DELIVERY", "false")
    monkeypatch.setenv("WALLETAUTH_DATA_DIR", str(tmp_path / "data"))
    receiver.failures = 0
    receiver.up()
    with serving(make_settings(tmp_path)) as (_url, app):
        store = app.state.runtime.store
        now = datetime.now(UTC)
        store.record_login(BOB, 1, now=now)
        erase_subject(store, BOB, now=now, notify=["music"])
        time.sleep(0.3)  # several intervals: no task is running
        assert receiver.ids == []

        result = CliRunner().invoke(cli, ["notices", "deliver"])

        assert result.exit_code == 0, result.output
        assert "delivered: 1" in result.output
        assert pending_count(store.engine) == 0
    [notice] = receiver.notices
    assert notice.subject == BOB


def test_the_cli_reports_failures_and_keeps_the_notice(tmp_path, fast_delivery, receiver,
                                                       monkeypatch):
    monkeypatch.setenv("WALLETAUTH_NOTICE_DELIVERY", "false")
    monkeypatch.setenv("WALLETAUTH_DATA_DIR", str(tmp_path / "data"))
    with serving(make_settings(tmp_path)) as (_url, app):
        store = app.state.runtime.store
        now = datetime.now(UTC)
        store.record_login(CAROL, 1, now=now)
        erase_subject(store, CAROL, now=now, notify=["music"])

        result = CliRunner().invoke(cli, ["notices", "deliver"])

        assert result.exit_code == 0, result.output
        assert "failed unreachable: 1" in result.output
        assert attempts(store) == [1]


def test_concurrent_claims_take_each_notice_once(store):
    now = datetime.now(UTC)
    for address in (ALICE, BOB, CAROL):
        store.record_login(address, 1, now=now)
        erase_subject(store, address, now=now, notify=["music", "video"])
    claimed: list[list[str]] = []
    start = threading.Barrier(4)

    def claim() -> None:
        start.wait()
        taken = claim_due(store.engine, store.secrets, now=now, limit=2,
                          lease=timedelta(minutes=1))
        claimed.append([f"{n.notice_id}/{n.endpoint}" for n in taken])

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    everything = [key for batch in claimed for key in batch]
    assert len(everything) == len(set(everything)) == 6
    # Claimed rows are hidden until the lease runs out, then due again.
    assert claim_due(store.engine, store.secrets, now=now, limit=10,
                     lease=timedelta(minutes=1)) == []
    again = claim_due(store.engine, store.secrets, now=now + timedelta(minutes=2), limit=10,
                      lease=timedelta(minutes=1))
    assert len(again) == 6


def test_restrictions_lifts_and_withdrawals_are_noticed_and_delivered(
    tmp_path, fast_delivery, receiver, wallet
):
    receiver.failures = 0
    receiver.up()
    with serving(make_settings(tmp_path)) as (url, _app), httpx.Client(base_url=url) as http:
        token = sign_in(http, wallet).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        for lift in (False, True):
            changed = http.post("/me/restrictions", headers=auth, json={
                **signed_request(http, wallet, "restrict"), "purposes": ["partner_guidance"],
                "lift": lift})
            assert changed.status_code == 200, changed.text
        granted = http.put("/me/consents", headers=auth,
                           json={"purpose": "quality_marketing", "granted": True})
        withdrawn = http.put("/me/consents", headers=auth,
                             json={"purpose": "quality_marketing", "granted": False})
        assert granted.status_code == withdrawn.status_code == 200

        wait_for(lambda: len(receiver.notices) == 3, "three notices")

    noticed = sorted((n.type, n.subject, tuple(n.purposes)) for n in receiver.notices)
    assert noticed == [
        ("consent.withdrawn", wallet.address, ("quality_marketing",)),
        ("subject.restricted", wallet.address, ("partner_guidance",)),
        ("subject.unrestricted", wallet.address, ("partner_guidance",)),
    ]
    assert len(set(receiver.ids)) == 3


def test_a_refused_restriction_enqueues_no_notice(store):
    now = datetime.now(UTC)
    store.record_login(ALICE, 1, now=now)
    with pytest.raises(RightsError):
        restrict(store, ALICE, [store.policy.login.purpose], now=now, notify=["music"])
    assert pending_count(store.engine) == 0
    restrict(store, ALICE, ["partner_guidance"], now=now, notify=["music", "video"])
    assert pending_count(store.engine) == 2


def test_notice_settings_are_read_from_the_config_file_too(monkeypatch, tmp_path):
    config = tmp_path / "walletauth.toml"
    config.write_text('domains = ["login.example"]\nnotice_interval = 7\nnotice_batch = 3\n')
    monkeypatch.setenv("WALLETAUTH_CONFIG", str(config))
    monkeypatch.setenv("WALLETAUTH_NOTICE_BATCH", "5")  # the environment wins over the file

    settings = DeliverySettings()

    assert (settings.notice_interval, settings.notice_batch) == (7.0, 5)
