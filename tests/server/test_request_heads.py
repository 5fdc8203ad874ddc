"""Request heads are bounded in size and time by the protocol ``walletauth serve`` runs,
tested over raw sockets against the real server."""

import json
import socket
import time

import pytest
import uvicorn
from typer.testing import CliRunner

from tests.server.conftest import make_settings, serving
from walletauth.server.signin.http_protocol import (
    DEFAULT_MAX_HEAD_BYTES,
    TurnBufferedHttpToolsProtocol,
    http_protocol,
)

HEAD_TIMEOUT = 0.5


@pytest.fixture
def url(tmp_path):
    protocol = http_protocol(head_timeout=HEAD_TIMEOUT)
    with serving(make_settings(tmp_path), http=protocol) as (served, _app):
        yield served


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def read_until_closed(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def problem(answer: bytes) -> tuple[int, dict[str, str], dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, json.loads(body)


def padded_head(size: int) -> bytes:
    start = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Pad: "
    return start + b"a" * (size - len(start))


def test_an_unfinished_head_over_the_limit_is_431_and_closed(url):
    with connect(url) as sock:
        sock.sendall(padded_head(DEFAULT_MAX_HEAD_BYTES + 2048))
        status, headers, body = problem(read_until_closed(sock))
    assert status == 431
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    assert headers["x-content-type-options"] == "nosniff"
    assert body["code"] == "request_head_too_large"


def test_a_whole_head_over_the_limit_in_one_read_is_431(url):
    with connect(url) as sock:
        sock.sendall(padded_head(DEFAULT_MAX_HEAD_BYTES + 64) + b"\r\n\r\n")
        status, _headers, body = problem(read_until_closed(sock))
    assert (status, body["code"]) == (431, "request_head_too_large")


def test_a_header_arriving_in_many_reads_is_refused_once_past_the_limit(url):
    """The attack's 8 MB header, in 1 KiB pieces: the server answers as soon as it has
    read more than the limit, instead of buffering the rest."""
    sent, answer = 0, b""
    with connect(url) as sock:
        sock.sendall(padded_head(1024))
        sent = 1024
        sock.settimeout(0.01)  # 16 pieces must arrive well within the head timeout
        while sent < 8 * 1024 * 1024 and not answer:
            sock.sendall(b"a" * 1024)
            sent += 1024
            try:
                answer = sock.recv(65536, socket.MSG_PEEK)
            except TimeoutError:
                continue
        sock.settimeout(10)
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert DEFAULT_MAX_HEAD_BYTES < sent <= DEFAULT_MAX_HEAD_BYTES + 8 * 1024


def test_a_head_just_under_the_limit_is_served(url):
    with connect(url) as sock:
        sock.sendall(padded_head(DEFAULT_MAX_HEAD_BYTES - 200) + b"\r\nConnection: close\r\n\r\n")
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 200 ")


def test_a_slow_head_is_408_and_closed(url):
    with connect(url) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: local")
        started = time.monotonic()
        status, headers, body = problem(read_until_closed(sock))
        waited = time.monotonic() - started
    assert (status, body["code"]) == (408, "request_head_timeout")
    assert headers["connection"] == "close"
    assert HEAD_TIMEOUT * 0.8 < waited < HEAD_TIMEOUT + 5


def test_a_connection_that_sends_nothing_is_closed_after_the_head_timeout(url):
    with connect(url) as sock:
        status, _headers, _body = problem(read_until_closed(sock))
    assert status == 408


def test_a_head_dribbled_within_the_timeout_is_served(url):
    request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    with connect(url) as sock:
        for start in range(0, len(request), 16):
            sock.sendall(request[start:start + 16])
            time.sleep(HEAD_TIMEOUT / 10)
        answer = read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 200 ")


def test_an_idle_keep_alive_connection_is_not_a_slow_head(url):
    """Between requests the keep-alive timeout (uvicorn's, 5 s) governs, not the head's."""
    request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
    with connect(url) as sock:
        sock.sendall(request)
        first = sock.recv(65536)
        time.sleep(HEAD_TIMEOUT * 3)
        sock.sendall(request.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        second = read_until_closed(sock)
    assert first.startswith(b"HTTP/1.1 200 ")
    assert second.startswith(b"HTTP/1.1 200 ")


def test_a_request_that_is_not_http_is_a_400_problem(url):
    with connect(url) as sock:
        sock.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        status, headers, body = problem(read_until_closed(sock))
    assert (status, body["code"]) == (400, "malformed_request")
    assert headers["x-content-type-options"] == "nosniff"


def test_walletauth_serve_runs_the_protocol_with_the_configured_limits(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **options: seen.update(options))
    monkeypatch.setenv("WALLETAUTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WALLETAUTH_MAX_HEAD_BYTES", "4096")
    monkeypatch.setenv("WALLETAUTH_HEAD_TIMEOUT", "3.5")
    monkeypatch.setenv("WALLETAUTH_BODY_TIMEOUT", "7.5")
    from walletauth.cli import app

    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 0, result.output
    protocol = seen["http"]
    assert protocol.func is TurnBufferedHttpToolsProtocol
    assert protocol.keywords == {
        "max_head_bytes": 4096, "head_timeout": 3.5, "body_timeout": 7.5,
    }
