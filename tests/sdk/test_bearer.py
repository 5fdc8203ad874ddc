"""Finding the token in a request, for frameworks other than FastAPI."""

from __future__ import annotations

import pytest

from tests.sdk.conftest import ADDRESS, AUDIENCE, ISSUER, refused
from walletauth.sdk import SessionVerifier, bearer_token, session_from_authorization_header


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc.def.ghi", "abc.def.ghi"), ("bearer  abc", "abc"), ("BEARER abc ", "abc")],
)
def test_the_bearer_scheme_is_case_insensitive(header, token):
    assert bearer_token(header) == token


@pytest.mark.parametrize("header", [None, "", "   "])
def test_no_header_is_token_missing(header):
    with refused("token_missing"):
        bearer_token(header)


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "Token abc"])
def test_a_header_that_is_not_one_bearer_token_is_token_invalid(header):
    with refused("token_invalid"):
        bearer_token(header)


def test_the_header_wins_over_the_cookie():
    assert bearer_token("Bearer from-header", cookie="from-cookie") == "from-header"
    assert bearer_token(None, cookie="from-cookie") == "from-cookie"


def test_session_from_authorization_header(jwks_server, signing_key, clock):
    with SessionVerifier(jwks_server.url, issuer=ISSUER, audience=AUDIENCE, clock=clock) as v:
        session = session_from_authorization_header(v, f"Bearer {signing_key.issue()}")
        assert session.address == ADDRESS
        with refused("token_missing"):
            session_from_authorization_header(v, None)
        with refused("token_expired"):
            session_from_authorization_header(v, "Bearer " + signing_key.issue(exp=1))
