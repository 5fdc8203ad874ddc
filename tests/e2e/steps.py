"""What a person does on the example page, as reusable steps."""

from __future__ import annotations

from playwright.sync_api import Page, expect


def open_page(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.locator("#sign-in")).to_be_visible()


def sign_in(page: Page, url: str, address: str) -> None:
    open_page(page, url)
    page.click("#sign-in")
    expect(page.locator("#who")).to_have_text(address)
    expect(page.locator("#optional li")).not_to_have_count(0)


def show_my_data(page: Page) -> None:
    page.click("#tab-data")
    expect(page.locator("#panel-data")).to_be_visible()
    expect(page.locator("#status")).to_have_text("")
