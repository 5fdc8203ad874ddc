"""The notice worker meets a full store queue (``WALLETAUTH_STORE_MAX_WAITING``): an answer
received is still recorded (a notice delivered is not sent again), and a round that cannot
claim is skipped with the notices left due, without ending the worker. The receiver is a
real HTTP server on a loopback port, the store a real SQLite database."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.server.conftest import Wallet
from walletauth.policy.loader import load_policy
from walletauth.rights import NoticeEndpoint, erase_subject
from walletauth.sdk import new_webhook_secret
from walletauth.server.delivery import DeliverySettings, NoticeWorker, deliver_once
from walletauth.server.store_gateway import StoreGateway
from walletauth.server.web.errors import ServerError
from walletauth.store import Secrets, Store
from walletauth.store.outbox import pending_count

SECRET = new_webhook_secret()
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class HeldReceiver:
    """Answers 204, each POST only once ``answer`` is set; ``posted`` tells one arrived."""

    def __init__(self) -> None:
        self.posted = threading.Event()
        self.answer = threading.Event()
        self.posts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["content-length"]))
                receiver.posts += 1
                receiver.posted.set()
                receiver.answer.wait(5)
                self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoints = {"music": NoticeEndpoint(
            f"http://127.0.0.1:{self.server.server_port}/hooks", (SECRET,))}


@pytest.fixture
def receiver() -> Iterator[HeldReceiver]:
    served = HeldReceiver()
    thread = threading.Thread(target=served.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        served.answer.set()
        served.server.shutdown()
        served.server.server_close()


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path}/walletauth.db", policy=load_policy("abcrecords"),
                        secrets=Secrets.load_or_create(tmp_path / "secrets"))
    address = Wallet().address
    opened.record_login(address, 1, now=NOW)
    erase_subject(opened, address, now=NOW, notify=["music"])
    try:
        yield opened
    finally:
        opened.close()


def blocked_until(release: threading.Event):
    def hold(_store: Store) -> None:
        release.wait(5)
    return hold


async def test_an_answer_received_is_recorded_though_the_queue_filled_during_its_post(
    store, receiver
):
    # One thread, no waiting room: a second call at once is refused.
    gateway = StoreGateway(store, serial=True, max_waiting=0)
    release = threading.Event()
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            round_ = asyncio.ensure_future(
                deliver_once(gateway, receiver.endpoints, client, DeliverySettings(),
                             lambda: NOW))
            await asyncio.get_running_loop().run_in_executor(None, receiver.posted.wait, 5)
            held = asyncio.ensure_future(gateway.run(blocked_until(release)))
            await asyncio.sleep(0.01)
            with pytest.raises(ServerError):
                gateway.refuse_if_full()  # the queue is full while the receiver answers
            receiver.answer.set()
            await asyncio.sleep(0.05)
            release.set()
            await held
            report = await round_
        assert (report.delivered, report.failed) == (1, 0)
        assert pending_count(store.engine) == 0  # recorded: not sent a second time
        assert receiver.posts == 1
    finally:
        release.set()
        await gateway.close()


async def test_a_round_that_finds_the_queue_full_is_skipped_and_the_worker_goes_on(
    store, receiver, caplog
):
    receiver.answer.set()
    gateway = StoreGateway(store, serial=True, max_waiting=0)
    release = threading.Event()
    held = asyncio.ensure_future(gateway.run(blocked_until(release)))
    await asyncio.sleep(0.01)
    worker = NoticeWorker(gateway, lambda: NOW, DeliverySettings(notice_interval=0.05),
                          receiver.endpoints)
    try:
        with caplog.at_level(logging.WARNING, logger="walletauth.server.delivery"):
            worker.start()
            await asyncio.sleep(0.2)  # a few rounds, each refused at its claim
        skipped = [r for r in caplog.records if "round skipped" in r.getMessage()]
        assert len(skipped) >= 2
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert receiver.posts == 0
        assert pending_count(store.engine) == 1  # left due
        release.set()
        await held
        for _ in range(100):  # the next rounds deliver it
            if pending_count(store.engine) == 0:
                break
            await asyncio.sleep(0.05)
        assert pending_count(store.engine) == 0
        assert receiver.posts == 1
    finally:
        release.set()
        await worker.stop()
        await gateway.close()
