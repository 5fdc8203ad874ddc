"""The age step: shown only under a policy with an age rule (METALIVE), a yes or no that
unlocks optional purposes for adults and waits for a guardian below 13."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.steps import sign_in
from walletauth.store.subject_state import consents

pytestmark = pytest.mark.browser

OPTIONAL = "analytics_marketing"


@pytest.fixture
def dapp_settings() -> dict[str, object]:
    return {"policy": "metalive"}


def test_an_adult_confirms_their_age_then_grants_an_optional_purpose(page, dapp, wallet):
    sign_in(page, dapp.page_url, wallet.address)
    expect(page.locator("#age-step")).to_be_visible()
    expect(page.locator("#age-adult")).to_have_text("13 歳以上です")

    page.locator(f"#consent-{OPTIONAL}").check()
    expect(page.locator("#error")).to_contain_text("年齢の確認")
    page.click("#age-adult")
    expect(page.locator("#age-state")).to_have_text("13 歳以上と確認済みです。")
    page.locator(f"#consent-{OPTIONAL}").check()
    expect(page.locator("#status")).to_contain_text("同意済み")

    assert consents(dapp.store, wallet.address)[OPTIONAL] is True


def test_under_13_the_choice_is_final_and_a_guardian_is_needed(page, dapp, wallet):
    sign_in(page, dapp.page_url, wallet.address)

    page.click("#age-child")

    expect(page.locator("#age-state")).to_contain_text("保護者の同意が必要です")
    expect(page.locator("#age-choices")).to_be_hidden()
    page.locator(f"#consent-{OPTIONAL}").check()
    expect(page.locator("#error")).to_contain_text("保護者の同意が必要です")
    assert dapp.store.subject_state(wallet.address).under_guardian_age is True
