"""The "My data" screen: each request confirmed by a wallet signature naming it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, signed_body
from tests.e2e.steps import show_my_data, sign_in
from walletauth.rights import export_subject, record_provision
from walletauth.siwe import SiweMessage

pytestmark = pytest.mark.browser

OPTIONAL = "quality_marketing"


def last_request_resource(wallet) -> list[str]:
    return list(SiweMessage.parse(wallet.signed[-1]).resources or [])


def history_rows(page) -> list[str]:
    return page.locator("#history-table tbody tr").all_inner_texts()


def test_export_downloads_the_json_and_shows_the_html(page, dapp, wallet):
    sign_in(page, dapp.page_url, wallet.address)
    page.locator(f"#consent-{OPTIONAL}").check()
    expect(page.locator("#status")).to_contain_text("同意済み")
    show_my_data(page)

    with page.expect_download() as download:
        page.click("#export-json")
    exported = json.loads(download.value.path().read_text(encoding="utf-8"))

    assert last_request_resource(wallet) == ["urn:walletauth:request:export"]
    assert exported["subject"] == wallet.address
    assert OPTIONAL in json.dumps(exported["consents"])
    assert {r["category"] for r in exported["records"]} == {
        r.category for r in dapp.store.subject_records(wallet.address, now=datetime.now(UTC))
    }
    expect(page.locator("#export-result")).to_contain_text(f"{len(exported['records'])} 件")

    page.click("#export-html")
    frame = page.frame_locator("#export-frame")
    expect(frame.locator("body")).to_contain_text(wallet.address)
    wallet_record = dapp.store.policy.category("wallet_address").text.ja
    expect(frame.locator("table").first).to_contain_text(wallet_record)
    # Its stylesheet applies in the frame, which inherits the page's CSP.
    assert frame.locator("table").first.evaluate(
        "table => getComputedStyle(table).borderCollapse") == "collapse"
    expect(page.locator("#history-table tbody tr")).to_have_count(2)
    assert all("開示" in row and "完了" in row for row in history_rows(page))
    screenshot(page, "07-my-data-export-ja")


def test_correct_restrict_and_stop_third_party_are_done_and_listed(page, dapp, wallet):
    sign_in(page, dapp.page_url, wallet.address)
    show_my_data(page)

    page.click("#correct-load")
    page.select_option("#add-category", "contact_email")
    page.fill("#add-email", "first@example.org")
    page.click("form.add button[type=submit]")
    expect(page.locator("#correct-result")).to_contain_text("追加 1 件")
    assert last_request_resource(wallet) == ["urn:walletauth:request:correct"]
    [record] = [r for r in dapp.store.subject_records(wallet.address, now=datetime.now(UTC))
                if r.category == "contact_email"]
    assert record.data == {"email": "first@example.org"}

    page.click("#correct-load")  # the added record becomes editable once loaded
    page.fill(f"#record-{record.id}-email", "second@example.org")
    page.locator(f"#record-{record.id}-email").press("Enter")
    expect(page.locator("#correct-result")).to_contain_text("訂正 1 件")
    [corrected] = [r for r in dapp.store.subject_records(wallet.address, now=datetime.now(UTC))
                   if r.category == "contact_email"]
    assert corrected.data == {"email": "second@example.org"}

    page.check(f"#restrict-{OPTIONAL}")
    page.click("#restrict")
    expect(page.locator("#restrict-result")).to_have_text("利用の停止を受け付けました。")
    expect(page.locator(f"#suspended-{OPTIONAL}")).to_have_text("停止中")
    assert last_request_resource(wallet) == ["urn:walletauth:request:restrict"]
    assert OPTIONAL in dapp.store.subject_state(wallet.address).suspended

    page.click("#stop-third-party")
    expect(page.locator("#third-party-result")).to_have_text("第三者提供の停止を受け付けました。")
    assert last_request_resource(wallet) == ["urn:walletauth:request:stop-third-party"]
    assert dapp.store.subject_state(wallet.address).third_party_stopped

    rows = history_rows(page)
    assert len(rows) == 6  # two loads (exports), add, correct, restrict, stop
    assert all("完了" in row for row in rows)
    screenshot(page, "08-my-data-requests-ja")


def test_erase_removes_the_subject_and_ends_the_session(page, dapp, wallet):
    sign_in(page, dapp.page_url, wallet.address)
    page.locator(f"#consent-{OPTIONAL}").check()
    expect(page.locator("#status")).to_contain_text("同意済み")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    show_my_data(page)
    expect(page.locator("#erase")).to_be_disabled()

    page.check("#erase-confirm")
    page.click("#erase")

    expect(page.locator("#erased")).to_be_visible()
    expect(page.locator("#erased-text")).to_contain_text("削除しました")
    wallet_record = dapp.store.policy.category("wallet_address").label.ja
    expect(page.locator("#erased-detail")).to_contain_text(f"{wallet_record}: 1")
    expect(page.locator("#status")).to_have_text("")  # said once, in the receipt
    expect(page.locator("#sign-in")).to_be_visible()
    assert last_request_resource(wallet) == ["urn:walletauth:request:erase"]
    now = datetime.now(UTC)
    assert dapp.store.subject_records(wallet.address, now=now) == []
    assert dapp.store.consent_history(wallet.address) == []
    with httpx.Client(base_url=dapp.url, cookies=cookies) as http:
        assert http.get("/auth/session").status_code == 401
    screenshot(page, "09-erased-ja")


def test_a_request_signed_by_another_account_shows_the_wallet_switch_message(
    page, dapp, wallet
):
    sign_in(page, dapp.page_url, wallet.address)
    show_my_data(page)
    wallet.switch_account()

    page.click("#export-json")

    expect(page.locator("#error")).to_have_attribute("data-code", "wallet_account_changed")
    expect(page.locator("#error-text")).to_contain_text("ログイン中のアドレスと異なります")


def test_the_html_export_opened_on_its_own_is_styled_under_its_strict_csp(page, dapp, wallet):
    """The page as the server sends it (its own CSP header), straight in the browser."""
    with httpx.Client(base_url=dapp.url) as http:
        nonce = http.get("/auth/nonce").json()["nonce"]
        token = http.post("/auth/verify", json=signed_body(dapp, wallet.account, nonce)
                          ).json()["access_token"]
        nonce = http.get("/auth/nonce").json()["nonce"]
        exported = http.post("/me/export?format=html&lang=en",
                             json=signed_body(dapp, wallet.account, nonce, "export"),
                             headers={"Authorization": f"Bearer {token}"})
    assert exported.status_code == 200, exported.text
    refused = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.route(f"{dapp.url}/export.html", lambda route: route.fulfill(
        status=200, body=exported.content, headers={
            "Content-Type": exported.headers["content-type"],
            "Content-Security-Policy": exported.headers["content-security-policy"]}))

    page.goto(f"{dapp.url}/export.html")

    expect(page.locator("h1")).to_have_text("Data linked to this address")
    assert page.locator("table").first.evaluate(
        "table => getComputedStyle(table).borderCollapse") == "collapse"
    assert refused == []
    screenshot(page, "10-export-html-en")



def test_the_erasure_receipt_lists_the_provision_records_the_law_keeps(page, dapp, wallet):
    sign_in(page, dapp.page_url, wallet.address)
    record_provision(dapp.store, wallet.address, "District Court", ["wallet_address"],
                     "required_by_law", now=datetime.now(UTC))
    show_my_data(page)

    page.check("#erase-confirm")
    page.click("#erase")

    expect(page.locator("#erased")).to_be_visible()
    expect(page.locator("#erased-detail")).to_contain_text("第三者提供の記録")
    expect(page.locator("#erased-detail")).to_contain_text("法令に基づく場合 (1)")


def test_the_request_history_pages_through_next_cursor(page, dapp, wallet):
    # GET /me/requests answers 20 a page (the page's size): 25 requests take two pages,
    # the second loaded with "more" from the first page's next_cursor.
    sign_in(page, dapp.page_url, wallet.address)
    now = datetime.now(UTC)
    for minutes in range(25, 0, -1):
        export_subject(dapp.store, wallet.address, now=now - timedelta(minutes=minutes))
    show_my_data(page)

    expect(page.locator("#history-table tbody tr")).to_have_count(20)
    expect(page.locator("#history-more")).to_be_visible()
    page.click("#history-more")
    expect(page.locator("#history-table tbody tr")).to_have_count(25)
    expect(page.locator("#history-more")).to_be_hidden()
    rows = history_rows(page)
    assert all("開示" in row and "完了" in row for row in rows)
    received = [row.split("\t")[2] for row in rows]
    assert len(set(received)) == 25  # each request once, none repeated across the pages

    page.click("#history-refresh")  # back to the first page
    expect(page.locator("#history-table tbody tr")).to_have_count(20)
    expect(page.locator("#history-more")).to_be_visible()
