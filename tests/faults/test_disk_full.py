"""The SQLite disk runs full mid-traffic: sign-ins and rights requests are answered with a
code (507 storage_full, or 503), never a 500; the database stays intact, and works again
as soon as there is space."""

from __future__ import annotations

import sqlite3
from collections import Counter

import httpx

from tests.server.conftest import Wallet, make_settings, serving


def test_a_full_disk_is_a_507_and_the_database_survives_it(small_disk):
    data_dir = small_disk.mountpoint / "data"
    settings = make_settings(small_disk.mountpoint, data_dir=data_dir, rate_limits="off")
    wallet = Wallet()
    with serving(settings) as (url, _app), httpx.Client(base_url=url, timeout=30) as client:
        assert _sign_in(client, wallet).status_code == 200
        small_disk.fill()

        answers = Counter()
        for _ in range(40):
            answer = _sign_in(client, Wallet())
            answers[(answer.status_code, answer.json().get("code"))] += 1
            if answer.status_code >= 500:
                assert answer.headers.get("retry-after"), answer.text
        assert not any(status == 500 for status, _code in answers), answers
        assert (507, "storage_full") in answers, answers

        small_disk.free_up()
        again = _sign_in(client, wallet)
        assert again.status_code == 200, again.text
        session = client.get("/auth/session")
        assert session.status_code == 200 and session.json()["address"] == wallet.address

    database_file = data_dir / "walletauth.sqlite3"
    assert database_file.exists()
    with sqlite3.connect(database_file) as database:
        assert database.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert database.execute("SELECT count(*) FROM sessions").fetchone()[0] >= 2


def _sign_in(client: httpx.Client, wallet: Wallet) -> httpx.Response:
    nonce = client.get("/auth/nonce")
    if nonce.status_code != 200:
        return nonce
    return client.post("/auth/verify", json=wallet.signed_body(nonce.json()["nonce"]))
