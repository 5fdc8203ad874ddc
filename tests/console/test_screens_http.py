"""The console's read-only screens over HTTP: they render from real data, show no
address, and show a count under 5 as "<5"."""

from __future__ import annotations

import re

from tests.rights.helpers import leaks
from tests.server.conftest import Wallet


def people(console, how_many: int) -> list[Wallet]:
    store, now = console.runtime.store, console.runtime.clock()
    wallets = [Wallet() for _ in range(how_many)]
    for index, wallet in enumerate(wallets):
        store.put_record(wallet.address, "contact_email", "service_provision",
                         {"email": f"p{index}@x.io"}, now=now, source="signup")
        if index < 2:
            store.set_consent(wallet.address, "quality_marketing", True, now=now)
    return wallets


def test_the_overview_shows_counts_but_no_one(console):
    wallets = people(console, 7)
    console.sign_in()
    page = console.http.get("/console/overview")
    assert page.status_code == 200
    assert re.search(r'id="subjects">7<', page.text)
    assert "<svg" in page.text and "<script" not in page.text
    # 2 consents this week: shown as <5 in the chart, never as the figure itself.
    assert "granted" in page.text and "&lt;5" in page.text
    table = page.text.split('id="records-table"')[1]
    assert ">7<" in table
    for wallet in wallets:
        assert leaks(page.text.encode(), wallet.address) == []


def test_a_small_population_is_shown_as_under_five(console):
    people(console, 3)
    console.sign_in()
    page = console.http.get("/console/overview")
    assert re.search(r'id="subjects">&lt;5<', page.text)
    assert 'id="subjects">3<' not in page.text


def test_the_overview_is_the_first_screen_after_sign_in(console):
    console.sign_in()
    landing = console.http.get("/console/", follow_redirects=False)
    assert (landing.status_code, landing.headers["location"]) == (303, "/console/overview")
