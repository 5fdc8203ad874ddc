"""A refresh rotates the session cookie; a rotated cookie used again ends its family
(issue #15, item 7). Over HTTP, with the sessions in SQLite, PostgreSQL and Redis."""

from datetime import timedelta

import httpx
import jwt
import pytest

from tests.server.conftest import Wallet, make_settings, serving, sign_in

COOKIE = "walletauth_session"


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def sessions_in(request, tmp_path, clock):
    values = {}
    if request.param == "postgres":
        values["database_url"] = request.getfixturevalue("postgres_url")
    if request.param == "redis":
        values["redis_url"] = request.getfixturevalue("redis_url")
    with serving(make_settings(tmp_path, **values), clock) as (url, _app):
        yield url, request.param


@pytest.fixture
def client(sessions_in):
    url, _where = sessions_in
    with httpx.Client(base_url=url, timeout=30) as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sid(token: str) -> str:
    return jwt.decode(token, options={"verify_signature": False})["sid"]


def holding(client: httpx.Client, cookie: str) -> httpx.Client:
    """``client`` with ``cookie`` as its only session cookie."""
    client.cookies.clear()
    client.cookies.set(COOKIE, cookie)
    return client


def refresh_with(client: httpx.Client, cookie: str) -> httpx.Response:
    return holding(client, cookie).post("/auth/refresh")


def max_age(response: httpx.Response) -> int:
    attributes = dict(
        part.strip().partition("=")[::2] for part in response.headers["set-cookie"].split(";")
    )
    return int(attributes["Max-Age"])


def test_a_refresh_sets_a_new_cookie_and_the_old_one_stops_working(client, wallet):
    signed_in = sign_in(client, wallet)
    old_cookie, old_token = client.cookies[COOKIE], signed_in.json()["access_token"]

    refreshed = refresh_with(client, old_cookie)

    assert refreshed.status_code == 200
    new_cookie = refreshed.cookies[COOKIE]
    assert new_cookie != old_cookie
    assert "HttpOnly" in refreshed.headers["set-cookie"]
    assert "samesite=lax" in refreshed.headers["set-cookie"].lower()
    assert refreshed.headers["cache-control"] == "no-store"
    # The sign-in's lifetime, not a new one: a refresh never lengthens a session.
    assert 14 * 86400 - 120 <= max_age(refreshed) <= max_age(signed_in)
    new_token = refreshed.json()["access_token"]
    assert sid(new_token) != sid(old_token)
    assert client.get("/auth/session", headers=bearer(new_token)).status_code == 200
    assert client.get("/auth/session", headers=bearer(old_token)).json()["code"] == (
        "session_revoked"
    )
    assert refresh_with(client, new_cookie).status_code == 200  # the new one rotates in turn


@pytest.mark.parametrize("reused_on", ["refresh", "session"])
def test_a_rotated_cookie_used_again_ends_every_session_of_its_family(
    client, wallet, reused_on
):
    sign_in(client, wallet)
    stolen = client.cookies[COOKIE]
    other_sign_in = sign_in(client, wallet).json()["access_token"]  # the same wallet, apart
    first = refresh_with(client, stolen)
    second = refresh_with(client, first.cookies[COOKIE])
    current_cookie, current_token = second.cookies[COOKIE], second.json()["access_token"]

    if reused_on == "refresh":
        reuse = holding(client, stolen).post("/auth/refresh")
    else:
        reuse = holding(client, stolen).get("/auth/session")

    assert reuse.status_code == 401
    assert reuse.json()["code"] == "session_revoked"
    assert refresh_with(client, current_cookie).json()["code"] == "session_revoked"
    assert client.get("/auth/session", headers=bearer(current_token)).json()["code"] == (
        "session_revoked"
    )
    assert client.get("/auth/session", headers=bearer(other_sign_in)).status_code == 200


@pytest.mark.parametrize("credential", ["cookie", "token"])
def test_signing_out_with_a_replaced_session_ends_its_whole_family(client, wallet, credential):
    signed_in = sign_in(client, wallet)
    owner_cookie, owner_token = client.cookies[COOKIE], signed_in.json()["access_token"]
    thief = refresh_with(client, owner_cookie)  # a copy of the owner's cookie, refreshed
    thief_token = thief.json()["access_token"]

    if credential == "cookie":
        logout = holding(client, owner_cookie).post("/auth/logout")
    else:
        client.cookies.clear()
        logout = client.post("/auth/logout", headers=bearer(owner_token))

    assert logout.status_code == 204
    assert client.get("/auth/session", headers=bearer(thief_token)).json()["code"] == (
        "session_revoked"
    )
    assert refresh_with(client, thief.cookies[COOKIE]).json()["code"] == "session_revoked"


def test_a_rotated_cookie_ends_nothing_once_its_family_is_gone(client, wallet):
    sign_in(client, wallet)
    old = client.cookies[COOKIE]
    current = refresh_with(client, old).cookies[COOKIE]
    assert holding(client, current).post("/auth/logout").status_code == 204

    assert refresh_with(client, old).json()["code"] == "session_revoked"
    assert sign_in(client, Wallet()).status_code == 200


def test_a_refreshed_session_still_ends_when_its_sign_in_would(tmp_path, clock, wallet):
    settings = make_settings(tmp_path)
    with serving(settings, clock) as (url, _app), httpx.Client(base_url=url) as client:
        sign_in(client, wallet)
        clock.advance(timedelta(days=13))
        refreshed = refresh_with(client, client.cookies[COOKIE])
        cookie = refreshed.cookies[COOKIE]
        clock.advance(timedelta(days=1))
        late = refresh_with(client, cookie)
    assert refreshed.status_code == 200
    assert 86400 - 120 <= max_age(refreshed) <= 86400
    assert late.json()["code"] == "session_revoked"


def test_an_erasure_ends_a_refreshed_session_and_counts_it_once(client, wallet):
    sign_in(client, wallet)
    refreshed = refresh_with(client, refresh_with(client, client.cookies[COOKIE]).cookies[COOKIE])
    token = refreshed.json()["access_token"]
    nonce = client.get("/auth/nonce").json()["nonce"]
    proof = wallet.signed_body(nonce, resources=["urn:walletauth:request:erase"])

    erased = client.post("/me/erase", json=proof, headers=bearer(token))

    assert erased.status_code == 200, erased.text
    assert erased.json()["sessions"] == 1
    assert client.get("/auth/session", headers=bearer(token)).json()["code"] == (
        "session_revoked"
    )
