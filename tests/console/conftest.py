"""A walletauth server with the console on, an operator's wallet and a browser-like
client for its forms (the service's Origin, the session's CSRF token)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from eth_account.messages import encode_defunct

from tests.server import conftest as server_fixtures
from tests.server.conftest import DOMAIN, Wallet, make_settings, serving

clock = server_fixtures.clock
wallet = server_fixtures.wallet

ORIGIN = f"http://{DOMAIN}"
SAME_ORIGIN = {"Origin": ORIGIN}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Console:
    url: str
    app: object
    http: httpx.Client
    operator: Wallet

    @property
    def runtime(self):
        return self.app.state.runtime

    @property
    def host(self):
        return self.app.state.console_host

    def sign_in(self, wallet: Wallet | None = None) -> httpx.Response:
        return console_sign_in(self.http, wallet or self.operator)

    def csrf(self) -> str:
        page = self.http.get("/console/requests")
        assert page.status_code == 200, page.text
        return CSRF.search(page.text).group(1)

    def post(self, path: str, form: dict[str, object], *, csrf: bool = True,
             headers: dict[str, str] | None = None) -> httpx.Response:
        data = dict(form)
        if csrf:
            data["csrf"] = self.csrf()
        return self.http.post(path, data=data, headers=headers if headers is not None
                              else SAME_ORIGIN)


def console_sign_in(http: httpx.Client, wallet: Wallet) -> httpx.Response:
    asked = http.post("/console/signin/message", headers=SAME_ORIGIN,
                      json={"address": wallet.address.lower(), "chain_id": 1})
    if asked.status_code != 200:
        return asked
    text = asked.json()["message"]
    signature = wallet.account.sign_message(encode_defunct(text=text)).signature
    return http.post("/console/signin", headers=SAME_ORIGIN,
                     json={"message": text, "signature": "0x" + bytes(signature).hex()})


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request) -> str | None:
    if request.param == "postgres":
        return request.getfixturevalue("postgres_url")
    return None


@pytest.fixture
def operator() -> Wallet:
    return Wallet()


@pytest.fixture
def console(tmp_path, clock, operator, database) -> Iterator[Console]:
    settings = make_settings(tmp_path, operators=[operator.address], database_url=database,
                             trusted_proxies="127.0.0.1/32")
    with serving(settings, clock) as (url, app), httpx.Client(base_url=url, timeout=30) as http:
        yield Console(url, app, http, operator)
