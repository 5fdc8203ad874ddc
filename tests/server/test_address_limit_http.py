"""Failed verifies and the owner (issue #15, item 1): no request a stranger can make for
free holds back the owner's valid signature. Failures count only once a message names our
domain and a live nonce of ours, per address and client network, and only ever hold back
the work a failure costs (a contract wallet's check on chain) for that network; a
plain-key signature is checked first and is final. On both rate-limit backends (each
worker's memory, and Redis shared by every worker) and both databases."""

from datetime import timedelta

import httpx
import pytest

import walletauth.server.signin.login as login_module
from tests.server.conftest import Wallet, make_settings, serving
from walletauth.rights import request_urn

FAILED_LIMIT = 2
ATTACKERS = [f"203.0.113.{host}" for host in range(1, 51)]  # 50 addresses of one network
OWNER_ELSEWHERE = "198.51.100.9"
OWNER_IN_THEIR_NETWORK = "203.0.113.200"


@pytest.fixture(
    params=[
        ("memory", "sqlite"),
        pytest.param(("redis", "sqlite"), marks=pytest.mark.redis),
        pytest.param(("memory", "postgres"), marks=pytest.mark.postgres),
        pytest.param(("redis", "postgres"), marks=pytest.mark.postgres),
    ],
    ids=lambda param: "-".join(param),
)
def limited_settings(request, tmp_path):
    limits, database = request.param
    redis_url = request.getfixturevalue("redis_url") if limits == "redis" else None
    database_url = request.getfixturevalue("postgres_url") if database == "postgres" else None
    return make_settings(
        tmp_path,
        rate_limits=f"nonce=1000,verify=1000,failed={FAILED_LIMIT}",
        redis_url=redis_url,
        database_url=database_url,
        trusted_proxies="127.0.0.1/32",  # the tests name each request's client by its header
    )


@pytest.fixture
def contract_checks(monkeypatch):
    """The messages whose signature went on to a contract wallet's check."""
    checked: list[object] = []
    check = login_module.acontract_login

    async def counting(signed, eoa_failure, **call):
        checked.append(signed.message)
        return await check(signed, eoa_failure, **call)

    monkeypatch.setattr(login_module, "acontract_login", counting)
    return checked


def from_ip(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


def nonce_for(client: httpx.Client, ip: str) -> str:
    return client.get("/auth/nonce", headers=from_ip(ip)).json()["nonce"]


def junk(client: httpx.Client, victim: Wallet, ip: str, nonce: str | None = None) -> str:
    """A message naming the victim, signed by nobody, from ``ip``: its answer's code."""
    body = {"message": victim.message(nonce or "junk0000nonce"), "signature": "0x" + "11" * 65}
    return client.post("/auth/verify", json=body, headers=from_ip(ip)).json()["code"]


def sign_in_from(client: httpx.Client, wallet: Wallet, ip: str, **fields) -> httpx.Response:
    body = wallet.signed_body(nonce_for(client, ip), **fields)
    return client.post("/auth/verify", json=body, headers=from_ip(ip))


def test_junk_from_fifty_addresses_of_a_network_never_holds_the_owner_back(
    limited_settings, wallet, contract_checks
):
    with serving(limited_settings) as (url, _app), httpx.Client(base_url=url) as client:
        # Free junk (a nonce never issued, another domain's message) from every address.
        free = {junk(client, wallet, ip) for ip in ATTACKERS}
        for ip in ATTACKERS:
            other_domain = wallet.message(nonce_for(client, ip), domain="evil.example")
            answer = client.post(
                "/auth/verify", json={"message": other_domain, "signature": "0x" + "11" * 65},
                headers=from_ip(ip),
            )
            free.add(answer.json()["code"])
        # Junk that costs a live nonce of ours, from every address.
        paid = [junk(client, wallet, ip, nonce_for(client, ip)) for ip in ATTACKERS]

        owner_elsewhere = sign_in_from(client, wallet, OWNER_ELSEWHERE)
        owner_in_their_network = sign_in_from(client, wallet, OWNER_IN_THEIR_NETWORK)
        token = owner_elsewhere.json()["access_token"]
        proof = wallet.signed_body(
            nonce_for(client, OWNER_ELSEWHERE), resources=[request_urn("export")]
        )
        export = client.post(
            "/me/export", json=proof,
            headers={**from_ip(OWNER_ELSEWHERE), "Authorization": f"Bearer {token}"},
        )

    assert free == {"nonce_unknown", "domain_mismatch"}  # never rate_limited: counted nowhere
    # The network's failures hold back only its own further junk, before any chain work.
    assert paid == ["invalid_signature"] * FAILED_LIMIT + ["rate_limited"] * (
        len(ATTACKERS) - FAILED_LIMIT
    )
    assert len(contract_checks) == FAILED_LIMIT
    assert owner_elsewhere.status_code == 200
    assert owner_in_their_network.status_code == 200  # a plain key's signature is final
    assert export.status_code == 200, export.text


def test_a_network_out_of_failures_waits_for_the_window_and_only_it(
    limited_settings, clock, wallet, contract_checks
):
    with serving(limited_settings, clock) as (url, _app), httpx.Client(base_url=url) as client:
        attacker = ATTACKERS[0]
        failures = [
            junk(client, wallet, attacker, nonce_for(client, attacker))
            for _ in range(FAILED_LIMIT)
        ]
        nonce = nonce_for(client, attacker)
        checked_before = len(contract_checks)
        refused = client.post(
            "/auth/verify", json={"message": wallet.message(nonce), "signature": "0x" + "22" * 65},
            headers=from_ip(attacker),
        )
        checked_by_the_refused = len(contract_checks) - checked_before
        from_another_network = junk(client, wallet, OWNER_ELSEWHERE, nonce_for(client, attacker))
        another_address = junk(client, Wallet(), attacker, nonce_for(client, attacker))
        # A sliding window: the failures fade out by the end of the next window at most.
        clock.advance(timedelta(seconds=int(refused.headers["retry-after"])))
        after_the_window = junk(client, wallet, attacker, nonce)

    assert failures == ["invalid_signature"] * FAILED_LIMIT
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 120
    assert checked_by_the_refused == 0  # refused before any chain work
    assert from_another_network == "invalid_signature"
    assert another_address == "invalid_signature"
    assert after_the_window == "invalid_signature"  # its nonce was left usable
