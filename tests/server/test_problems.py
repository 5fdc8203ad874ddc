"""One mapping from every layer's error codes to HTTP status."""

import json
import typing

import pytest

from walletauth.policy.errors import PolicyErrorCode
from walletauth.server.errors import ServerError, ServerErrorCode
from walletauth.server.problems import STATUS_BY_CODE, error_response
from walletauth.siwe.errors import SIWE_ERROR_CODES
from walletauth.store.errors import STORE_ERROR_CODES

EVERY_CODE = (
    set(SIWE_ERROR_CODES)
    | set(STORE_ERROR_CODES)
    | set(typing.get_args(PolicyErrorCode))
    | set(typing.get_args(ServerErrorCode))
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
