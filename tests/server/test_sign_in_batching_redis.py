"""Sign-ins batched on the Redis path (walletauth.server.signin.writes.NonceFirst): the
verifies of one turn of the event loop share one Redis script call and one store call,
and each caller still gets its own answer: signed in, its nonce used already, its own
refusal (its session withdrawn), or the failure of a step they shared."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from eth_account import Account

from walletauth.policy.loader import load_policy
from walletauth.server.signin.writes import REDIS_BATCH, NonceFirst
from walletauth.server.state.redis_state import RedisState
from walletauth.server.store_gateway import StoreGateway, serial_for
from walletauth.server.web.errors import ServerError
from walletauth.store import Secrets, Store, StoreError
from walletauth.store.logins import SignIn, SignInOutcome
from walletauth.store.subject_state import suspend

pytestmark = pytest.mark.redis

SESSIONS = "walletauth:session:*"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path}/walletauth.db"


class Counted:
    """The Redis state and the store, counting the batch calls each receives."""

    def __init__(self, state: RedisState) -> None:
        self.state = state
        self.script_calls: list[int] = []
        self.store_calls: list[int] = []


@pytest.fixture
async def writes(
    database_url: str, redis_url: str, tmp_path: Path, monkeypatch
) -> AsyncIterator[tuple[NonceFirst, Counted, Store]]:
    store = Store.open(
        database_url,
        policy=load_policy("abcrecords"),
        secrets=Secrets.load_or_create(tmp_path / "secrets"),
    )
    gateway = StoreGateway(store, serial=serial_for(database_url))
    state = RedisState.from_url(redis_url)
    await state.start(now=datetime.now(UTC) - timedelta(minutes=1))
    counted = Counted(state)
    use_many, record_many = state.use_nonces_with_sessions, Store.record_logins

    async def counted_use(sign_ins):
        counted.script_calls.append(len(sign_ins))
        return await use_many(sign_ins)

    def counted_record(store: Store, sign_ins):
        counted.store_calls.append(len(sign_ins))
        return record_many(store, sign_ins)

    monkeypatch.setattr(state, "use_nonces_with_sessions", counted_use)
    monkeypatch.setattr(Store, "record_logins", counted_record)
    try:
        yield NonceFirst(state, gateway, max_batch=REDIS_BATCH), counted, store
    finally:
        await state.close()
        await gateway.close()


def sign_in(address: str, name: str, *, nonce: str | None = None) -> SignIn:
    now = datetime.now(UTC)
    return SignIn(
        address=address,
        chain_id=1,
        now=now,
        nonce=nonce or f"nonce-{name}",
        nonce_issued_at=now,
        nonce_remember_until=now + timedelta(minutes=10),
        session_id=f"session-{name}-0123456789abcdef",
        session_expires_at=now + timedelta(days=14),
        ip="192.0.2.1",
        user_agent="Mozilla/5.0 Firefox/128.0",
    )


def sessions(redis_url: str) -> set[str]:
    with redis.Redis.from_url(redis_url, decode_responses=True) as client:
        return {key.rsplit(":", 1)[1] for key in client.keys(SESSIONS)}


async def all_at_once(writes: NonceFirst, sign_ins: list[SignIn]) -> list[Any]:
    return await asyncio.gather(*(writes.write(each) for each in sign_ins), return_exceptions=True)


async def test_a_turns_sign_ins_share_one_script_call_and_one_store_call(writes, redis_url):
    nonce_first, counted, store = writes
    returning, fresh, refused = (Account.create().address for _ in range(3))
    assert await nonce_first.write(sign_in(returning, "yesterday"))
    suspend(store, refused, "service_provision", now=datetime.now(UTC))
    counted.script_calls.clear()
    counted.store_calls.clear()
    batch = [
        sign_in(returning, "returning"),
        sign_in(fresh, "fresh"),
        sign_in(fresh, "replay", nonce="nonce-fresh"),  # the same nonce: one wins
        sign_in(refused, "refused"),
        sign_in(returning, "old-nonce", nonce="nonce-yesterday"),  # used before
    ]

    answers = await all_at_once(nonce_first, batch)

    assert answers[:3] == [True, True, False]
    assert isinstance(answers[3], StoreError) and answers[3].code == "purpose_suspended"
    assert answers[4] is False
    assert counted.script_calls == [5]
    assert counted.store_calls == [3]  # the nonces' winners
    # The refused sign-in's session was withdrawn; the others' live.
    assert sessions(redis_url) == {each.session_id for each in (batch[0], batch[1])} | {
        sign_in(returning, "yesterday").session_id
    }
    now = datetime.now(UTC)
    assert len(store.records(returning, "service_provision", now=now, category="access_log")) == 2
    assert len(store.records(fresh, "service_provision", now=now, category="access_log")) == 1


async def test_a_verify_alone_in_its_turn_takes_one_sign_ins_steps(writes):
    nonce_first, counted, _store = writes
    assert await nonce_first.write(sign_in(Account.create().address, "alone"))
    assert counted.script_calls == counted.store_calls == []


async def test_redis_failing_for_the_batch_fails_each_and_writes_nothing(
    writes, redis_url, monkeypatch
):
    nonce_first, counted, store = writes

    async def away(sign_ins) -> list[bool]:
        raise ServerError("service_unavailable", "Redis is unavailable (test)", retry_after=1)

    monkeypatch.setattr(counted.state, "use_nonces_with_sessions", away)
    wallets = [Account.create().address for _ in range(3)]

    answers = await all_at_once(nonce_first, [sign_in(w, f"w{i}") for i, w in enumerate(wallets)])

    assert [getattr(answer, "code", answer) for answer in answers] == ["service_unavailable"] * 3
    assert sessions(redis_url) == set()
    assert all(store.subject_records(w, now=datetime.now(UTC)) == [] for w in wallets)


async def test_a_store_failing_for_one_withdraws_its_session_and_answers_its_error(
    writes, redis_url, monkeypatch
):
    nonce_first, _counted, store = writes
    failing, *others = (Account.create().address for _ in range(3))
    record_many = Store.record_logins

    def one_fails(store: Store, sign_ins) -> list[SignInOutcome]:
        kept = [each for each in sign_ins if each.address != failing]
        outcomes = iter(record_many(store, kept))
        down = StoreError("database_unavailable", "the database does not answer (test)")
        return [
            SignInOutcome(False, down) if each.address == failing else next(outcomes)
            for each in sign_ins
        ]

    monkeypatch.setattr(Store, "record_logins", one_fails)
    batch = [sign_in(address, f"w{index}") for index, address in enumerate([failing, *others])]

    answers = await all_at_once(nonce_first, batch)

    assert answers[0].code == "database_unavailable"
    assert answers[1:] == [True, True]
    assert sessions(redis_url) == {batch[1].session_id, batch[2].session_id}
    assert store.subject_records(failing, now=datetime.now(UTC)) == []


async def test_the_store_call_failing_fails_each_and_withdraws_every_session(
    writes, redis_url, monkeypatch
):
    nonce_first, _counted, store = writes

    def database_down(store: Store, sign_ins) -> list[SignInOutcome]:
        raise StoreError("database_unavailable", "the database does not answer (test)")

    monkeypatch.setattr(Store, "record_logins", database_down)
    wallets = [Account.create().address for _ in range(3)]

    answers = await all_at_once(nonce_first, [sign_in(w, f"w{i}") for i, w in enumerate(wallets)])

    assert [answer.code for answer in answers] == ["database_unavailable"] * 3
    assert sessions(redis_url) == set()
    assert all(store.subject_records(w, now=datetime.now(UTC)) == [] for w in wallets)


async def test_a_fault_inside_the_batch_still_answers_every_caller(writes, monkeypatch):
    nonce_first, _counted, _store = writes

    async def one_answer_short(sign_ins) -> list[bool]:
        return [True] * (len(sign_ins) - 1)

    monkeypatch.setattr(nonce_first, "_use_nonces", one_answer_short)
    wallets = [Account.create().address for _ in range(3)]

    answers = await asyncio.wait_for(
        all_at_once(nonce_first, [sign_in(w, f"w{i}") for i, w in enumerate(wallets)]), 10
    )

    assert all(isinstance(answer, ValueError) for answer in answers)
