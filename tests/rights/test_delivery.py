"""The notice outbox: erasure notices signed with Standard Webhooks, retried until a 2xx."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from tests.rights.conftest import ALICE, NOW
from walletauth.rights import NoticeEndpoint, deliver_due, erase_subject, retry_delay
from walletauth.sdk import InMemoryReplayGuard, new_webhook_secret, verify_notice
from walletauth.store.outbox import pending_count

SECRET = new_webhook_secret()


class Receiver:
    """A downstream service that fails ``failures`` times, then accepts."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.notices = []
        self.ids = []
        self.seen = InMemoryReplayGuard()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.ids.append(request.headers["webhook-id"])
        if self.failures:
            self.failures -= 1
            return httpx.Response(503)
        notice = verify_notice(request.content, request.headers, SECRET,
                               now=self.clock, seen=self.seen)
        self.notices.append(notice)
        return httpx.Response(204)


def test_an_erasure_notice_is_retried_with_backoff_until_accepted(store):
    store.record_login(ALICE, 1, now=NOW)
    erase_subject(store, ALICE, now=NOW, notify=["music"])
    receiver = Receiver(failures=2)
    endpoints = {"music": NoticeEndpoint("https://music.example/hooks", (SECRET,))}

    with httpx.Client(transport=httpx.MockTransport(receiver)) as client:
        moments = [NOW, NOW + timedelta(seconds=10), NOW + retry_delay(1),
                   NOW + retry_delay(1) + retry_delay(2)]
        reports = []
        for moment in moments:
            receiver.clock = moment
            reports.append(deliver_due(store, endpoints, client, now=moment))

    assert [(r.delivered, r.failed) for r in reports] == [(0, 1), (0, 0), (0, 1), (1, 0)]
    assert reports[0].errors == {"http_503": 1}
    [notice] = receiver.notices
    assert (notice.type, notice.subject) == ("subject.erased", ALICE)
    assert len(set(receiver.ids)) == 1  # the same id on every attempt: receivers dedupe
    assert pending_count(store.engine) == 0


def test_an_unreachable_or_unknown_endpoint_keeps_the_notice_queued(store):
    store.record_login(ALICE, 1, now=NOW)
    erase_subject(store, ALICE, now=NOW, notify=["music", "gone"])

    def unreachable(request):
        raise httpx.ConnectError("refused", request=request)

    endpoints = {"music": NoticeEndpoint("https://music.example/hooks", (SECRET,))}
    with httpx.Client(transport=httpx.MockTransport(unreachable)) as client:
        report = deliver_due(store, endpoints, client, now=NOW)

    assert report.errors == {"unreachable": 1, "unknown_endpoint": 1}
    assert pending_count(store.engine) == 2


@pytest.mark.parametrize("broken, error", [
    (NoticeEndpoint("https://broken.example/hooks", ("whsec_short",)), "bad_secret"),
    (NoticeEndpoint("https://broken.example:port/hooks", (SECRET,)), "unreachable"),
])
def test_a_misconfigured_endpoint_holds_back_its_own_notices_only(store, broken, error):
    store.record_login(ALICE, 1, now=NOW)
    erase_subject(store, ALICE, now=NOW, notify=["broken", "music"])
    receiver = Receiver(failures=0)
    receiver.clock = NOW
    endpoints = {"broken": broken,
                 "music": NoticeEndpoint("https://music.example/hooks", (SECRET,))}

    with httpx.Client(transport=httpx.MockTransport(receiver)) as client:
        report = deliver_due(store, endpoints, client, now=NOW)

    assert (report.delivered, report.errors) == (1, {error: 1})
    assert [notice.subject for notice in receiver.notices] == [ALICE]
    assert pending_count(store.engine) == 1


def test_retry_delays_grow_and_are_capped():
    delays = [retry_delay(n) for n in range(1, 30)]
    assert delays[:3] == [timedelta(seconds=30), timedelta(minutes=1), timedelta(minutes=2)]
    assert delays == sorted(delays) and max(delays) == timedelta(hours=6)
