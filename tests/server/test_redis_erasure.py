"""Erasure ends every session of the address when sessions live in Redis, on every worker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import redis

from tests.rights.helpers import signed_request
from tests.server.conftest import make_settings, serving, sign_in
from walletauth.server.state.redis_state import RedisState

pytestmark = pytest.mark.redis

NOW = datetime.now(UTC)
ALICE = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
BOB = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
KEY = b"k" * 32


@pytest.fixture
async def state(redis_url):
    opened = RedisState.from_url(redis_url, subject_keys=[KEY])
    yield opened
    await opened.close()


async def test_revoking_an_address_ends_all_its_sessions_and_no_other(state):
    for session_id, address, lifetime in (("sid-alice-phone-0001", ALICE, 1),
                                          ("sid-alice-laptop-002", ALICE.lower(), 30),
                                          ("sid-bob-000000000001", BOB, 1)):
        await state.create_session(session_id, address,
                                   expires_at=NOW + timedelta(days=lifetime), now=NOW)

    assert await state.revoke_sessions_of(ALICE) == 2

    assert not await state.session_active("sid-alice-phone-0001", now=NOW)
    assert not await state.session_active("sid-alice-laptop-002", now=NOW)
    assert await state.session_active("sid-bob-000000000001", now=NOW)
    assert await state.revoke_sessions_of(ALICE) == 0


async def test_the_index_names_no_address_and_lives_as_long_as_the_longest_session(
    state, redis_url
):
    await state.create_session("sid-long-00000000001", ALICE,
                               expires_at=NOW + timedelta(days=30), now=NOW)
    await state.create_session("sid-short-0000000001", ALICE,
                               expires_at=NOW + timedelta(hours=1), now=NOW)
    raw = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        [index] = raw.keys("walletauth:subject-sessions:*")
        stored = " ".join([*raw.keys("*"), *raw.smembers(index)]).lower()
        ttl = raw.ttl(index)
    finally:
        raw.close()
    assert ALICE.lower()[2:] not in stored
    assert timedelta(days=29) < timedelta(seconds=ttl) <= timedelta(days=30)


async def test_sessions_indexed_before_a_secrets_rotation_are_still_found(redis_url):
    before = RedisState.from_url(redis_url, subject_keys=[KEY])
    after = RedisState.from_url(redis_url, subject_keys=[b"n" * 32, KEY])
    try:
        await before.create_session("sid-before-rotation1", ALICE,
                                    expires_at=NOW + timedelta(days=1), now=NOW)
        await after.create_session("sid-after-rotation01", ALICE,
                                   expires_at=NOW + timedelta(days=1), now=NOW)
        assert await after.revoke_sessions_of(ALICE) == 2
    finally:
        await before.close()
        await after.close()


def test_tokens_issued_before_an_erasure_are_refused_on_every_worker(
    tmp_path, redis_url, clock, wallet
):
    settings = make_settings(tmp_path, redis_url=redis_url)
    with serving(settings, clock) as (first_url, _a), \
            serving(settings, clock) as (second_url, _b), \
            httpx.Client(base_url=first_url) as phone, \
            httpx.Client(base_url=second_url) as laptop:
        tokens = [sign_in(http, wallet).json()["access_token"] for http in (phone, laptop)]
        for http in (phone, laptop):
            for token in tokens:
                live = http.get("/auth/session", headers={"Authorization": f"Bearer {token}"})
                assert live.status_code == 200

        erased = phone.post("/me/erase", json=signed_request(phone, wallet, "erase"),
                            headers={"Authorization": f"Bearer {tokens[0]}"})

        assert erased.status_code == 200, erased.text
        assert erased.json()["sessions"] == 2  # both ended in Redis, counted in the receipt
        for http in (phone, laptop):
            for token in tokens:
                after = http.get("/auth/session", headers={"Authorization": f"Bearer {token}"})
                assert after.status_code == 401
                assert after.json()["code"] == "session_revoked"
