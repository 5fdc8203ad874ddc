"""The server's clock jumps forward and back by ten minutes (an injected clock), on SQLite,
PostgreSQL and PostgreSQL + Redis (whose own clock does not jump): nonces, messages,
tokens and sessions follow the spec at every reading of it, nothing a jump back
brings back to life, and a purge run on a clock behind deletes nothing before its time."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.server.conftest import Clock, Wallet, make_settings, serving, sign_in
from walletauth.sdk import SdkError, SessionVerifier

JUMP = timedelta(minutes=10)


@pytest.fixture
def clock() -> Clock:
    return Clock()


DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
WITH_REDIS = pytest.param("postgres+redis", marks=[pytest.mark.postgres, pytest.mark.redis])


@pytest.fixture(params=[*DATABASES, WITH_REDIS])
def served(request, tmp_path, clock):
    """Sessions and used nonces in the database, or in Redis, whose own clock does not
    jump with the server's: its keys expire by real time, the server's checks by its."""
    yield from _serving(request, tmp_path, clock)


@pytest.fixture(params=DATABASES)
def served_sessions_in_database(request, tmp_path, clock):
    yield from _serving(request, tmp_path, clock)


def _serving(request, tmp_path, clock):
    overrides = {}
    if request.param.startswith("postgres"):
        overrides["database_url"] = request.getfixturevalue("postgres_url")
    if request.param.endswith("redis"):
        overrides["redis_url"] = request.getfixturevalue("redis_url")
    settings = make_settings(tmp_path, rate_limits="off", **overrides)
    with (serving(settings, clock) as (url, app),
          httpx.Client(base_url=url, timeout=30) as http):
        yield http, app.state.runtime


def code_of(response: httpx.Response) -> str:
    return response.json()["code"]


def test_a_nonce_outlived_by_a_jump_forward_is_refused_and_a_message_from_ahead_too(
    served, clock: Clock
):
    http, _runtime = served
    wallet = Wallet()
    nonce = http.get("/auth/nonce").json()["nonce"]
    clock.advance(JUMP)  # past the nonce's 5 minutes

    stale = http.post("/auth/verify", json=wallet.signed_body(nonce))

    clock.advance(-2 * JUMP)  # ten minutes behind the wallet's clock
    ahead = http.post("/auth/verify", json=wallet.signed_body(
        http.get("/auth/nonce").json()["nonce"]))
    by_the_servers_time = http.post("/auth/verify", json=wallet.signed_body(
        http.get("/auth/nonce").json()["nonce"], issued_at=clock.now))

    assert (stale.status_code, code_of(stale)) == (401, "nonce_unknown")
    assert (ahead.status_code, code_of(ahead)) == (401, "issued_in_future")
    assert by_the_servers_time.status_code == 200, by_the_servers_time.text


def test_access_tokens_expire_on_time_and_are_not_valid_before_their_issue(served, clock):
    http, runtime = served
    settings = runtime.settings
    signed = sign_in(http, Wallet())
    token = signed.json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    issued = clock.now

    clock.now = issued + settings.access_token_ttl + settings.clock_skew - timedelta(seconds=1)
    still = http.get("/auth/session", headers=bearer)
    clock.now = issued + settings.access_token_ttl + settings.clock_skew
    expired = http.get("/auth/session", headers=bearer)
    clock.now = issued - JUMP
    before_issue = http.get("/auth/session", headers=bearer)

    assert still.status_code == 200, still.text
    assert (expired.status_code, code_of(expired)) == (401, "invalid_token")
    assert (before_issue.status_code, code_of(before_issue)) == (401, "invalid_token")
    # A service's SDK verifier, its clock ten minutes behind, refuses it as not yet valid;
    # on a clock past exp + leeway, as expired.
    url = str(http.base_url).rstrip("/")
    verdicts = {}
    for name, at in (("behind", issued - JUMP), ("on_time", issued),
                     ("after", issued + settings.access_token_ttl + timedelta(seconds=11))):
        with SessionVerifier(f"{url}/.well-known/jwks.json", issuer=settings.issuer,
                             audience=settings.token_audience, leeway=10.0,
                             clock=lambda at=at: at.timestamp()) as verifier:
            try:
                verdicts[name] = verifier.verify(token).address
            except SdkError as error:
                verdicts[name] = error.code
    assert verdicts == {"behind": "token_not_yet_valid", "on_time": signed.json()["address"],
                        "after": "token_expired"}


def test_a_jump_back_brings_no_expired_or_ended_session_back(
    served_sessions_in_database, clock
):
    """Sessions kept in the database, whose expiry the server's clock decides."""
    http, runtime = served_sessions_in_database
    expiring, ended = Wallet(), Wallet()
    ended_cookie = _cookie_of(sign_in(http, ended))
    assert _with_cookie(http, "/auth/logout", ended_cookie).status_code == 204
    expiring_cookie = _cookie_of(sign_in(http, expiring))
    start = clock.now

    clock.now = start + runtime.settings.session_ttl - timedelta(seconds=1)
    alive = _with_cookie(http, "/auth/refresh", expiring_cookie)
    expiring_cookie = _cookie_of(alive)
    clock.now = start + runtime.settings.session_ttl + timedelta(seconds=1)
    expired = _with_cookie(http, "/auth/refresh", expiring_cookie)
    clock.now -= JUMP
    after_jump = _with_cookie(http, "/auth/refresh", expiring_cookie)
    ended_after_jump = _with_cookie(http, "/auth/refresh", ended_cookie)

    assert alive.status_code == 200, alive.text
    assert (expired.status_code, code_of(expired)) == (401, "session_revoked")
    assert (after_jump.status_code, code_of(after_jump)) == (401, "session_revoked")
    assert (ended_after_jump.status_code, code_of(ended_after_jump)) == (401, "session_revoked")


