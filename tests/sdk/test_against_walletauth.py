"""The SDK's session checks against a real walletauth server on loopback: its JWKS, its
tokens, a key rotated with ``walletauth keys rotate``, and sessions ended by sign-out or
erasure (revocation published at ``POST /services/v1/sessions/status``)."""

from __future__ import annotations

import time
from contextlib import contextmanager

import httpx
import jwt
import pytest
from typer.testing import CliRunner

from tests.rights.helpers import signed_request
from tests.sdk.conftest import refused
from tests.server.conftest import Wallet, free_socket, make_settings, serving, sign_in
from walletauth.cli import app as cli
from walletauth.sdk import AsyncClient, AsyncSessionVerifier, Client, SessionVerifier
from walletauth.server.config.services import hash_api_key, new_api_key

MUSIC_KEY = new_api_key()


@contextmanager
def walletauth_serving(directory, redis_url=None):
    """walletauth with the music service registered: (url, http client, settings)."""
    settings = make_settings(directory, redis_url=redis_url, services={
        "music": {"api_key_sha256": hash_api_key(MUSIC_KEY), "purposes": ["service_provision"]}})
    with serving(settings) as (url, _app), httpx.Client(base_url=url, timeout=30) as http:
        yield url, http, settings


@pytest.fixture(params=["sql", pytest.param("redis", marks=pytest.mark.redis)])
def walletauth(request, tmp_path):
    """Sessions in the database or in Redis: revocation must read both alike."""
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    with walletauth_serving(tmp_path, redis_url) as served:
        yield served


@pytest.fixture(scope="module")
def shared_walletauth(tmp_path_factory):
    """One server for the tests that only ask questions of it."""
    with walletauth_serving(tmp_path_factory.mktemp("walletauth")) as served:
        yield served


def verifier_for(walletauth, **options) -> SessionVerifier:
    url, _http, settings = walletauth
    return SessionVerifier(f"{url}/.well-known/jwks.json", issuer=settings.issuer,
                           audience=settings.token_audience, **options)


def token_of(http, wallet) -> str:
    """A new session's access token, as a device holds it (its cookie is not kept, so
    each sign-in here is another device and requests name their session by token)."""
    response = sign_in(http, wallet)
    assert response.status_code == 200, response.text
    http.cookies.clear()
    return response.json()["access_token"]


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def published_kids(http) -> list[str]:
    return [key["kid"] for key in http.get("/.well-known/jwks.json").json()["keys"]]


def test_a_walletauth_token_verifies_offline_to_its_wallet_and_session(walletauth):
    _url, http, _settings = walletauth
    wallet = Wallet()
    token = token_of(http, wallet)

    with verifier_for(walletauth) as verifier:
        session = verifier.verify(token)

    claims = jwt.decode(token, options={"verify_signature": False})
    assert (session.address, session.chain_id) == (wallet.address, 1)
    assert (session.session_id, session.token_id) == (claims["sid"], claims["jti"])
    assert session.expires_at.timestamp() == claims["exp"]


