"""A sign-in with Redis whose steps fail (walletauth.server.signin.writes.NonceFirst): the nonce's
use and the session are one Redis script, then the store records the login. Whichever
step fails, the answer is a 503 with ``Retry-After``, no cookie or token is handed out, no
session is left in Redis and no login in the store, and a fresh nonce signs in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import redis

from tests.server.conftest import Wallet, make_settings, serving
from walletauth.server.runtime import Runtime
from walletauth.server.web.errors import ServerError
from walletauth.store import Store
from walletauth.store.errors import StoreError

pytestmark = pytest.mark.redis

SESSIONS = "walletauth:session:*"


@pytest.fixture(params=["sqlite", "postgres"])
def signing_in(request, tmp_path, redis_url) -> Iterator[tuple[httpx.Client, Runtime]]:
    overrides = {"redis_url": redis_url}
    if request.param == "postgres":
        overrides["database_url"] = request.getfixturevalue("postgres_url")
    settings = make_settings(tmp_path, **overrides)
    with serving(settings) as (url, app), httpx.Client(base_url=url, timeout=30) as http:
        yield http, app.state.runtime


@pytest.fixture
def sessions(redis_url) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as client:
        yield client


def signed_body(http: httpx.Client, wallet: Wallet) -> dict[str, str]:
    return wallet.signed_body(http.get("/auth/nonce").json()["nonce"])


def assert_unavailable_and_nothing_handed_out(answer: httpx.Response, code: str) -> None:
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["Retry-After"]) >= 1
    assert answer.json()["code"] == code
    assert "set-cookie" not in answer.headers
    assert "access_token" not in answer.text


def records_of(runtime: Runtime, wallet: Wallet) -> list:
    return runtime.store.subject_records(wallet.address, now=datetime.now(UTC))


def redis_away() -> ServerError:
    return ServerError("service_unavailable", "Redis is unavailable (test)", retry_after=1)


class FailingNthCommand:
    """The state's Redis client with its ``failing``-th command from now on failing as a
    lost connection does: before Redis ran it (``reply_lost`` false) or after (true)."""

    def __init__(self, client: object, failing: int, *, reply_lost: bool) -> None:
        self._execute = client.execute_command  # type: ignore[attr-defined]
        self._failing = failing
        self._reply_lost = reply_lost
        self.sent = 0

    async def __call__(self, *args: object, **options: object) -> object:
        self.sent += 1
        if self.sent != self._failing:
            return await self._execute(*args, **options)
        if self._reply_lost:
            await self._execute(*args, **options)
        raise redis.ConnectionError("connection lost (test)")


@pytest.mark.parametrize("reply_lost", [False, True], ids=["redis_down", "reply_lost"])
def test_each_redis_command_of_a_sign_in_failing_leaves_no_half_sign_in(
    signing_in, sessions, monkeypatch, reply_lost
):
    """Fail the 1st, 2nd, ... Redis command of a verify until one succeeds: each failed
    one is a 503 with nothing handed out and no login recorded; with the command that
    failed unsent, no session either."""
    http, runtime = signing_in
    http.post("/auth/verify", json=signed_body(http, Wallet()))  # loads the Lua scripts
    failing = 1
    while True:
        wallet = Wallet()
        body = signed_body(http, wallet)
        sessions_before = len(sessions.keys(SESSIONS))
        commands = FailingNthCommand(runtime.state._client, failing, reply_lost=reply_lost)
        monkeypatch.setattr(runtime.state._client, "execute_command", commands)
        answer = http.post("/auth/verify", json=body)
        monkeypatch.undo()
        if answer.status_code == 200:
            assert commands.sent < failing  # the verify sent fewer: all steps passed
            break
        assert_unavailable_and_nothing_handed_out(answer, "service_unavailable")
        assert records_of(runtime, wallet) == [], f"command {failing} failed, login recorded"
        # A script whose reply was lost may have created a session no cookie names.
        left = len(sessions.keys(SESSIONS)) - sessions_before
        assert left <= (1 if reply_lost else 0), f"command {failing}: {left} sessions left"
        failing += 1
    assert failing > 2  # the rate counter and the sign-in's own step both failed once
    assert http.get("/auth/session").json()["address"] == wallet.address
    assert records_of(runtime, wallet) != []


def test_redis_failing_at_the_nonce_and_session_step_uses_nothing(
    signing_in, sessions, monkeypatch
):
    http, runtime = signing_in
    wallet = Wallet()

    async def away(*args, **kwargs) -> bool:
        raise redis_away()

    monkeypatch.setattr(runtime.state, "use_nonce_with_session", away)
    body = signed_body(http, wallet)
    assert_unavailable_and_nothing_handed_out(
        http.post("/auth/verify", json=body), "service_unavailable"
    )
    assert sessions.keys(SESSIONS) == []
    assert records_of(runtime, wallet) == []

    monkeypatch.undo()
    # Nothing was used: the very same body signs in once Redis answers.
    assert http.post("/auth/verify", json=body).status_code == 200
    assert len(sessions.keys(SESSIONS)) == 1
    assert records_of(runtime, wallet) != []


def test_a_store_failing_after_the_session_was_created_leaves_no_session(
    signing_in, sessions, monkeypatch
):
    http, runtime = signing_in
    wallet = Wallet()
    revoked: list[str] = []
    revoke = runtime.state.revoke_session

    def database_down(*args, **kwargs) -> None:
        # The session exists by now: the withdrawal below is what ends it.
        assert len(sessions.keys(SESSIONS)) == 1
        raise StoreError("database_unavailable", "the database does not answer (test)")

    async def counted_revoke(session_id: str) -> None:
        revoked.append(session_id)
        await revoke(session_id)

    # On the class: the gateway calls Store.record_login with the runtime's store.
    monkeypatch.setattr(Store, "record_login", database_down)
    monkeypatch.setattr(runtime.state, "revoke_session", counted_revoke)
    body = signed_body(http, wallet)
    assert_unavailable_and_nothing_handed_out(
        http.post("/auth/verify", json=body), "database_unavailable"
    )
    assert len(revoked) == 1
    assert sessions.keys(SESSIONS) == []
    assert records_of(runtime, wallet) == []

    monkeypatch.undo()
    # The nonce stays used: a captured body does not sign in later.
    assert http.post("/auth/verify", json=body).json()["code"] == "nonce_unknown"
    signed_in = http.post("/auth/verify", json=signed_body(http, wallet))
    assert signed_in.status_code == 200
    assert http.get("/auth/session").json()["address"] == wallet.address
    assert len(sessions.keys(SESSIONS)) == 1


def test_a_store_failure_is_answered_even_when_the_session_cannot_be_withdrawn(
    signing_in, sessions, monkeypatch
):
    """Redis gone as well: the session stays until its TTL, but nothing names it."""
    http, runtime = signing_in
    wallet = Wallet()

    def database_down(*args, **kwargs) -> None:
        raise StoreError("database_unavailable", "the database does not answer (test)")

    async def away(session_id: str) -> None:
        raise redis_away()

    # On the class: the gateway calls Store.record_login with the runtime's store.
    monkeypatch.setattr(Store, "record_login", database_down)
    monkeypatch.setattr(runtime.state, "revoke_session", away)
    assert_unavailable_and_nothing_handed_out(
        http.post("/auth/verify", json=signed_body(http, wallet)), "database_unavailable"
    )
    assert records_of(runtime, wallet) == []
    monkeypatch.undo()
    assert http.post("/auth/verify", json=signed_body(http, wallet)).status_code == 200
