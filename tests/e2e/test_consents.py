"""The consent screen: drawn from GET /policy, state from and changes to /me/consents."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot
from tests.e2e.steps import sign_in
from walletauth.store.subject_state import consents

pytestmark = pytest.mark.browser

OPTIONAL = "quality_marketing"


def test_necessary_purposes_are_shown_as_such_and_optional_ones_as_switches_off(
    page, dapp, wallet
):
    sign_in(page, dapp.page_url, wallet.address)

    policy = dapp.app.state.runtime.policy
    necessary = [p for p in policy.purposes.values() if not p.optional]
    optional = [p for p in policy.purposes.values() if p.optional]
    expect(page.locator("#necessary li")).to_have_count(len(necessary))
    expect(page.locator("#necessary .badge").first).to_have_text("必須")
    expect(page.locator("#necessary input")).to_have_count(0)
    expect(page.locator("#optional input[role=switch]")).to_have_count(len(optional))
    for purpose in optional:
        expect(page.locator(f"#consent-{purpose.id}")).not_to_be_checked()
        expect(page.locator(f"#purpose-{purpose.id}")).to_contain_text(purpose.text.ja)
    # the whole published text, and what the operator set rather than the text
    expect(page.locator("#policy-text")).to_have_attribute("href", "/policy/text?lang=ja")
    expect(page.locator("#policy-text")).to_contain_text("ポリシー全文")
    expect(page.locator("#operator-note")).to_contain_text("事業者が定めたもの")


def test_granting_and_withdrawing_a_purpose_changes_the_stored_consent(page, dapp, wallet):
    sign_in(page, dapp.page_url, wallet.address)

    page.locator(f"#consent-{OPTIONAL}").check()
    expect(page.locator("#status")).to_contain_text("同意済み")
    assert consents(dapp.store, wallet.address)[OPTIONAL] is True
    screenshot(page, "03-consent-granted-ja")

    page.click("#lang")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#tab-consents")).to_have_text("Consents")
    expect(page.locator(f"#consent-{OPTIONAL}")).to_be_checked()
    page.locator(f"#consent-{OPTIONAL}").uncheck()
    expect(page.locator("#status")).to_contain_text("not granted")
    assert consents(dapp.store, wallet.address)[OPTIONAL] is False
    screenshot(page, "04-consent-withdrawn-en")

    page.reload()
    expect(page.locator("#tab-consents")).to_have_text("Consents")  # the choice is kept
    expect(page.locator(f"#consent-{OPTIONAL}")).not_to_be_checked()


def test_without_an_age_rule_there_is_no_age_step(page, dapp, wallet):
    sign_in(page, dapp.page_url, wallet.address)
    expect(page.locator("#necessary li").first).to_be_visible()
    expect(page.locator("#age-step")).to_be_hidden()
