"""Headless Chromium drives the console against a real server with data: an operator
signs in with the wallet, finds a person, downloads their export and erases them; a
wallet not listed is turned away. Screenshots go to the test's tmp dir, to look at."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from playwright.sync_api import Page, expect

from tests.e2e.browser import launched_chromium
from tests.e2e.conftest import PROVIDER_SCRIPT, TestWallet
from tests.server.conftest import free_socket, serving_app
from walletauth.server.app import create_app
from walletauth.server.config.settings import Settings
from walletauth.siwe import SiweMessage
from walletauth.store.audit import audit_entries

pytestmark = pytest.mark.browser



@pytest.fixture(scope="module")
def chromium():
    with launched_chromium() as browser:
        yield browser


@dataclass
class Served:
    url: str
    app: object

    @property
    def store(self):
        return self.app.state.runtime.store


@pytest.fixture
def operator_wallet() -> TestWallet:
    return TestWallet()


@pytest.fixture
def served(tmp_path, operator_wallet) -> Iterator[Served]:
    sock = free_socket()
    host, port = sock.getsockname()
    settings = Settings(data_dir=tmp_path / "data", domains=[f"{host}:{port}"],
                        insecure_http=True, operators=[operator_wallet.address])
    app = create_app(settings)
    with serving_app(app, sock) as url:
        yield Served(url, app)


def browser_page(chromium, wallet: TestWallet) -> tuple[object, Page, list[str]]:
    context = chromium.new_context(accept_downloads=True, viewport={"width": 1200,
                                                                    "height": 900})
    context.expose_function("walletauthTestSign", wallet.personal_sign)
    context.expose_function("walletauthTestWallet", wallet.state)
    context.add_init_script(PROVIDER_SCRIPT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return context, page, errors


def a_person_with_data(served: Served, records: int = 4) -> str:
    """A wallet that signed in to the service and left records and a consent."""
    account = Account.create()
    with httpx.Client(base_url=served.url) as http:
        nonce = http.get("/auth/nonce").json()["nonce"]
        text = SiweMessage(domain=served.url.removeprefix("http://"), address=account.address,
                           uri=served.url + "/app/", version="1", chain_id=1, nonce=nonce,
                           issued_at=datetime.now(UTC)).to_text()
        signature = account.sign_message(encode_defunct(text=text)).signature
        assert http.post("/auth/verify", json={"message": text, "signature": "0x" + bytes(
            signature).hex()}).status_code == 200
    now = datetime.now(UTC)
    for index in range(records):
        served.store.put_record(account.address, "contact_email", "service_provision",
                                {"email": f"person{index}@example.jp"}, now=now,
                                source="signup")
    served.store.set_consent(account.address, "quality_marketing", True, now=now)
    return account.address


def shot(page: Page, directory: Path, name: str) -> Path:
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Page, served: Served) -> None:
    page.goto(served.url + "/console/")
    page.click("#sign-in")
    expect(page.locator("#operator")).to_be_visible()


def test_an_operator_finds_a_person_exports_and_erases_them(chromium, served,
                                                            operator_wallet, tmp_path):
    person = a_person_with_data(served)
    context, page, errors = browser_page(chromium, operator_wallet)
    try:
        page.goto(served.url + "/console/")
        shot(page, tmp_path, "01-sign-in")
        page.click("#sign-in")
        expect(page.locator("#operator")).to_have_text(operator_wallet.address)
        assert "urn:walletauth:console" in operator_wallet.signed[-1]
        page.goto(served.url + "/console/requests")
        expect(page.locator("#find-subject")).to_be_visible()
        assert person.lower() not in page.content().lower()  # no address until searched
        shot(page, tmp_path, "02-requests")

        page.fill("#find-subject input[name=address]", person.lower())
        page.fill("#find-subject textarea[name=reason]", "email of 1 Dec, lost wallet")
        page.click("#find-subject button")
        expect(page.locator("#subject-found")).to_contain_text("Found")
        expect(page.locator("#subject-address")).to_have_text(person)
        shot(page, tmp_path, "03-subject")

        export = page.locator("#act-export")
        export.locator("select[name=format]").select_option("json")
        export.locator("textarea[name=reason]").fill("disclosure asked by email")
        with page.expect_download() as download_info:
            export.locator("button").click()
        download = download_info.value
        assert download.suggested_filename == "walletauth-export.json"
        document = json.loads(Path(download.path()).read_text(encoding="utf-8"))
        assert sum(r["category"] == "contact_email" for r in document["records"]) == 4

        erase = page.locator("#act-erase")
        erase.locator("select[name=channel]").select_option("post")
        erase.locator("select[name=identity_check]").select_option("identity-document")
        erase.locator("input[name=confirm]").fill("ERASE")
        erase.locator("textarea[name=reason]").fill("erasure asked by letter")
        erase.locator("button").click()
        expect(page.locator("#done")).to_contain_text("Erased")
        shot(page, tmp_path, "04-erased")
        assert served.store.subject_records(person, now=datetime.now(UTC)) == []
        acts = [e.detail["action"] for e in audit_entries(served.store)
                if e.event == "operator_action"]
        assert acts == ["sign_in", "lookup", "export", "erase"]
        page.goto(served.url + "/console/audit")
        expect(page.locator("#operator-acts tbody tr")).to_have_count(4)
        assert person.lower() not in page.content().lower()
        shot(page, tmp_path, "11-audit")
    finally:
        context.close()
    assert not errors, errors


def test_the_overview_draws_the_store(chromium, served, operator_wallet, tmp_path):
    from datetime import timedelta

    store = served.store
    now = datetime.now(UTC)
    people = [a_person_with_data(served, records=1 + index % 3) for index in range(9)]
    for index, person in enumerate(people):
        store.set_consent(person, "quality_marketing", True,
                          now=now - timedelta(days=3 + 7 * (index % 5)))
        if index % 3 == 0:
            store.set_consent(person, "quality_marketing", False, now=now - timedelta(days=1))
    from walletauth.store.requests_log import finish_request, open_request

    for index, person in enumerate(people[:6]):
        request = open_request(store, person, "export", now=now - timedelta(days=index * 4))
        finish_request(store, request, "completed", now=now)
    context, page, errors = browser_page(chromium, operator_wallet)
    try:
        sign_in(page, served)
        page.goto(served.url + "/console/overview")
        expect(page.locator("#subjects")).to_have_text("9")
        expect(page.locator("svg")).to_have_count(7)
        for person in people:
            assert person.lower() not in page.content().lower()
        shot(page, tmp_path, "06-overview")
        page.goto(served.url + "/console/processing")
        expect(page.locator("#activities")).to_be_visible()
        shot(page, tmp_path, "10-processing")
        with page.expect_download() as csv_download:
            page.click("#csv")
        lines = Path(csv_download.value.path()).read_text(encoding="utf-8").splitlines()
        assert lines[0].startswith("controller,contact,purpose")
        assert len(lines) == 1 + sum(len(c.retention) for c in store.policy.categories.values())
    finally:
        context.close()
    assert not errors, errors


def test_outbox_retention_and_policy_screens(chromium, served, operator_wallet, tmp_path):
    from datetime import timedelta

    from walletauth import rights
    from walletauth.store import console_counts, outbox

    store = served.store
    now = datetime.now(UTC)
    people = [a_person_with_data(served, records=2) for _ in range(6)]
    for person in people[:3]:
        rights.restrict(store, person, ["quality_marketing"], now=now,
                        notify=["catalogue", "mailer"])
    for row in console_counts.outbox(store)[:4]:
        outbox.failed(store.engine, row.notice_id, row.endpoint, error="http_503",
                      retry_in=timedelta(hours=6), now=now)
    context, page, errors = browser_page(chromium, operator_wallet)
    try:
        sign_in(page, served)
        page.goto(served.url + "/console/notices")
        expect(page.locator("#outbox tbody tr")).to_have_count(6)
        shot(page, tmp_path, "07-notices")
        page.fill("#retry-all textarea[name=reason]", "the catalogue is back")
        page.click("#retry-all button")
        expect(page.locator("#done")).to_contain_text("4 notice(s) due now")

        # Records put ten years back are past their retention: more than one step's worth.
        long_ago = now - timedelta(days=3650)
        for index in range(1200):
            store.put_record(f"0x{index + 1:040x}", "contact_email", "service_provision",
                             {"email": f"old{index}@example.jp"}, now=long_ago,
                             source="signup")
        due = console_counts.purge_preview(store, now=datetime.now(UTC)).records_removed
        assert due >= 1200
        page.goto(served.url + "/console/retention")
        expect(page.locator("#purge-counts")).to_be_visible()
        expect(page.locator("#purge-progress")).to_be_hidden()
        shot(page, tmp_path, "08-retention")
        page.fill("#run-purge textarea[name=reason]", "monthly purge")
        page.click("#run-purge button")
        expect(page.locator("#purge-status")).to_contain_text("Purge done", timeout=60_000)
        expect(page.locator("#purge-status")).to_contain_text("(100%)")
        bar = page.locator("#purge-bar")
        assert bar.evaluate("b => b.value === b.max && b.max >= 1200"), bar.evaluate(
            "b => [b.value, b.max]")
        shot(page, tmp_path, "08b-purge-done")
        assert console_counts.purge_preview(store, now=datetime.now(UTC)).records == {}
        steps = [e for e in audit_entries(store) if e.event == "operator_action"
                 and e.detail["action"] == "purge_step"]
        assert len(steps) >= 3 and len({e.detail["run"] for e in steps}) == 1

        page.goto(served.url + "/console/policy")
        expect(page.locator("#policy-version")).to_contain_text(store.policy.version)
        shot(page, tmp_path, "09-policy")
    finally:
        context.close()
    assert not errors, errors


def test_a_wallet_not_listed_is_turned_away(chromium, served, tmp_path):
    stranger = TestWallet()
    context, page, errors = browser_page(chromium, stranger)
    try:
        page.goto(served.url + "/console/")
        page.click("#sign-in")
        expect(page.locator("#status")).to_contain_text("403 not_an_operator")
        shot(page, tmp_path, "05-not-an-operator")
        answer = page.goto(served.url + "/console/requests")
        assert answer.status == 401
    finally:
        context.close()
    assert not errors, errors
