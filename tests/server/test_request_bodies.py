"""Request bodies are bounded in time by the protocol ``walletauth serve`` runs: a body not
complete ``body_timeout`` seconds after its head is answered 408 and the connection closed.
Tested over raw sockets against the real server, as the heads are."""

import asyncio
import json
import socket
import time

import pytest
from starlette.responses import PlainTextResponse

from tests.server.conftest import make_settings, serving
from tests.server.test_request_heads import connect, problem, read_until_closed
from walletauth.server.signin.http_protocol import http_protocol

BODY_TIMEOUT = 0.6
BODY = json.dumps({"message": "not a sign-in message", "signature": "0x00"}).encode()


@pytest.fixture
def url(tmp_path):
    # A head timeout far above the body's: what these tests see is the body's.
    protocol = http_protocol(head_timeout=30, body_timeout=BODY_TIMEOUT)
    with serving(make_settings(tmp_path), http=protocol) as (served, _app):
        yield served


def verify_head(length: int, *, close: bool = False) -> bytes:
    connection = b"Connection: close\r\n" if close else b""
    return (
        b"POST /auth/verify HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        + connection + b"Content-Length: " + str(length).encode() + b"\r\n\r\n"
    )


def test_a_body_that_stops_coming_is_408_and_closed(url):
    with connect(url) as sock:
        sock.sendall(verify_head(len(BODY)) + BODY[:10])
        started = time.monotonic()
        status, headers, body = problem(read_until_closed(sock))
        waited = time.monotonic() - started
    assert (status, body["code"]) == (408, "request_body_timeout")
    assert headers["connection"] == "close"
    assert headers["content-type"] == "application/problem+json"
    assert headers["x-content-type-options"] == "nosniff"
    assert BODY_TIMEOUT * 0.8 < waited < BODY_TIMEOUT + 5


def test_a_body_that_never_starts_is_408(url):
    with connect(url) as sock:
        sock.sendall(verify_head(len(BODY)))
        status, _headers, body = problem(read_until_closed(sock))
    assert (status, body["code"]) == (408, "request_body_timeout")


def test_a_trickled_body_is_408_when_the_whole_body_is_late(url):
    """One byte per tenth of the timeout: never idle for long, but the body would take ten
    timeouts. The timeout counts from the head, not from the last byte."""
    answer = b""
    with connect(url) as sock:
        sock.sendall(verify_head(len(BODY)))
        started = time.monotonic()
        sock.settimeout(BODY_TIMEOUT / 10)
        for byte in BODY[:-1]:
            try:
                sock.sendall(bytes([byte]))
                answer = sock.recv(65536, socket.MSG_PEEK)
            except TimeoutError:
                continue
            except OSError:  # the server closed while a byte was on its way
                break
            if answer:
                break
        waited = time.monotonic() - started
        sock.settimeout(10)
        answer = read_until_closed(sock)
    status, _headers, body = problem(answer)
    assert (status, body["code"]) == (408, "request_body_timeout")
    assert waited < BODY_TIMEOUT + 5
    assert len(BODY) * BODY_TIMEOUT / 10 > BODY_TIMEOUT * 2  # the trickle outlasts it


def test_a_body_in_pieces_within_the_timeout_is_served(url):
    with connect(url) as sock:
        sock.sendall(verify_head(len(BODY), close=True) + BODY[:10])
        time.sleep(BODY_TIMEOUT / 3)
        sock.sendall(BODY[10:])
        status, _headers, body = problem(read_until_closed(sock))
    assert (status, body["code"]) == (400, "malformed_message")  # the app's answer


def test_a_keep_alive_connection_idle_after_a_body_is_not_a_slow_body(url):
    """The timer ends with the body: waiting between requests is the keep-alive's."""
    with connect(url) as sock:
        sock.sendall(verify_head(len(BODY)) + BODY)
        first = sock.recv(65536)
        time.sleep(BODY_TIMEOUT * 2)
        sock.sendall(verify_head(len(BODY), close=True) + BODY)
        second = read_until_closed(sock)
    assert first.startswith(b"HTTP/1.1 400 ")
    assert second.startswith(b"HTTP/1.1 400 ")


@pytest.mark.parametrize(("path", "length", "status"), [
    ("/no-such-route", 1000, 404),  # answered without reading the body
    ("/auth/verify", 100_000, 413),  # refused by its Content-Length before reading it
])
def test_a_body_trickling_after_the_app_answered_is_cut_off(url, path, length, status):
    """An app that answers before the body came leaves the connection waiting for the rest
    of it; a trickle would hold it for ever."""
    head = (f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()
    with connect(url) as sock:
        sock.sendall(head + b"x")
        started = time.monotonic()
        sock.settimeout(BODY_TIMEOUT / 10)
        received = b""
        while time.monotonic() - started < BODY_TIMEOUT + 5:
            try:
                sock.sendall(b"x")
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:  # reset: closed while bytes were on their way
                break
            if not chunk:
                break
            received += chunk
        waited = time.monotonic() - started
    assert received.startswith(f"HTTP/1.1 {status} ".encode())
    assert BODY_TIMEOUT * 0.8 < waited < BODY_TIMEOUT + 5


def test_a_pipelined_body_waits_while_the_server_is_not_reading(tmp_path):
    """A request pipelined behind a slow one is not read until that one is answered
    (uvicorn pauses reading): the time its body sits unread is not the client's."""
    protocol = http_protocol(head_timeout=30, body_timeout=BODY_TIMEOUT)
    with serving(make_settings(tmp_path), http=protocol) as (url, app):

        async def slow(request) -> PlainTextResponse:
            await asyncio.sleep(BODY_TIMEOUT * 2.5)
            return PlainTextResponse("slow")

        app.router.add_route("/slow-for-test", slow, methods=["GET"])
        with connect(url) as sock:
            sock.sendall(b"GET /slow-for-test HTTP/1.1\r\nHost: localhost\r\n\r\n"
                         + verify_head(len(BODY), close=True) + BODY[:10])
            time.sleep(BODY_TIMEOUT * 2)  # past the body's timeout, before the slow answer
            sock.sendall(BODY[10:])
            answers = read_until_closed(sock)
    first, _, second = answers.partition(b"slow")
    assert first.startswith(b"HTTP/1.1 200 ")
    assert second.startswith(b"HTTP/1.1 400 "), answers
    assert b"malformed_message" in second
