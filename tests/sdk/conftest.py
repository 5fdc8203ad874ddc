"""A real JWKS endpoint on loopback, signing keys, token minting and a movable clock."""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from walletauth.sdk import SdkError

ISSUER = "http://localhost:8000"
AUDIENCE = "music"
ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
START = 1_800_000_000.0  # the fake clock's epoch seconds at the start of each test


class Clock:
    """Time the verifier sees; tests move it instead of sleeping."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class SigningKey:
    """An issuer key pair, as walletauth's server holds one."""

    def __init__(self, kid: str | None = None) -> None:
        self.kid = kid or f"key-{secrets.token_hex(4)}"
        self.private = ec.generate_private_key(ec.SECP256R1())

    def jwk(self) -> dict[str, Any]:
        public = json.loads(ECAlgorithm.to_jwk(self.private.public_key()))
        return {**public, "kid": self.kid, "alg": "ES256", "use": "sig"}

    def claims(self, now: float, **overrides: Any) -> dict[str, Any]:
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": ADDRESS,
            "chain_id": 1,
            "sid": "ses_" + secrets.token_hex(8),
            "iat": int(now),
            "exp": int(now) + 900,
            "jti": "tok_" + secrets.token_hex(8),
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def issue(
        self, now: float = START, *, headers: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        return jwt.encode(
            self.claims(now, **claims),
            self.private,
            algorithm="ES256",
            headers={"kid": self.kid, **(headers or {})},
        )


@dataclass
class JwksServer:
    """What the loopback endpoint publishes, and how often it was asked."""

    url: str = ""
    document: Any = field(default_factory=lambda: {"keys": []})
    status: int = 200
    requests: int = 0
    _server: ThreadingHTTPServer | None = None

    def publish(self, *keys: SigningKey) -> None:
        self.document = {"keys": [key.jwk() for key in keys]}

    def stop(self) -> None:
        """Take the endpoint down for real: connections are refused from now on."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _handler(state: JwksServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests += 1
            body = json.dumps(state.document).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

    return Handler


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    state = JwksServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state._server = server
    state.url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    # A short poll interval keeps shutdown (once per test) from costing half a second.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stop()
        thread.join(timeout=5)


@pytest.fixture
def signing_key(jwks_server: JwksServer) -> SigningKey:
    """The issuer's current key, already published."""
    key = SigningKey()
    jwks_server.publish(key)
    return key


@pytest.fixture
def clock() -> Clock:
    return Clock()


@contextmanager
def refused(code: str) -> Iterator[None]:
    """Expect an SdkError with ``code``, and nothing else."""
    with pytest.raises(SdkError) as caught:
        yield
    assert caught.value.code == code, caught.value
