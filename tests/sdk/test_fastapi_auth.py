"""require_wallet on a small FastAPI app, driven through httpx's ASGI transport.

No ``from __future__ import annotations`` here: FastAPI must see the endpoint's
annotations as objects, and the dependency is local to ``_app``.
"""

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI

from tests.sdk.conftest import ADDRESS, AUDIENCE, ISSUER, START
from walletauth.sdk import (
    AsyncSessionVerifier,
    SessionVerifier,
    WalletSession,
    install_problem_responses,
    require_wallet,
)


def _app(verifier, *, problems: bool = True, cookie_name: str | None = None) -> FastAPI:
    app = FastAPI()
    if problems:
        install_problem_responses(app)
    wallet = require_wallet(verifier, cookie_name=cookie_name)

    @app.get("/me")
    async def me(session: Annotated[WalletSession, Depends(wallet)]) -> dict[str, object]:
        return {"address": session.address, "chain_id": session.chain_id}

    return app


@pytest.fixture(params=["async", "sync"])
async def verifier(request, jwks_server, clock) -> AsyncIterator[object]:
    if request.param == "async":
        async with AsyncSessionVerifier(
            jwks_server.url, issuer=ISSUER, audience=AUDIENCE, clock=clock
        ) as verifier:
            yield verifier
    else:
        with SessionVerifier(
            jwks_server.url, issuer=ISSUER, audience=AUDIENCE, clock=clock
        ) as verifier:
            yield verifier


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service")


async def test_a_valid_bearer_token_reaches_the_endpoint(verifier, signing_key):
    async with _client(_app(verifier)) as client:
        response = await client.get(
            "/me", headers={"Authorization": f"Bearer {signing_key.issue(chain_id=5)}"}
        )
    assert response.status_code == 200
    assert response.json() == {"address": ADDRESS, "chain_id": 5}


async def test_no_token_is_a_401_problem_with_a_bare_challenge(verifier):
    async with _client(_app(verifier)) as client:
        response = await client.get("/me")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    problem = response.json()
    assert problem["code"] == "token_missing"
    assert problem["status"] == 401
    assert problem["title"] == "Unauthorized"
    assert problem["detail"]


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"exp": int(START) - 60}, "token_expired"),
        ({"aud": "payments"}, "token_audience_mismatch"),
        ({"iss": "http://evil.example"}, "token_issuer_mismatch"),
    ],
)
async def test_a_refused_token_is_a_401_problem_with_its_code(verifier, signing_key, claims, code):
    async with _client(_app(verifier)) as client:
        response = await client.get(
            "/me", headers={"Authorization": f"Bearer {signing_key.issue(**claims)}"}
        )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert response.headers["www-authenticate"] == (
        f'Bearer error="invalid_token", error_description="{code}"'
    )


async def test_an_issuer_outage_is_a_503_problem(verifier, signing_key, jwks_server):
    jwks_server.stop()
    async with _client(_app(verifier)) as client:
        response = await client.get(
            "/me", headers={"Authorization": f"Bearer {signing_key.issue()}"}
        )
    assert response.status_code == 503
    assert response.json()["code"] == "jwks_unavailable"


async def test_the_token_may_come_from_a_configured_cookie(verifier, signing_key):
    app = _app(verifier, cookie_name="wa_session")
    async with _client(app) as client:
        client.cookies.set("wa_session", signing_key.issue())
        response = await client.get("/me")
    assert response.status_code == 200
    assert response.json()["address"] == ADDRESS


async def test_without_the_problem_handler_a_refusal_is_still_a_401(verifier):
    async with _client(_app(verifier, problems=False)) as client:
        response = await client.get("/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["detail"]["code"] == "token_missing"