@pytest.mark.postgres
@pytest.mark.redis
def test_sessions_in_redis_run_by_redis_clock_whatever_the_servers_does(
    tmp_path, clock, postgres_url, redis_url
):
    """A session in Redis expires by Redis's clock (its key's TTL), one clock for every
    worker: the server's clock jumping forward past the session's end does not end it,
    and jumping back brings neither an expired nor a signed-out session back."""
    lifetime = timedelta(seconds=2)
    settings = make_settings(tmp_path, rate_limits="off", database_url=postgres_url,
                             redis_url=redis_url, session_ttl=lifetime)
    with serving(settings, clock) as (url, _app), httpx.Client(base_url=url, timeout=30) as http:
        ended_cookie = _cookie_of(sign_in(http, Wallet()))
        assert _with_cookie(http, "/auth/logout", ended_cookie).status_code == 204
        cookie = _cookie_of(sign_in(http, Wallet()))

        clock.advance(lifetime + JUMP)
        cookie = _cookie_of(_with_cookie(http, "/auth/refresh", cookie))
        time.sleep(lifetime.total_seconds() + 0.5)  # Redis's clock passes the end
        clock.advance(-3 * JUMP)
        expired = _with_cookie(http, "/auth/refresh", cookie)
        ended = _with_cookie(http, "/auth/refresh", ended_cookie)

    assert (expired.status_code, code_of(expired)) == (401, "session_revoked")
    assert (ended.status_code, code_of(ended)) == (401, "session_revoked")


def _cookie_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    cookie = response.cookies.get("walletauth_session")
    assert cookie
    return cookie


def _with_cookie(http: httpx.Client, path: str, cookie: str) -> httpx.Response:
    http.cookies.clear()
    return http.post(path, headers={"Cookie": f"walletauth_session={cookie}"})


def test_a_purge_on_a_clock_ten_minutes_behind_deletes_nothing_not_yet_expired(
    served, clock
):
    http, runtime = served
    for _ in range(3):
        assert sign_in(http, Wallet()).status_code == 200
    store = runtime.store

    report = store.purge(now=datetime.now(UTC) - JUMP)

    assert not report.anything_removed, report


def test_a_purge_during_a_jump_forward_leaves_no_nonce_to_replay_after_the_jump_back(
    served, clock
):
    """The used nonce's record outlives the nonce by more than the jump: a purge run while
    the clock is ten minutes ahead keeps it, so the signed message cannot sign in again
    once the clock is set right."""
    http, runtime = served
    wallet = Wallet()
    body = wallet.signed_body(http.get("/auth/nonce").json()["nonce"])
    assert http.post("/auth/verify", json=body).status_code == 200
    start = clock.now

    clock.now = start + runtime.settings.nonce_ttl + JUMP
    runtime.store.purge(now=clock.now)
    clock.now = start + timedelta(seconds=1)
    replayed = http.post("/auth/verify", json=body)

    assert (replayed.status_code, code_of(replayed)) == (401, "nonce_unknown")
