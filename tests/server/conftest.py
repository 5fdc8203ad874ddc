"""Servers on loopback for the HTTP tests, and wallets that sign like a browser's."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn
from eth_account import Account
from eth_account.messages import encode_defunct

from walletauth.server.app import create_app
from walletauth.server.config.settings import Settings
from walletauth.server.signin.http_protocol import UVICORN_HTTP
from walletauth.siwe import SiweMessage

DOMAIN = "localhost:8000"


class Clock:
    """A clock tests move by hand, so that nothing has to sleep."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class Wallet:
    """A plain-key wallet that signs EIP-4361 messages as a browser wallet does."""

    def __init__(self) -> None:
        self.account = Account.create()
        self.address = self.account.address

    def message(self, nonce: str, **fields) -> str:
        values = {
            "domain": DOMAIN,
            "address": self.address,
            "statement": "Sign in to ABCRECORDS",
            "uri": f"http://{DOMAIN}/login",
            "version": "1",
            "chain_id": 1,
            "nonce": nonce,
            "issued_at": datetime.now(UTC) - timedelta(seconds=1),
        }
        values.update(fields)
        return SiweMessage(**values).to_text()

    def sign(self, text: str) -> str:
        signed = self.account.sign_message(encode_defunct(text=text))
        return "0x" + bytes(signed.signature).hex()

    def signed_body(self, nonce: str, **fields) -> dict[str, str]:
        text = self.message(nonce, **fields)
        return {"message": text, "signature": self.sign(text)}


def free_socket(port: int = 0) -> socket.socket:
    """A TCP socket bound to a free loopback port (or to ``port``, one a test freed).

    The protocol is named (IPPROTO_TCP, not the default 0) because asyncio sets
    TCP_NODELAY on accepted connections only when the listening socket says it is TCP;
    without it Nagle held every response's body until the client's delayed ACK of the
    headers, about 40 ms per request."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


@contextlib.contextmanager
def serving(settings: Settings, clock=None, http=UVICORN_HTTP) -> Iterator[tuple[str, object]]:
    """Run an app on a free loopback port in a background thread; yield (url, app).
    ``http`` is the protocol (``walletauth serve``'s, with its default limits)."""
    app = create_app(settings, clock=clock) if clock else create_app(settings)
    with serving_app(app, free_socket(), http=http) as url:
        yield url, app


@contextlib.contextmanager
def serving_app(app, sock: socket.socket, *, http=UVICORN_HTTP) -> Iterator[str]:
    """Serve ``app`` on ``sock`` (from :func:`free_socket`; a test whose settings name the
    port binds it first) in a background thread; yield its URL, stop and close at the end."""
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http=http,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        limit_concurrency=None,
    )
    server = uvicorn.Server(config)
    # Server.run makes the loop the config names (uvloop, as `walletauth serve` runs).
    thread = threading.Thread(target=lambda: server.run(sockets=[sock]), daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started or not thread.is_alive():
                break
            threading.Event().wait(0.01)
        if not server.started:
            raise RuntimeError("the test server did not start")
        host, port = sock.getsockname()
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def make_settings(tmp_path, **overrides) -> Settings:
    values = {
        "data_dir": tmp_path / "data",
        "domains": [DOMAIN],
        # The test servers speak plain http, where a client keeps no Secure cookie.
        "insecure_http": True,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def wallet() -> Wallet:
    return Wallet()


@pytest.fixture
def server(tmp_path, clock):
    """A server on SQLite with default settings and a hand-moved clock."""
    with serving(make_settings(tmp_path), clock) as (url, app):
        yield url, app


@pytest.fixture
def client(server) -> Iterator[httpx.Client]:
    url, _app = server
    with httpx.Client(base_url=url, timeout=30) as http:
        yield http


@pytest.fixture
def runtime(server):
    _url, app = server
    return app.state.runtime


def sign_in(client: httpx.Client, wallet: Wallet, **fields) -> httpx.Response:
    nonce = client.get("/auth/nonce").json()["nonce"]
    return client.post("/auth/verify", json=wallet.signed_body(nonce, **fields))


def signed_in_bearer(client: httpx.Client, wallet: Wallet) -> dict[str, str]:
    """Sign ``wallet`` in and return the Authorization header of its access token."""
    response = sign_in(client, wallet)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
