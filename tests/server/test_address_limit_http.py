"""An address out of failed verifies is refused before any signature work, on both
rate-limit backends (each worker's memory, and Redis shared by every worker)."""

from datetime import timedelta

import httpx
import pytest

import walletauth.server.login as login_module
from tests.server.conftest import Wallet, make_settings, serving, sign_in

FAILED_LIMIT = 2


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def limited_settings(request, tmp_path):
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    return make_settings(
        tmp_path, rate_limits=f"nonce=100,verify=100,failed={FAILED_LIMIT}", redis_url=redis_url
    )


@pytest.fixture
def signature_checks(monkeypatch):
    """Every message whose signature the service checks."""
    checked: list[str] = []
    verify = login_module.averify_expected

    async def counting(message, signature, expected, **call):
        checked.append(message)
        return await verify(message, signature, expected, **call)

    monkeypatch.setattr(login_module, "averify_expected", counting)
    return checked


def fail_verify(client, wallet):
    nonce = client.get("/auth/nonce").json()["nonce"]
    bad = {"message": wallet.message(nonce), "signature": "0x" + "11" * 65}
    return client.post("/auth/verify", json=bad)


def test_a_valid_sign_in_waits_once_the_address_used_up_its_failed_verifies(
    limited_settings, clock, wallet, signature_checks
):
    with serving(limited_settings, clock) as (url, _app), httpx.Client(base_url=url) as client:
        failures = [fail_verify(client, wallet).json()["code"] for _ in range(FAILED_LIMIT)]
        nonce = client.get("/auth/nonce").json()["nonce"]
        valid = wallet.signed_body(nonce)
        checked_before = len(signature_checks)

        refused = client.post("/auth/verify", json=valid)

        assert failures == ["invalid_signature"] * FAILED_LIMIT
        assert refused.status_code == 429
        assert refused.json()["code"] == "rate_limited"
        # A sliding window: the failures fade out by the end of the next window at most.
        wait = int(refused.headers["retry-after"])
        assert 1 <= wait <= 120
        assert len(signature_checks) == checked_before  # refused before the signature work
        # The refusal used no nonce: the same signed message signs in once Retry-After passed.
        clock.advance(timedelta(seconds=wait))
        assert client.post("/auth/verify", json=valid).status_code == 200


def test_another_address_is_not_held_back_by_one_out_of_failed_verifies(
    limited_settings, wallet
):
    with serving(limited_settings) as (url, _app), httpx.Client(base_url=url) as client:
        for _ in range(FAILED_LIMIT):
            fail_verify(client, wallet)
        assert sign_in(client, wallet).status_code == 429
        assert sign_in(client, Wallet()).status_code == 200

