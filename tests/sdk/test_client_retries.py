"""The service client's retries and answer checks, against a scripted loopback server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from walletauth.sdk import ApiError, AsyncClient, Client, Permission, SdkError

API_KEY = "wa_svc_loopback-test-key"
ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
OVERLOADED = (503, {"type": "urn:walletauth:problem:service_unavailable",
                    "title": "Service unavailable", "status": 503,
                    "detail": "the database does not answer", "code": "service_unavailable"})


class Walletauth:
    """Answers each POST with the next scripted (status, body), then with ``last``."""

    def __init__(self, *script: tuple[int, Any], last: tuple[int, Any]) -> None:
        self.script = list(script)
        self.last = last
        self.paths: list[str] = []
        self.url = ""

    def answer(self, path: str) -> tuple[int, Any]:
        self.paths.append(path)
        return self.script.pop(0) if self.script else self.last


def _handler(walletauth: Walletauth) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            status, body = walletauth.answer(self.path)
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

    return Handler


@pytest.fixture
def serve() -> Iterator[Any]:
    servers: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def start(walletauth: Walletauth) -> Walletauth:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(walletauth))
        thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
        thread.start()
        servers.append((server, thread))
        walletauth.url = f"http://127.0.0.1:{server.server_address[1]}"
        return walletauth

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_read_answered_503_once_is_retried_and_succeeds(serve):
    walletauth = serve(Walletauth((503, {}), last=(200, {"allowed": True, "reason": None})))
    with Client(walletauth.url, API_KEY, retries=2) as client:
        permission = client.allowed(ADDRESS, "service_provision")
    assert permission == Permission(allowed=True)
    assert walletauth.paths == ["/services/v1/permissions"] * 2


def test_a_write_answered_503_is_not_retried(serve):
    # The first attempt may have been carried out before the 503: doing it again could
    # write the record twice.
    walletauth = serve(Walletauth((503, {}), last=(201, {"id": 7})))
    with Client(walletauth.url, API_KEY, retries=2) as client, \
            pytest.raises(SdkError) as failed:
        client.put_record(ADDRESS, "contact_email", "service_provision", {"email": "a@b.c"})
    assert failed.value.code == "walletauth_unavailable"
    assert walletauth.paths == ["/services/v1/records"]


def test_walletauths_own_503_problem_passes_through_after_the_last_retry(serve):
    walletauth = serve(Walletauth(last=OVERLOADED))
    with Client(walletauth.url, API_KEY, retries=1) as client, pytest.raises(ApiError) as failed:
        client.records(ADDRESS, "service_provision")
    assert (failed.value.code, failed.value.status) == ("service_unavailable", 503)
    assert len(walletauth.paths) == 2


def test_a_refusal_is_final_and_not_retried(serve):
    refusal = (403, {"code": "purpose_not_granted_to_service", "detail": "not yours"})
    walletauth = serve(Walletauth(last=refusal))
    with Client(walletauth.url, API_KEY, retries=3) as client, pytest.raises(ApiError) as failed:
        client.allowed(ADDRESS, "partner_guidance")
    assert failed.value.code == "purpose_not_granted_to_service"
    assert len(walletauth.paths) == 1


def test_a_page_that_is_not_walletauths_is_unexpected_response(serve):
    walletauth = serve(Walletauth(last=(200, ["not", "an", "answer"])))
    with Client(walletauth.url, API_KEY) as client, pytest.raises(SdkError) as failed:
        client.allowed(ADDRESS, "service_provision")
    assert failed.value.code == "unexpected_response"


@pytest.mark.parametrize("active", ["false", 0, None])
def test_a_session_status_that_is_not_a_boolean_is_unexpected_response(serve, active):
    # bool("false") is True: a lax reading would call a revoked session live, or back.
    walletauth = serve(Walletauth(last=(200, {"active": active})))
    with Client(walletauth.url, API_KEY) as client, pytest.raises(SdkError) as failed:
        client.session_revoked("ses_1")
    assert failed.value.code == "unexpected_response"


async def test_the_async_client_retries_a_503_read_and_not_a_write(serve):
    reads = serve(Walletauth((503, {}), last=(200, {"records": []})))
    writes = serve(Walletauth((503, {}), last=(202, {"id": "req_1", "status": "received"})))
    async with AsyncClient(reads.url, API_KEY) as client:
        assert await client.records(ADDRESS, "service_provision") == []
    async with AsyncClient(writes.url, API_KEY) as client:
        with pytest.raises(SdkError) as failed:
            await client.forward_request(ADDRESS, "erase")
    assert len(reads.paths) == 2
    assert (failed.value.code, len(writes.paths)) == ("walletauth_unavailable", 1)
