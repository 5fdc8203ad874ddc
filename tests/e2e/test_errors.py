"""A clear message for each failure, in the page's language."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot
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
