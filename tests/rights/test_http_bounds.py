"""What a session can make the requests log hold, over HTTP on SQLite and PostgreSQL: a
proof refused before its signature writes nothing, rights requests are limited per wallet
(429 with Retry-After), and /me/requests answers a page at a time."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa

from tests.rights.helpers import signed_request
from tests.server.conftest import Wallet, make_settings, serving, sign_in
from walletauth.rights import deny_request
from walletauth.server.config.services import hash_api_key, new_api_key
from walletauth.store.rights_schema import rights_requests

DESK_KEY = new_api_key()
RIGHTS_PER_DAY = 3


def served_on(request, tmp_path, clock, **overrides):
    if request.param == "postgres":
        overrides["database_url"] = request.getfixturevalue("postgres_url")
    if request.param == "redis":  # sessions and rate counters in Redis
        overrides["redis_url"] = request.getfixturevalue("redis_url")
    return serving(make_settings(tmp_path, **overrides), clock)


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def served(request, tmp_path, clock):
    with (served_on(request, tmp_path, clock) as (url, app),
          httpx.Client(base_url=url, timeout=30) as http):
        yield http, app.state.runtime


@pytest.fixture(params=[*BACKENDS, pytest.param("redis", marks=pytest.mark.redis)])
def limited(request, tmp_path, clock):
    services = {"desk": {"api_key_sha256": hash_api_key(DESK_KEY)}}
    with (served_on(request, tmp_path, clock, services=services,
                    rate_limits=f"rights={RIGHTS_PER_DAY}") as (url, app),
          httpx.Client(base_url=url, timeout=30) as http):
        yield http, app.state.runtime


def signed_in(http, wallet) -> dict[str, str]:
    response = sign_in(http, wallet)
    assert response.status_code == 200, response.text
    http.cookies.clear()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def logged(runtime) -> int:
    with runtime.store.engine.connect() as connection:
        return connection.execute(
            sa.select(sa.func.count()).select_from(rights_requests)).scalar_one()


def refusal(response) -> tuple[int, str]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return response.status_code, response.json()["code"]


def test_a_proof_refused_before_its_signature_writes_nothing(served, wallet):
    http, runtime = served
    auth = signed_in(http, wallet)
    mallory = Wallet()
    signed = signed_request(http, wallet, "erase")
    unsigned = {"message": signed["message"], "signature": "0x" + "11" * 65}
    before = logged(runtime)

    refused = {
        "malformed": http.post("/me/erase", headers=auth,
                               json={"message": "not a message", "signature": "0x00"}),
        "another request": http.post("/me/export", headers=auth, json=signed),
        "another wallet": http.post("/me/erase", headers=auth,
                                    json=signed_request(http, mallory, "erase")),
        "another domain": http.post("/me/erase", headers=auth, json=signed_request(
            http, wallet, "erase", domain="evil.example")),
        "expired": http.post("/me/erase", headers=auth, json=signed_request(
            http, wallet, "erase", expiration_time=runtime.clock() - timedelta(minutes=10))),
    }

    assert {name: refusal(answer) for name, answer in refused.items()} == {
        "malformed": (400, "malformed_message"),
        "another request": (403, "wrong_request"),
        "another wallet": (403, "signer_mismatch"),
        "another domain": (403, "domain_mismatch"),
        "expired": (401, "expired"),
    }
    assert logged(runtime) == before
    # At the signature: a signature that is not the wallet's is the wallet's denied request.
    assert refusal(http.post("/me/erase", headers=auth, json=unsigned)) == (
        401, "invalid_signature")
    assert [(r["kind"], r["status"], r["reason"])
            for r in http.get("/me/requests", headers=auth).json()["requests"]] == [
        ("erase", "denied", "invalid_signature")]
    assert http.get("/auth/session", headers=auth).status_code == 200  # nothing was erased


def test_rights_requests_are_limited_per_wallet_with_retry_after(limited, wallet, clock):
    http, runtime = limited
    auth = signed_in(http, wallet)
    other = Wallet()
    other_auth = signed_in(http, other)

    answers = [http.post("/me/erase", headers=auth, json={"message": "x", "signature": "0x"})
               for _ in range(RIGHTS_PER_DAY)]
    before = logged(runtime)
    limited_export = http.post("/me/export", headers=auth,
                               json=signed_request(http, wallet, "export"))
    others_export = http.post("/me/export", headers=other_auth,
                              json=signed_request(http, other, "export"))

    assert {refusal(answer) for answer in answers} == {(400, "malformed_message")}
    assert refusal(limited_export) == (429, "rate_limited")
    assert 0 < int(limited_export.headers["retry-after"]) <= 24 * 3600
    assert logged(runtime) == before + 1  # the other wallet's export, nothing of the refused
    assert others_export.status_code == 200, others_export.text
    wait = int(limited_export.headers["retry-after"])
    clock.advance(timedelta(seconds=wait - 1))
    auth = signed_in(http, wallet)  # the access token has expired meanwhile
    early = http.post("/me/export", headers=auth, json=signed_request(http, wallet, "export"))
    clock.advance(timedelta(seconds=1))
    later = http.post("/me/export", headers=auth, json=signed_request(http, wallet, "export"))
    assert refusal(early) == (429, "rate_limited") and early.headers["retry-after"] == "1"
    assert later.status_code == 200, later.text


def test_requests_a_service_hands_over_are_limited_apart_from_the_wallets_own(limited, wallet):
    http, runtime = limited
    auth = signed_in(http, wallet)
    desk = {"Authorization": f"Bearer {DESK_KEY}"}

    def forward():
        return http.post("/services/v1/requests", headers=desk,
                         json={"address": wallet.address, "kind": "erase"})

    forwarded = [forward() for _ in range(RIGHTS_PER_DAY)]
    before = logged(runtime)
    over = forward()
    own = http.post("/me/export", headers=auth, json=signed_request(http, wallet, "export"))

    assert [answer.status_code for answer in forwarded] == [202] * RIGHTS_PER_DAY
    assert refusal(over) == (429, "rate_limited") and int(over.headers["retry-after"]) > 0
    assert own.status_code == 200, own.text
    assert logged(runtime) == before + 1


def test_the_requests_log_answers_a_page_at_a_time(served, wallet, clock):
    http, runtime = served
    auth = signed_in(http, wallet)
    now = clock()
    # Seven requests, three of them received at the same instant: the id breaks the tie.
    times = [now - timedelta(hours=7 - n) for n in range(4)] + [now] * 3
    ids = [deny_request(runtime.store, wallet.address, "export", "expired", now=at)
           for at in times]

    pages, after = [], None
    while True:
        params = {"limit": 3} | ({"after": after} if after else {})
        answer = http.get("/me/requests", headers=auth, params=params)
        assert answer.status_code == 200, answer.text
        pages.append([r["id"] for r in answer.json()["requests"]])
        after = answer.json()["next_cursor"]
        if after is None:
            break
    everything = http.get("/me/requests", headers=auth).json()

    paged = [request_id for page in pages for request_id in page]
    assert [len(page) for page in pages] == [3, 3, 1]
    assert paged == [r["id"] for r in everything["requests"]]
    assert paged[:4] == ids[:4] and paged[4:] == sorted(ids[4:])
    assert everything["next_cursor"] is None


@pytest.mark.parametrize("params", [
    {"limit": 0}, {"limit": 101}, {"after": "yesterday"}, {"after": "1.req_x.y"},
    {"after": "9" * 19 + ".req_x"},
])
def test_a_bad_page_is_a_422(served, wallet, params):
    http, _runtime = served
    auth = signed_in(http, wallet)
    assert refusal(http.get("/me/requests", headers=auth, params=params)) == (
        422, "invalid_request")
