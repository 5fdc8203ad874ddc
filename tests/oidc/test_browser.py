"""The sign-in page for real: headless Chromium with an injected EIP-1193 wallet goes to
the authorization URL, connects, signs, consents, and is sent back with a code."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from playwright.sync_api import expect

from tests.e2e import conftest as e2e
from tests.e2e.browser import launched_chromium
from tests.oidc.conftest import REDIRECT, SECRET, serving, verifier
from walletauth.siwe import SiweMessage

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium():
    with launched_chromium() as browser:
        yield browser


@pytest.fixture
def provider(tmp_path, clock):
    with serving(tmp_path, clock) as running:
        yield running


@pytest.fixture
def wallet() -> e2e.TestWallet:
    return e2e.TestWallet()


@pytest.fixture
def page(chromium, wallet) -> Iterator[object]:
    context = chromium.new_context(locale="en-US")
    context.expose_function("walletauthTestSign", wallet.personal_sign)
    context.expose_function("walletauthTestWallet", wallet.state)
    context.add_init_script(e2e.PROVIDER_SCRIPT)
    browser_page = context.new_page()
    errors: list[str] = []
    browser_page.on("pageerror", lambda error: errors.append(str(error)))
    browser_page.on("console", lambda message: message.type == "error"
                    and errors.append(message.text))
    yield browser_page
    context.close()
    assert not errors, f"the page reported: {errors}"


def test_a_browser_wallet_signs_in_consents_and_returns_with_a_code(provider, page, wallet):
    landed: list[str] = []

    def client_callback(route):
        landed.append(route.request.url)
        route.fulfill(status=200, body="back at the client")

    page.context.route(REDIRECT + "*", client_callback)
    client = OAuth2Client("wiki", SECRET, scope="openid wallet_address", redirect_uri=REDIRECT,
                          code_challenge_method="S256")
    code_verifier = verifier()
    url, state = client.create_authorization_url(provider.url + "/oauth/authorize",
                                                 code_verifier=code_verifier, nonce="n1")

    page.goto(url)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("body")).to_contain_text("Team wiki")
    page.click("#connect")
    expect(page.locator("#allow")).to_be_visible()
    expect(page.locator("body")).to_contain_text(wallet.address)
    page.check("input[value=wallet_address]")
    page.click("#allow")
    expect(page.locator("body")).to_have_text("back at the client")

    [signed] = wallet.signed
    message = SiweMessage.parse(signed)
    assert message.domain == provider.url.removeprefix("http://")
    assert message.request_id and "Team wiki" in (message.statement or "")
    [back] = landed
    assert parse_qs(urlsplit(back).query)["state"] == [state]
    client.fetch_token(provider.url + "/oauth/token", authorization_response=back,
                       code_verifier=code_verifier)
    info = client.get(provider.url + "/oauth/userinfo").json()
    assert info["wallet_address"] == f"eip155:1:{wallet.address}"


def test_the_pages_speak_japanese_by_default_and_show_a_rejected_signature(
    provider, chromium, wallet
):
    context = chromium.new_context(locale="ja-JP")
    context.expose_function("walletauthTestSign", wallet.personal_sign)
    context.expose_function("walletauthTestWallet", wallet.state)
    context.add_init_script(e2e.PROVIDER_SCRIPT)
    page = context.new_page()
    client = OAuth2Client("wiki", SECRET, scope="openid", redirect_uri=REDIRECT,
                          code_challenge_method="S256")
    url, _ = client.create_authorization_url(provider.url + "/oauth/authorize",
                                             code_verifier=verifier())
    try:
        page.goto(url)
        expect(page.locator("html")).to_have_attribute("lang", "ja")
        wallet.reject_next = True
        page.click("#connect")
        expect(page.locator("#status")).to_have_text("署名が拒否されました。")
        expect(page.locator("#connect")).to_be_enabled()
    finally:
        context.close()
    assert httpx.get(provider.url + "/oauth/assets/signin.js").status_code == 200
