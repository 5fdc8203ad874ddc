"""The page's contact and inquiry forms (PUT /me/contact, POST /me/inquiries), and what the
consent screen shows about a purpose whose text changed."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot
from tests.e2e.steps import show_my_data, sign_in
from tests.policy.changes import write_v2
from walletauth.store.schema import consent_events
from walletauth.store.subject_state import consents

pytestmark = pytest.mark.browser

# Japanese text on the page, with its full-width punctuation.
# ruff: noqa: RUF001


def _kept(dapp, address, purpose, category):
    store = dapp.store
    return [dict(r.data) for r in store.records(address, purpose, now=dapp.app.state.runtime
                                                 .clock(), category=category)]


def test_contact_and_an_inquiry_are_kept_for_the_service(page, dapp, wallet):
    sign_in(page, dapp.page_url, wallet.address)
    show_my_data(page)

    expect(page.locator("#contact-url")).to_be_visible()  # ABCRECORDS keeps a URL
    page.fill("#contact-email", "fan@example.org")
    page.fill("#contact-url", "https://example.org/label")
    page.click("#contact-save")
    expect(page.locator("#contact-result")).to_have_text(
        "連絡先を保存しました（2 件、利用目的: 本サービスの提供・ログイン等）。")
    assert _kept(dapp, wallet.address, "service_provision", "contact_email") == [
        {"email": "fan@example.org"}]
    assert _kept(dapp, wallet.address, "service_provision", "application_url") == [
        {"url": "https://example.org/label"}]

    page.fill("#inquiry-message", "発売日はいつですか？")
    page.click("#inquiry-send")
    expect(page.locator("#inquiry-result")).to_contain_text(
        "利用目的: 本サービスの提供・ログイン等")
    [inquiry] = _kept(dapp, wallet.address, "service_provision", "inquiry")
    assert inquiry["message"] == "発売日はいつですか？"
    screenshot(page, "20-contact-and-inquiry-ja")


def test_the_forms_mark_what_the_policys_intakes_require(page, dapp, wallet):
    # ABCRECORDS 9 (the split is the operator's): an application requires the email, the
    # URL is optional; an inquiry requires its message and the contact email.
    sign_in(page, dapp.page_url, wallet.address)
    show_my_data(page)
    expect(page.locator("label[for=contact-email]")).to_have_text("メールアドレス（必須）")
    expect(page.locator("label[for=contact-url]")).to_have_text("URL（任意）")
    expect(page.locator("label[for=inquiry-message]")).to_have_text("お問い合わせ内容（必須）")
    expect(page.locator("#inquiry-needs")).to_have_text(
        "お問い合わせには、上の連絡先で保存した次の項目が必要です: 利用申請のメールアドレス。")
    expect(page.locator("#intake-note")).to_contain_text("事業者の設定です")

    page.fill("#inquiry-message", "発売日はいつですか？")
    page.click("#inquiry-send")
    expect(page.locator("#error")).to_have_attribute("data-code", "required_item_missing")
    expect(page.locator("#error-text")).to_contain_text("必須項目が入力されていません")
    assert _kept(dapp, wallet.address, "service_provision", "inquiry") == []

    page.click("#lang")
    expect(page.locator("label[for=contact-email]")).to_have_text("Email address (required)")
    expect(page.locator("label[for=contact-url]")).to_have_text("URL (optional)")


def test_an_empty_contact_form_sends_nothing(page, dapp, wallet):
    sign_in(page, dapp.page_url, wallet.address)
    show_my_data(page)
    page.click("#contact-save")
    expect(page.locator("#contact-result")).to_have_text(
        "メールアドレスか URL を入力してください。")
    assert _kept(dapp, wallet.address, "service_provision", "contact_email") == []


@pytest.mark.parametrize("dapp_settings", [{"policy": "metalive"}])
def test_metalive_asks_for_no_url(page, dapp, wallet):
    sign_in(page, dapp.page_url, wallet.address)
    show_my_data(page)
    expect(page.locator("#contact-url")).to_be_hidden()
    # METALIVE names no intakes: only the inquiry's message is required (by the API).
    expect(page.locator("label[for=contact-email]")).to_have_text("メールアドレス（任意）")
    expect(page.locator("label[for=inquiry-message]")).to_have_text("お問い合わせ内容（必須）")
    expect(page.locator("#inquiry-needs")).to_be_hidden()
    page.fill("#contact-email", "viewer@example.org")
    page.click("#contact-save")
    support = dapp.app.state.runtime.policy.purposes["support"].text.ja
    expect(page.locator("#contact-result")).to_have_text(
        f"連絡先を保存しました（1 件、利用目的: {support}）。")
    assert _kept(dapp, wallet.address, "support", "contact_email") == [
        {"email": "viewer@example.org"}]


@pytest.fixture
def dapp_settings(request, tmp_path_factory):
    """Default settings, or (``indirect`` param ``"abcrecords 2.0"``) the changed policy."""
    if getattr(request, "param", None) != "abcrecords 2.0":
        return {}
    return {"policy": str(write_v2(tmp_path_factory.mktemp("policy"), new_purpose=True))}


@pytest.mark.parametrize("dapp_settings", ["abcrecords 2.0"], indirect=True)
def test_a_consent_to_a_changed_text_shows_what_changed_until_given_again(page, dapp, wallet):
    store = dapp.store
    store.set_consent(wallet.address, "quality_marketing", True,
                      now=dapp.app.state.runtime.clock())
    with store.engine.begin() as connection:  # as if given to version 1.0's words
        connection.execute(sa.update(consent_events).values(text_digest="0" * 32,
                                                            policy_version="1.0"))
    sign_in(page, dapp.page_url, wallet.address)

    expect(page.locator("#policy-meta")).to_contain_text("版 2.0")
    expect(page.locator("#policy-meta")).to_contain_text("2026-12-01（運営者の設定）")
    expect(page.locator("#consent-quality_marketing")).not_to_be_checked()
    expect(page.locator("#purpose-quality_marketing")).to_contain_text("保留中")
    expect(page.locator("#purpose-quality_marketing .change")).to_contain_text(
        "第 2.0 版で内容が変わりました: 広告配信を追加しました")
    # A purpose new in this version starts off, with what the operator says about it.
    expect(page.locator("#consent-newsletter")).not_to_be_checked()
    expect(page.locator("#purpose-newsletter .change")).to_have_text(
        "第 2.0 版での変更: 新しい目的（運営者による要約）")
    screenshot(page, "21-consent-on-hold-after-a-change-ja")

    page.locator("#consent-quality_marketing").check()
    # Granted again: no longer on hold; the note says only what this version changed.
    expect(page.locator("#purpose-quality_marketing .change")).to_have_text(
        "第 2.0 版での変更: 広告配信を追加しました（運営者による要約）")
    expect(page.locator("#purpose-quality_marketing")).not_to_contain_text("保留中")
    assert consents(store, wallet.address)["quality_marketing"] is True