def test_a_key_rotated_with_the_cli_costs_one_refetch_and_old_tokens_keep_verifying(
    walletauth, monkeypatch
):
    _url, http, settings = walletauth
    wallet = Wallet()
    fetches: list[httpx.URL] = []
    counting = httpx.Client(event_hooks={"request": [lambda request: fetches.append(request.url)]})
    verifier = verifier_for(walletauth, http_client=counting)
    old_token = token_of(http, wallet)
    assert verifier.verify(old_token).address == wallet.address

    monkeypatch.setenv("WALLETAUTH_DATA_DIR", str(settings.data_dir))
    rotated = CliRunner().invoke(cli, ["keys", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    new_kid = rotated.output.split()[-1]
    # The serving process notices the rotation by the key file's mtime (within a second).
    give_up = time.monotonic() + 5
    while new_kid not in published_kids(http):
        assert time.monotonic() < give_up, "walletauth did not pick up the rotated key"
        time.sleep(0.05)
    new_token = token_of(http, wallet)

    assert kid_of(new_token) == new_kid != kid_of(old_token)
    assert published_kids(http) == [new_kid, kid_of(old_token)]
    assert verifier.verify(new_token).address == wallet.address
    assert verifier.verify(old_token).address == wallet.address
    assert len(fetches) == 2  # the first fill, and one refetch for the new kid
    with verifier_for(walletauth) as cold:  # a service started after the rotation
        assert cold.verify(old_token).session_id == verifier.verify(old_token).session_id
    counting.close()


def test_a_signed_out_session_is_refused_by_the_service_and_another_one_is_not(walletauth):
    url, http, _settings = walletauth
    wallet = Wallet()
    on_phone, on_laptop = token_of(http, wallet), token_of(http, wallet)

    with Client(url, MUSIC_KEY) as walletauth_api, \
            verifier_for(walletauth, revocation_check=walletauth_api.session_revoked) as verifier:
        assert verifier.verify(on_phone).address == wallet.address
        signed_out = http.post("/auth/logout", headers={"Authorization": f"Bearer {on_phone}"})
        assert signed_out.status_code == 204, signed_out.text

        with refused("token_revoked"):
            verifier.verify(on_phone)
        assert verifier.verify(on_laptop).address == wallet.address


def test_an_erased_wallets_sessions_are_all_refused_by_the_service(walletauth):
    url, http, _settings = walletauth
    wallet, bystander = Wallet(), Wallet()
    tokens = [token_of(http, wallet), token_of(http, wallet)]
    other = token_of(http, bystander)

    erased = http.post("/me/erase", json=signed_request(http, wallet, "erase"),
                       headers={"Authorization": f"Bearer {tokens[0]}"})
    assert erased.status_code == 200, erased.text

    with Client(url, MUSIC_KEY) as walletauth_api, \
            verifier_for(walletauth, revocation_check=walletauth_api.session_revoked) as verifier:
        for token in tokens:
            with refused("token_revoked"):
                verifier.verify(token)
        assert verifier.verify(other).address == bystander.address


async def test_the_async_verifier_asks_the_async_client(walletauth):
    url, http, settings = walletauth
    wallet = Wallet()
    token = token_of(http, wallet)

    async with AsyncClient(url, MUSIC_KEY) as walletauth_api, AsyncSessionVerifier(
        f"{url}/.well-known/jwks.json", issuer=settings.issuer,
        audience=settings.token_audience, revocation_check=walletauth_api.session_revoked,
    ) as verifier:
        before = await verifier.verify(token)
        assert http.post("/auth/logout",
                         headers={"Authorization": f"Bearer {token}"}).status_code == 204
        with refused("token_revoked"):
            await verifier.verify(token)

    assert before.address == wallet.address


def test_when_walletauth_cannot_be_asked_the_token_is_refused_not_trusted(shared_walletauth):
    _url, http, _settings = shared_walletauth
    token = token_of(http, Wallet())
    closed = free_socket()
    host, port = closed.getsockname()
    closed.close()  # nothing listens there: connections are refused

    with Client(f"http://{host}:{port}", MUSIC_KEY, retries=0) as unreachable, \
            verifier_for(shared_walletauth,
                         revocation_check=unreachable.session_revoked) as verifier, \
            refused("revocation_unavailable"):
        verifier.verify(token)


def test_the_session_status_answers_registered_services_only(shared_walletauth):
    _url, http, _settings = shared_walletauth
    token = token_of(http, Wallet())
    sid = jwt.decode(token, options={"verify_signature": False})["sid"]
    music = {"Authorization": f"Bearer {MUSIC_KEY}"}

    anonymous = http.post("/services/v1/sessions/status", json={"session_id": sid})
    stranger = http.post("/services/v1/sessions/status", json={"session_id": sid},
                         headers={"Authorization": f"Bearer {new_api_key()}"})
    live = http.post("/services/v1/sessions/status", json={"session_id": sid}, headers=music)
    unknown = http.post("/services/v1/sessions/status", json={"session_id": "x" * 43},
                        headers=music)

    assert anonymous.status_code == stranger.status_code == 401
    assert anonymous.json()["code"] == stranger.json()["code"] == "service_unauthorized"
    assert (live.status_code, live.json()) == (200, {"active": True})
    assert (unknown.status_code, unknown.json()) == (200, {"active": False})


@pytest.mark.parametrize("body", [{}, {"session_id": ""}, {"session_id": "x" * 129},
                                  {"session_id": 7}, {"session_id": "x", "address": "0x0"}])
def test_a_bad_session_status_query_gets_a_stable_code(shared_walletauth, body):
    _url, http, _settings = shared_walletauth
    answer = http.post("/services/v1/sessions/status", json=body,
                       headers={"Authorization": f"Bearer {MUSIC_KEY}"})
    assert (answer.status_code, answer.json()["code"]) == (422, "invalid_request")
