"""Of many concurrent verifies with one nonce exactly one signs in, on either backend."""

import asyncio

import httpx
import pytest

from tests.server.conftest import make_settings, serving

PARALLEL = 50


async def verify_all_at_once(url, body):
    limits = httpx.Limits(max_connections=PARALLEL)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        responses = await asyncio.gather(
            *(client.post("/auth/verify", json=body) for _ in range(PARALLEL))
        )
    return sorted(r.status_code for r in responses), {r.json().get("code") for r in responses}


def one_winner(tmp_path, wallet, **settings):
    with serving(make_settings(tmp_path, rate_limits="off", **settings)) as (url, _app):
        nonce = httpx.get(f"{url}/auth/nonce").json()["nonce"]
        statuses, codes = asyncio.run(verify_all_at_once(url, wallet.signed_body(nonce)))
    assert statuses == [200] + [401] * (PARALLEL - 1)
    assert codes == {None, "nonce_unknown"}


def test_fifty_parallel_verifies_with_one_nonce_on_sqlite(tmp_path, wallet):
    one_winner(tmp_path, wallet)


@pytest.mark.redis
def test_fifty_parallel_verifies_with_one_nonce_on_redis(tmp_path, wallet, redis_url):
    one_winner(tmp_path, wallet, redis_url=redis_url)
