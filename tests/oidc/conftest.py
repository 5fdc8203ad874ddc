"""A real walletauth server with OpenID Connect clients, and a person's browser steps
(connect, sign, consent) done over HTTP with a real wallet key."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import html
import re
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from tests.server.conftest import Clock, free_socket, serving_app
from walletauth.server.app import create_app
from walletauth.server.config.keys import RS256_KEYRING_FILE, RS256_KEYS, open_keyring
from walletauth.server.config.settings import Settings

SECRET = "wiki-secret-" + "x" * 32
REDIRECT = "http://127.0.0.1:9/callback"
OTHER_REDIRECT = "http://localhost:9/back"


def clients() -> dict[str, dict[str, object]]:
    """``wiki`` names no ID token algorithm (so RS256, the default); ``board`` is the same
    client registered for ES256."""
    wiki: dict[str, object] = {
        "name": "Team wiki",
        "secret_sha256": hashlib.sha256(SECRET.encode()).hexdigest(),
        "redirect_uris": [REDIRECT],
        "post_logout_redirect_uris": ["http://127.0.0.1:9/bye"],
        "scopes": ["openid", "wallet_address", "purpose:quality_marketing"],
    }
    return {
        "wiki": wiki,
        "board": {**wiki, "name": "Notice board", "id_token_signed_response_alg": "ES256"},
        "spa": {
            "name": "Player app",
            "public": True,
            "redirect_uris": [OTHER_REDIRECT],
            "scopes": ["openid", "wallet_address"],
        },
    }


@dataclass
class Provider:
    url: str
    app: object
    clock: Clock

    @property
    def runtime(self):
        return self.app.state.runtime


@functools.cache
def rs256_ring() -> bytes:
    """One RS256 key ring file per test process: making an RSA key at each server's first
    start would add some 60-220 ms (by the machine's load) to every test here."""
    with tempfile.TemporaryDirectory() as directory:
        open_keyring(Path(directory), RS256_KEYS, token_ttl=timedelta(minutes=15))
        return (Path(directory) / RS256_KEYRING_FILE).read_bytes()


@contextlib.contextmanager
def serving(tmp_path, clock: Clock, port: int = 0, *, fresh_keys: bool = False,
            **overrides) -> Iterator[Provider]:
    """A provider on a free port, or on ``port`` (a restart keeps its issuer); its RS256
    key is the process's one unless ``fresh_keys`` (then its first start makes it, as a
    real one's does)."""
    sock = free_socket(port)
    host, port = sock.getsockname()
    values: dict[str, object] = {
        "data_dir": tmp_path / "data", "domains": [f"{host}:{port}"], "insecure_http": True,
        "oidc_clients": clients(),
    }
    values.update(overrides)
    if not fresh_keys:
        data_dir = Path(str(values["data_dir"]))
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        ring = data_dir / RS256_KEYRING_FILE
        ring.touch(mode=0o600)
        ring.write_bytes(rs256_ring())
    app = create_app(Settings(**values), clock=clock)
    with serving_app(app, sock) as url:
        yield Provider(url=url, app=app, clock=clock)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
                        pytest.param("redis", marks=pytest.mark.redis)])
def backend_settings(request) -> dict[str, object]:
    """Where the records and the short-lived state live: SQLite alone, PostgreSQL alone,
    or SQLite with sessions and used nonces (codes) in Redis."""
    if request.param == "postgres":
        return {"database_url": request.getfixturevalue("postgres_url")}
    if request.param == "redis":
        return {"redis_url": request.getfixturevalue("redis_url")}
    return {}


@pytest.fixture
def provider(tmp_path, clock, backend_settings) -> Iterator[Provider]:
    with serving(tmp_path, clock, **backend_settings) as running:
        yield running


class Person:
    """Someone at a browser with a wallet: follows the pages as they ask."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.account = Account.create()
        self.http = httpx.Client(base_url=provider.url, timeout=30)

    @property
    def address(self) -> str:
        return self.account.address

    def open(self, authorization_url: str) -> httpx.Response:
        return self.http.get(authorization_url)

    def sign_in(self, page: httpx.Response) -> str:
        """Connect and sign on the sign-in page; answers the consent step's token."""
        ticket = html.unescape(re.search(r'data-ticket="([^"]+)"', page.text).group(1))
        message = self.http.post("/oauth/authorize/message", json={
            "ticket": ticket, "address": self.address.lower(), "chain_id": 1})
        assert message.status_code == 200, message.text
        text = message.json()["message"]
        signature = "0x" + bytes(
            self.account.sign_message(encode_defunct(text=text)).signature).hex()
        login = self.http.post("/oauth/authorize/login", json={
            "ticket": ticket, "message": text, "signature": signature})
        assert login.status_code == 200, login.text
        return login.json()["consent"]

    def consent_page(self, consent: str) -> httpx.Response:
        return self.http.post("/oauth/authorize/consent", data={"consent": consent})

    def decide(self, consent: str, *, allow: bool = True, scopes: tuple[str, ...] = ()
               ) -> httpx.Response:
        fields = [("consent", consent), ("decision", "allow" if allow else "deny")]
        fields += [("scope", scope) for scope in scopes]
        return self.http.post("/oauth/authorize/decision", content=urlencode(fields),
                              headers={"Content-Type": "application/x-www-form-urlencoded"})

    def authorize(self, authorization_url: str, scopes: tuple[str, ...] = ()) -> str:
        """The whole way through: the redirect the client receives."""
        page = self.open(authorization_url)
        assert page.status_code == 200, page.text
        consent = self.sign_in(page)
        assert self.consent_page(consent).status_code == 200
        decided = self.decide(consent, scopes=scopes)
        assert decided.status_code == 302, decided.text
        return decided.headers["location"]


@pytest.fixture
def person(provider) -> Iterator[Person]:
    someone = Person(provider)
    yield someone
    someone.http.close()


def verifier() -> str:
    return secrets.token_urlsafe(48)
