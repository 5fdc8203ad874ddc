"""Redis out of pooled connections, or away: a 503 with ``Retry-After``, never a 500."""

import asyncio

import httpx
import pytest

from tests.server.conftest import Wallet, make_settings, serving
from tests.server.test_multiworker import free_port
from walletauth.server.state.redis_state import RedisState
from walletauth.server.web.errors import ServerError

pytestmark = pytest.mark.redis

CONCURRENT = 400
# Limits high enough that every request reaches Redis (rate limits "off" would skip it).
COUNTED_NOT_LIMITED = "nonce=100000,verify=100000,failed=10"


async def nonces_at_once(url: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=CONCURRENT)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        return await asyncio.gather(*(client.get("/auth/nonce") for _ in range(CONCURRENT)))


def test_four_hundred_concurrent_nonces_on_a_small_pool_are_200_or_503(tmp_path, redis_url):
    settings = make_settings(
        tmp_path, redis_url=redis_url, rate_limits=COUNTED_NOT_LIMITED,
        redis_max_connections=1, redis_pool_timeout=0.005,
    )
    with serving(settings) as (url, _app):
        responses = asyncio.run(nonces_at_once(url))
    statuses = {r.status_code for r in responses}
    assert statuses <= {200, 503}, sorted(r.status_code for r in responses)
    overloaded = [r for r in responses if r.status_code == 503]
    assert overloaded, "one connection for 400 requests never ran out: the test tested nothing"
    assert 200 in statuses
    for response in overloaded:
        assert response.headers["Retry-After"] == "1"
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "service_unavailable"


def test_concurrent_sign_ins_on_a_small_pool_are_200_or_503(tmp_path, redis_url):
    """The attack's four workers' 62 x 500 came from sign-ins: each one uses Redis for the
    rate limits, the nonce's use and the session."""
    settings = make_settings(
        tmp_path, redis_url=redis_url, rate_limits=COUNTED_NOT_LIMITED,
        redis_max_connections=1, redis_pool_timeout=0.005,
    )
    wallets = [Wallet() for _ in range(100)]
    with serving(settings) as (url, _app):
        with httpx.Client(base_url=url) as client:
            nonces = [client.get("/auth/nonce").json()["nonce"] for _ in wallets]
        bodies = [wallet.signed_body(nonce) for wallet, nonce in zip(wallets, nonces, strict=True)]

        async def sign_ins() -> list[httpx.Response]:
            limits = httpx.Limits(max_connections=len(bodies))
            async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
                return await asyncio.gather(
                    *(client.post("/auth/verify", json=body) for body in bodies)
                )

        responses = asyncio.run(sign_ins())
    assert {r.status_code for r in responses} <= {200, 503}
    for response in responses:
        if response.status_code == 503:
            assert response.headers["Retry-After"] == "1"
            assert response.json()["code"] == "service_unavailable"


def test_a_redis_that_does_not_answer_is_a_503_with_retry_after(tmp_path):
    settings = make_settings(tmp_path, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with serving(settings) as (url, _app), httpx.Client(base_url=url) as client:
        nonce = client.get("/auth/nonce")
        health = client.get("/healthz")
    for answer in (nonce, health):
        assert answer.status_code == 503
        assert answer.headers["Retry-After"] == "1"
        assert answer.json()["code"] == "service_unavailable"


async def test_a_command_waits_for_a_pooled_connection_then_is_unavailable(redis_url):
    state = RedisState.from_url(redis_url, max_connections=1, pool_timeout=0.05)
    pool = state._client.connection_pool
    held = await pool.get_connection()
    try:
        with pytest.raises(ServerError) as refused:
            await state.ping()
        assert refused.value.code == "service_unavailable"
        assert refused.value.retry_after == 1
    finally:
        await pool.release(held)
    await state.ping()  # the connection is back: the next command gets it
    await state.close()
