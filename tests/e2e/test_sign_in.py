"""Signing in on the example page with a browser wallet (EIP-1193), for real."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot
from tests.e2e.steps import open_page, sign_in
from walletauth.siwe import SiweMessage

pytestmark = pytest.mark.browser


def test_the_server_serves_the_page_and_redirects_the_root_to_it(dapp):
    with httpx.Client(base_url=dapp.url) as http:
        root = http.get("/")
        page = http.get("/app/")
        bundle = http.get("/app/vendor/siwe.js")
        manifest = http.get("/app/package.json")
    assert root.status_code == 307 and root.headers["location"] == "/app/"
    assert page.status_code == 200 and "walletauth-api" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert bundle.status_code == 200 and "createSiweMessage" in bundle.text
    assert manifest.status_code == 404 and manifest.json()["code"] == "not_found"


def test_signing_in_signs_a_siwe_message_for_this_site_and_shows_the_address(
    page, dapp, wallet
):
    open_page(page, dapp.page_url)
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    screenshot(page, "01-signed-out-ja")

    sign_in(page, dapp.page_url, wallet.address)

    [text] = wallet.signed
    message = SiweMessage.parse(text)
    assert message.domain == dapp.url.removeprefix("http://")
    assert message.address == wallet.address
    assert message.chain_id == 1
    assert not message.resources
    expect(page.locator("#chain")).to_have_text("1")
    expect(page.locator("#status")).to_have_text("ログインしました。")
    # The server agrees: the session cookie the page holds names the wallet.
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(base_url=dapp.url, cookies=cookies) as http:
        session = http.get("/auth/session").json()
    assert session["address"] == wallet.address
    screenshot(page, "02-signed-in-consents-ja")


def test_a_reload_keeps_the_session_and_signing_out_ends_it(page, dapp, wallet):
    sign_in(page, dapp.page_url, wallet.address)
    page.reload()
    expect(page.locator("#who")).to_have_text(wallet.address)

    page.click("#sign-out")

    expect(page.locator("#sign-in")).to_be_visible()
    expect(page.locator("#account")).to_be_hidden()
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    with httpx.Client(base_url=dapp.url, cookies=cookies) as http:
        assert http.get("/auth/session").json()["code"] == "not_authenticated"
