"""A webhook receiver down for a day, on a simulated clock: erasure notices are retried
with a doubling back-off up to its cap, each is delivered once when the receiver returns,
and with ``notice_abandon_after`` shorter than the outage they are abandoned by the purge,
which records it. The receiver is a real HTTP server on a loopback port."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.server.conftest import Wallet, make_settings
from walletauth.policy.loader import load_policy
from walletauth.rights import NoticeEndpoint, erase_subject, retry_delay
from walletauth.rights.delivery import MAX_RETRY
from walletauth.sdk import InMemoryReplayGuard, new_webhook_secret, verify_notice
from walletauth.server.delivery import DeliverySettings, deliver_once
from walletauth.server.store_gateway import StoreGateway
from walletauth.store import Secrets, Store
from walletauth.store.audit import audit_entries
from walletauth.store.outbox import pending_count

SECRET = new_webhook_secret()
SUBJECTS = 3
STEP = timedelta(minutes=1)
"""How often the simulated worker looks at the outbox (the default is every 5 s)."""
OUTAGE = timedelta(days=1)
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Receiver:
    """A downstream service on a loopback port: answers 503 while ``down``, else checks
    the notice's signature (at the simulated time) and answers 204."""

    def __init__(self) -> None:
        self.down = True
        self.now = START
        self.attempts: list[tuple[str, datetime, int]] = []
        """(webhook id, simulated time it was sent, status answered), in order."""
        self.seen = InMemoryReplayGuard()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                status = 503 if receiver.down else receiver.accept(body, dict(self.headers))
                sent = datetime.fromtimestamp(int(self.headers["webhook-timestamp"]), UTC)
                receiver.attempts.append((self.headers["webhook-id"], sent, status))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"

    def accept(self, body: bytes, headers: dict[str, str]) -> int:
        verify_notice(body, {k.lower(): v for k, v in headers.items()}, SECRET, now=self.now,
                      seen=self.seen)  # a replayed id would raise: delivered once
        return 204

    def delivered(self) -> list[str]:
        return [notice for notice, _sent, status in self.attempts if status == 204]

    def sent_at(self, notice: str) -> list[datetime]:
        return [sent for sent_id, sent, _status in self.attempts if sent_id == notice]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    served = Receiver()
    thread = threading.Thread(target=served.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        served.server.shutdown()
        served.server.server_close()


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path}/walletauth.db", policy=load_policy("abcrecords"),
                        secrets=Secrets.load_or_create(tmp_path / "secrets"))
    try:
        yield opened
    finally:
        opened.close()


def _erase_subjects(store: Store) -> None:
    for _ in range(SUBJECTS):
        address = Wallet().address
        store.record_login(address, 1, now=START)
        erase_subject(store, address, now=START, notify=["music"])


def _run(store: Store, receiver: Receiver, until: timedelta, settings: DeliverySettings,
         purge_at: tuple[timedelta, ...] = (), abandon_after: timedelta | None = None,
         ) -> list:
    """Move the simulated clock from START in steps, running the worker's delivery round
    at each and the purge at ``purge_at`` after START (as cron would); the receiver comes
    back after OUTAGE. Returns the purge reports."""
    endpoints = {"music": NoticeEndpoint(receiver.url, (SECRET,))}
    reports = []

    async def rounds() -> None:
        now = START
        gateway = StoreGateway(store, serial=True)  # as a worker on SQLite holds it
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                while now <= START + until:
                    receiver.now = now
                    receiver.down = now < START + OUTAGE
                    await deliver_once(gateway, endpoints, client, settings,
                                       lambda now=now: now)
                    if now - START in purge_at:
                        reports.append(store.purge(now=now, notice_abandon_after=abandon_after))
                    now += STEP
        finally:
            await gateway.close()

    # On a thread of its own: a browser test's sync Playwright may have left its event loop
    # running on this one, where asyncio.run refuses to start another.
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, rounds()).result()
    return reports


def test_notices_back_off_through_a_day_down_and_each_arrives_once_after(store, receiver):
    _erase_subjects(store)

    _run(store, receiver, until=OUTAGE + timedelta(hours=7), settings=DeliverySettings())

    notices = sorted({notice for notice, _sent, _status in receiver.attempts})
    assert len(notices) == SUBJECTS
    # Each notice once, after the receiver came back, and nothing left to send.
    assert sorted(receiver.delivered()) == notices
    assert all(sent >= START + OUTAGE for notice in notices
               for sent in receiver.sent_at(notice)[-1:])
    assert pending_count(store.engine) == 0
    for notice in notices:
        sent = receiver.sent_at(notice)
        gaps = [later - earlier for earlier, later in itertools.pairwise(sent)]
        # Each wait is the back-off's (30 s, 1 min, 2 min ... doubling to 6 h), rounded up
        # to the worker's next look; the last one ends when the receiver is back.
        for attempt, gap in enumerate(gaps[:-1], start=1):
            assert retry_delay(attempt) <= gap < retry_delay(attempt) + STEP, (attempt, gaps)
        assert max(gaps) <= MAX_RETRY + STEP
        assert MAX_RETRY in {retry_delay(attempt) for attempt in range(1, len(gaps))}
        # A day down costs about 15 attempts, not one a minute.
        assert 10 <= len(sent) <= 20, len(sent)


def test_notices_undelivered_past_the_abandon_time_are_given_up_with_a_record(
    tmp_path, store, receiver, monkeypatch
):
    monkeypatch.setenv("WALLETAUTH_NOTICE_ABANDON_AFTER", str(12 * 3600))
    settings = make_settings(tmp_path)  # what `walletauth purge` reads
    _erase_subjects(store)

    # The purge runs once a day (from cron), at 20:00: the receiver is back (at 09:00)
    # past the abandon time and before the purge has run again.
    purges = (timedelta(hours=11), timedelta(hours=35))
    reports = _run(store, receiver, until=timedelta(hours=36), settings=DeliverySettings(),
                   purge_at=purges, abandon_after=settings.notice_abandon_after)

    assert [report.notices_abandoned for report in reports] == [0, SUBJECTS]
    assert sum(r.notices_abandoned for r in reports) == SUBJECTS
    assert receiver.delivered() == []  # given up, not sent late when the receiver returned
    assert all(sent < START + timedelta(hours=12)
               for _notice, sent, _status in receiver.attempts)
    assert pending_count(store.engine) == 0
    recorded = [entry for entry in audit_entries(store) if entry.event == "purge"
                and entry.detail.get("notices_abandoned")]
    assert [(entry.at, entry.detail["notices_abandoned"]) for entry in recorded] == [
        (START + purges[1], SUBJECTS)]
