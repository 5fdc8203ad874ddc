"""A clear message for each failure, in the page's language."""

from __future__ import annotations

import re

import httpx
import pytest
from eth_account import Account
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, signed_body
from tests.e2e.steps import open_page

pytestmark = pytest.mark.browser


def test_a_rejected_signature_shows_the_rejection_message_and_signs_nobody_in(
    page, dapp, wallet
):
    wallet.reject_next = True
    open_page(page, dapp.page_url)

    page.click("#sign-in")

    expect(page.locator("#error")).to_have_attribute("data-code", "user_rejected")
    expect(page.locator("#error-text")).to_contain_text("拒否されました")
    expect(page.locator("#sign-in")).to_be_enabled()
    expect(page.locator("#account")).to_be_hidden()
    assert wallet.signed == []
    screenshot(page, "05-error-rejected-ja")

    page.click("#sign-in")  # a second try goes through
    expect(page.locator("#who")).to_have_text(wallet.address)
    expect(page.locator("#error")).to_be_hidden()


def test_a_wallet_on_a_network_the_service_refuses_is_told_to_switch(page, dapp, wallet):
    wallet.chain_id = 137
    open_page(page, dapp.page_url)
    page.click("#lang")

    page.click("#sign-in")

    expect(page.locator("#error")).to_have_attribute("data-code", "chain_not_allowed")
    expect(page.locator("#error-text")).to_contain_text("Switch your wallet to a supported network")
    screenshot(page, "06-error-chain-en")


def test_a_nonce_used_up_before_the_signature_arrives_asks_to_try_again(page, dapp, wallet):
    """Another sign-in takes the page's nonce first (as an expired one is refused)."""
    def take_the_nonce_first(route):
        answer = route.fetch()
        nonce = answer.json()["nonce"]
        thief = signed_body(dapp, Account.create(), nonce)
        with httpx.Client(base_url=dapp.url) as http:
            assert http.post("/auth/verify", json=thief).is_success
        route.fulfill(response=answer)

    open_page(page, dapp.page_url)
    page.route("**/auth/nonce", take_the_nonce_first)

    page.click("#sign-in")

    expect(page.locator("#error")).to_have_attribute("data-code", "nonce_unknown")
    expect(page.locator("#error-text")).to_contain_text("有効期限が切れたか、すでに使われています")
    expect(page.locator("#account")).to_be_hidden()
    screenshot(page, "11-error-nonce-ja")


@pytest.mark.parametrize("dapp_settings", [{"rate_limits": "nonce=1"}])
def test_too_many_attempts_are_told_when_to_try_again(page, dapp, wallet):
    wallet.reject_next = True
    open_page(page, dapp.page_url)
    page.click("#lang")
    page.click("#sign-in")  # rejected in the wallet: the one nonce a minute is spent
    expect(page.locator("#error")).to_have_attribute("data-code", "user_rejected")

    page.click("#sign-in")

    expect(page.locator("#error")).to_have_attribute("data-code", "rate_limited")
    expect(page.locator("#error-text")).to_contain_text("Too many requests")
    expect(page.locator("#error-text")).to_contain_text(re.compile(r"try again in \d+ seconds"))
    screenshot(page, "12-error-rate-limited-en")

