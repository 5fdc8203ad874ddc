"""A real walletauth server serving the example dApp, and Chromium with a test wallet."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi import FastAPI

from tests.e2e.browser import SCREENSHOTS, launched_chromium
from tests.server.conftest import free_socket, serving_app
from walletauth.server.app import create_app
from walletauth.server.config.settings import Settings
from walletauth.siwe import SiweMessage

PROVIDER_SCRIPT = (Path(__file__).with_name("provider.js")).read_text(encoding="utf-8")


@dataclass
class TestWallet:
    """A wallet with a real key; the page's provider asks it to sign ``personal_sign`` data."""

    account: object = field(default_factory=Account.create)
    chain_id: int = 1
    reject_next: bool = False
    signed: list[str] = field(default_factory=list)

    @property
    def address(self) -> str:
        return self.account.address

    def personal_sign(self, data: str, address: str) -> dict:
        if address.lower() != self.address.lower():
            raise AssertionError(f"asked to sign for {address}, the wallet is {self.address}")
        if self.reject_next:
            self.reject_next = False
            return {"rejected": True}
        message = encode_defunct(hexstr=data)
        self.signed.append(message.body.decode("utf-8"))
        signature = self.account.sign_message(message).signature
        return {"signature": "0x" + bytes(signature).hex()}

    def switch_account(self) -> None:
        """As a person picking another account in the wallet."""
        self.account = Account.create()

    def state(self) -> dict:
        return {"address": self.address, "chainId": self.chain_id}


@dataclass
class Dapp:
    url: str
    app: FastAPI

    @property
    def store(self):
        return self.app.state.runtime.store

    @property
    def page_url(self) -> str:
        return self.url + "/app/"


@pytest.fixture(scope="package")
def chromium():
    with launched_chromium() as browser:
        yield browser


@pytest.fixture
def dapp_settings() -> dict[str, object]:
    """Settings a test changes (``@pytest.mark.parametrize("dapp_settings", [...])``)."""
    return {}


@pytest.fixture
def dapp(tmp_path, dapp_settings) -> Iterator[Dapp]:
    """walletauth on a free loopback port, its domain ``127.0.0.1:<port>``, page at /app/."""
    sock = free_socket()  # IPPROTO_TCP, so accepted connections get TCP_NODELAY
    host, port = sock.getsockname()
    settings = Settings(
        data_dir=tmp_path / "data",
        domains=[f"{host}:{port}"],
        insecure_http=True,
        serve_example=True,
        **dapp_settings,
    )
    app = create_app(settings)
    with serving_app(app, sock) as url:
        yield Dapp(url=url, app=app)


@pytest.fixture
def wallet() -> TestWallet:
    return TestWallet()


@pytest.fixture
def page(chromium, dapp, wallet):
    """A new browser context (no cookies, no storage) with the test wallet injected."""
    context = chromium.new_context(
        accept_downloads=True, locale="ja-JP", viewport={"width": 1100, "height": 900}
    )
    context.expose_function("walletauthTestSign", wallet.personal_sign)
    context.expose_function("walletauthTestWallet", wallet.state)
    context.add_init_script(PROVIDER_SCRIPT)
    browser_page = context.new_page()
    errors: list[str] = []
    browser_page.on("pageerror", lambda error: errors.append(str(error)))
    yield browser_page
    context.close()
    assert not errors, f"the page threw: {errors}"


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under test-output/e2e/ (to look at, not compared)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def signed_body(dapp: Dapp, account, nonce: str, request: str | None = None) -> dict[str, str]:
    """What a wallet sends outside the page: a sign-in to ``dapp`` (or, naming
    ``request``, a data-subject request) signed by ``account``."""
    text = SiweMessage(
        domain=dapp.url.removeprefix("http://"), address=account.address, uri=dapp.page_url,
        version="1", chain_id=1, nonce=nonce, issued_at=datetime.now(UTC),
        resources=[f"urn:walletauth:request:{request}"] if request else None,
    ).to_text()
    signature = account.sign_message(encode_defunct(text=text)).signature
    return {"message": text, "signature": "0x" + bytes(signature).hex()}
