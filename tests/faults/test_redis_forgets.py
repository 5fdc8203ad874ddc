"""Redis restarted mid-traffic, keeping nothing (as this machine's Redis and many
production caches run): a sign-in body used before the restart is not accepted again
after it, and sign-ins work again without restarting walletauth."""

from __future__ import annotations

import httpx

from tests.server.conftest import Wallet, make_settings, serving


def test_a_sign_in_used_before_redis_forgot_is_not_accepted_after_it(tmp_path, throwaway_redis):
    wallet = Wallet()
    settings = make_settings(tmp_path, redis_url=throwaway_redis.url)
    with serving(settings) as (url, _app), httpx.Client(base_url=url, timeout=30) as client:
        nonce = client.get("/auth/nonce").json()["nonce"]
        captured = wallet.signed_body(nonce)
        assert client.post("/auth/verify", json=captured).status_code == 200
        assert client.post("/auth/verify", json=captured).status_code == 401  # used

        throwaway_redis.kill()
        throwaway_redis.start()  # empty: it forgot that the nonce was used

        replay = client.post("/auth/verify", json=captured)
        assert replay.status_code == 401, replay.text
        assert replay.json()["code"] == "nonce_unknown"
        # A nonce issued from the next second on is good: the wallet signs in again.
        fresh = _nonce_after_the_new_epoch(client)
        signed_in = client.post("/auth/verify", json=wallet.signed_body(fresh))
        assert signed_in.status_code == 200, signed_in.text


def _nonce_after_the_new_epoch(client: httpx.Client) -> str:
    """The replay above started Redis's new epoch at the next whole second; a nonce
    issued within the current one is refused too (it may predate the loss)."""
    import time

    time.sleep(1.05 - time.time() % 1)
    return client.get("/auth/nonce").json()["nonce"]
