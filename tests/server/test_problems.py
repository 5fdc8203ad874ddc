"""One mapping from every layer's error codes to HTTP status."""

import json
import typing

import httpx
import pytest
from fastapi import FastAPI

from walletauth.console.errors import CONSOLE_ERROR_CODES
from walletauth.oidc.errors import OIDC_ERROR_CODES, OidcError
from walletauth.policy.errors import PolicyError, PolicyErrorCode
from walletauth.rights.errors import RIGHTS_ERROR_CODES, RightsError
from walletauth.server.web.errors import ServerError, ServerErrorCode
from walletauth.server.web.handlers import install_exception_handlers
from walletauth.server.web.problems import STATUS_BY_CODE, error_response
from walletauth.siwe.errors import SIWE_ERROR_CODES, SiweError
from walletauth.store.errors import STORE_ERROR_CODES, StoreError

EVERY_CODE = (
    set(SIWE_ERROR_CODES)
    | set(STORE_ERROR_CODES)
    | set(typing.get_args(PolicyErrorCode))
    | set(typing.get_args(ServerErrorCode))
    | set(RIGHTS_ERROR_CODES)
    | set(CONSOLE_ERROR_CODES)
    | set(OIDC_ERROR_CODES)
)


@pytest.mark.parametrize("code", sorted(EVERY_CODE))
def test_every_layer_code_has_an_http_status(code):
    assert code in STATUS_BY_CODE
    assert 400 <= STATUS_BY_CODE[code].status <= 599


def test_client_mistakes_are_4xx_and_outages_5xx():
    assert STATUS_BY_CODE["invalid_signature"].status == 401
    assert STATUS_BY_CODE["nonce_unknown"].status == 401
    assert STATUS_BY_CODE["malformed_message"].status == 400
    assert STATUS_BY_CODE["domain_mismatch"].status == 403
    assert STATUS_BY_CODE["chain_not_allowed"].status == 403
    assert STATUS_BY_CODE["rate_limited"].status == 429
    assert STATUS_BY_CODE["rpc_unavailable"].status == 503


def test_a_problem_response_is_rfc_9457_with_the_stable_code():
    response = error_response(ServerError("rate_limited", "slow down", retry_after=17))
    assert response.status_code == 429
    assert response.media_type == "application/problem+json"
    assert response.headers["retry-after"] == "17"
    assert json.loads(response.body) == {
        "type": "urn:walletauth:problem:rate_limited",
        "title": "Too many requests",
        "status": 429,
        "detail": "slow down",
        "code": "rate_limited",
    }


def test_unauthenticated_answers_name_the_bearer_scheme():
    response = error_response(ServerError("invalid_token", "expired"))
    assert response.headers["www-authenticate"].startswith("Bearer")


# The only codes answered 500: a bug or a broken deployment (configuration, secrets, key
# store), which nothing a request sends can cause. Everything else is the request's (4xx)
# or a dependency that does not answer (503).
DEPLOYMENT_FAULTS = frozenset({
    "naive_datetime", "invalid_policy", "policy_not_found", "invalid_hash_key",
    "unsupported_database", "insecure_secrets", "secrets_unreadable", "unknown_key_version",
    "subject_key_missing", "internal_error",
})
UNAVAILABLE = frozenset({"rpc_unavailable", "service_unavailable", "database_unavailable"})
OUT_OF_STORAGE = frozenset({"storage_full"})
RAISED = (
    [(StoreError, code) for code in sorted(STORE_ERROR_CODES)]
    + [(PolicyError, code) for code in sorted(typing.get_args(PolicyErrorCode))]
    + [(RightsError, code) for code in sorted(RIGHTS_ERROR_CODES)]
    + [(SiweError, code) for code in sorted(SIWE_ERROR_CODES)]
    + [(ServerError, code) for code in sorted(typing.get_args(ServerErrorCode))]
    + [(OidcError, code) for code in sorted(OIDC_ERROR_CODES)]
)


@pytest.fixture(scope="module")
def raising_app():
    """An app with walletauth's exception handlers whose one route raises what it is told."""
    app = FastAPI()
    install_exception_handlers(app)
    errors = {(kind.__name__, code): kind for kind, code in RAISED}

    @app.post("/raise/{layer}/{code}")
    async def raise_it(layer: str, code: str) -> None:
        raise errors[layer, code](code, f"raised {code}")

    return app


@pytest.mark.parametrize("kind, code", RAISED, ids=[f"{k.__name__}:{c}" for k, c in RAISED])
async def test_every_layer_code_through_the_http_layer_is_4xx_unless_the_server_is_at_fault(
    raising_app, kind, code
):
    transport = httpx.ASGITransport(raising_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://walletauth") as client:
        answer = await client.post(f"/raise/{kind.__name__}/{code}")

    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == code
    if code in UNAVAILABLE | OUT_OF_STORAGE:
        assert answer.status_code == (507 if code in OUT_OF_STORAGE else 503)
        assert answer.headers["retry-after"]
    elif code in DEPLOYMENT_FAULTS:
        assert answer.status_code == 500
    else:
        assert 400 <= answer.status_code < 500, f"{code} answered {answer.status_code}"
