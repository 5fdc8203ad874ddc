"""The authorization code flow with PKCE, by Authlib's OAuth client (a client nobody here
wrote), against a real server, with a real wallet signing in."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oidc.core import CodeIDToken
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.oidc.conftest import OTHER_REDIRECT, REDIRECT, SECRET, verifier


def metadata(provider) -> dict:
    return httpx.get(provider.url + "/.well-known/openid-configuration").json()


def wiki(provider, scope="openid wallet_address") -> OAuth2Client:
    return OAuth2Client("wiki", SECRET, scope=scope, redirect_uri=REDIRECT,
                        code_challenge_method="S256")


def start(client: OAuth2Client, provider, code_verifier: str, **params) -> tuple[str, str]:
    return client.create_authorization_url(
        metadata(provider)["authorization_endpoint"], code_verifier=code_verifier, **params)


def id_token_claims(provider, id_token: str, *, client_id: str, nonce: str) -> dict:
    keys = KeySet.import_key_set(httpx.get(provider.url + "/.well-known/jwks.json").json())
    token = jwt.decode(id_token, keys, algorithms=["ES256"])
    claims = CodeIDToken(token.claims, token.header,
                         options={"iss": {"values": [provider.url]}},
                         params={"nonce": nonce, "client_id": client_id})
    claims.validate(now=int(provider.clock().timestamp()))
    return dict(claims)


def test_discovery_is_valid_provider_metadata(provider):
    found = metadata(provider)
    checked = OpenIDProviderMetadata(found)

    # Every rule of Discovery 1.0 but one: ID tokens are ES256 only, as the access tokens
    # (no RSA key is kept), where the text asks every provider to offer RS256 too.
    skipped = "validate_id_token_signing_alg_values_supported"
    for name in dir(checked):
        if name.startswith("validate_") and name != skipped:
            getattr(checked, name)()
    assert found["id_token_signing_alg_values_supported"] == ["ES256"]
    assert found["issuer"] == provider.url
    assert found["subject_types_supported"] == ["pairwise"]
    assert found["backchannel_logout_supported"] is True
    assert found["backchannel_logout_session_supported"] is True
    assert found["code_challenge_methods_supported"] == ["S256"]
    assert "purpose:quality_marketing" in found["scopes_supported"]


def test_authlib_client_signs_a_wallet_in_with_code_and_pkce(provider, person):
    client, code_verifier = wiki(provider), verifier()
    url, state = start(client, provider, code_verifier, nonce="n-0S6_WzA2Mj")

    redirect = person.authorize(url, scopes=("wallet_address",))
    assert redirect.startswith(REDIRECT + "?")
    assert parse_qs(urlsplit(redirect).query)["state"] == [state]
    token = client.fetch_token(metadata(provider)["token_endpoint"],
                               authorization_response=redirect, code_verifier=code_verifier)

    claims = id_token_claims(provider, token["id_token"], client_id="wiki",
                             nonce="n-0S6_WzA2Mj")
    assert claims["sub"] and person.address.lower() not in str(claims).lower()
    info = client.get(metadata(provider)["userinfo_endpoint"]).json()
    assert info["sub"] == claims["sub"]
    assert info["wallet_address"] == f"eip155:1:{person.address}"

    refreshed = client.refresh_token(metadata(provider)["token_endpoint"])
    assert refreshed["access_token"] != token["access_token"]
    assert client.get(metadata(provider)["userinfo_endpoint"]).json()["sub"] == claims["sub"]


def test_the_address_is_given_only_when_ticked(provider, person):
    client, code_verifier = wiki(provider), verifier()
    url, _state = start(client, provider, code_verifier)

    redirect = person.authorize(url)  # nothing ticked
    token = client.fetch_token(metadata(provider)["token_endpoint"],
                               authorization_response=redirect, code_verifier=code_verifier)

    assert token["scope"] == "openid"
    assert "wallet_address" not in client.get(metadata(provider)["userinfo_endpoint"]).json()


def test_the_pairwise_sub_differs_between_two_clients(provider, person):
    subs = []
    for client_id, secret, redirect_uri in (("wiki", SECRET, REDIRECT),
                                             ("spa", None, OTHER_REDIRECT)):
        client = OAuth2Client(client_id, secret, scope="openid", redirect_uri=redirect_uri,
                              code_challenge_method="S256",
                              token_endpoint_auth_method=None if secret else "none")
        code_verifier = verifier()
        url, _ = start(client, provider, code_verifier, nonce="abc")
        token = client.fetch_token(metadata(provider)["token_endpoint"],
                                   authorization_response=person.authorize(url),
                                   code_verifier=code_verifier)
        subs.append(id_token_claims(provider, token["id_token"], client_id=client_id,
                                    nonce="abc")["sub"])
    assert subs[0] != subs[1]


# --- what is refused --------------------------------------------------------------------


def test_an_unknown_client_gets_a_page_and_no_redirect(provider, person):
    answer = person.open(f"{provider.url}/oauth/authorize?response_type=code&client_id=nope"
                         f"&redirect_uri={REDIRECT}&scope=openid&state=s1")

    assert answer.status_code == 400
    assert "location" not in answer.headers
    assert 'data-error="invalid_client"' in answer.text


def test_a_redirect_uri_not_registered_is_never_redirected_to(provider, person):
    client, code_verifier = wiki(provider), verifier()
    url, _ = client.create_authorization_url(
        metadata(provider)["authorization_endpoint"], code_verifier=code_verifier,
        redirect_uri="https://evil.example/cb")

    answer = person.open(url)

    assert answer.status_code == 400 and "location" not in answer.headers
    assert 'data-error="invalid_request"' in answer.text


def test_a_public_client_without_pkce_is_sent_back_with_invalid_request(provider, person):
    client = OAuth2Client("spa", scope="openid", redirect_uri=OTHER_REDIRECT)
    url, state = client.create_authorization_url(metadata(provider)["authorization_endpoint"])

    answer = person.open(url)

    assert answer.status_code == 302
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["error"] == ["invalid_request"] and query["state"] == [state]


def test_a_code_used_twice_is_refused_and_its_tokens_are_revoked(provider, person):
    client, code_verifier = wiki(provider), verifier()
    url, _ = start(client, provider, code_verifier)
    redirect = person.authorize(url)
    endpoint = metadata(provider)["token_endpoint"]
    client.fetch_token(endpoint, authorization_response=redirect, code_verifier=code_verifier)
    assert client.get(metadata(provider)["userinfo_endpoint"]).status_code == 200

    with pytest.raises(OAuthError) as refused:
        wiki(provider).fetch_token(endpoint, authorization_response=redirect,
                                   code_verifier=code_verifier)

    assert refused.value.error == "invalid_grant"
    userinfo = client.get(metadata(provider)["userinfo_endpoint"])
    assert userinfo.status_code == 401
    assert 'error="invalid_token"' in userinfo.headers["www-authenticate"]


def test_a_pkce_mismatch_is_invalid_grant(provider, person):
    client, code_verifier = wiki(provider), verifier()
    url, _ = start(client, provider, code_verifier)
    redirect = person.authorize(url)

    with pytest.raises(OAuthError) as refused:
        client.fetch_token(metadata(provider)["token_endpoint"],
                           authorization_response=redirect, code_verifier=verifier())

    assert refused.value.error == "invalid_grant"


def test_an_expired_code_is_invalid_grant(provider, person):
    client, code_verifier = wiki(provider), verifier()
    url, _ = start(client, provider, code_verifier)
    redirect = person.authorize(url)
    provider.clock.advance(timedelta(seconds=121))

    with pytest.raises(OAuthError) as refused:
        client.fetch_token(metadata(provider)["token_endpoint"],
                           authorization_response=redirect, code_verifier=code_verifier)

    assert refused.value.error == "invalid_grant"


def test_denying_sends_access_denied_with_the_state(provider, person):
    client, code_verifier = wiki(provider), verifier()
    url, state = start(client, provider, code_verifier)
    consent = person.sign_in(person.open(url))

    answer = person.decide(consent, allow=False)

    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert answer.status_code == 302 and "code" not in query
    assert query["error"] == ["access_denied"] and query["state"] == [state]


def test_a_refresh_token_used_twice_ends_the_grant(provider, person):
    client, code_verifier = wiki(provider), verifier()
    url, _ = start(client, provider, code_verifier)
    endpoint = metadata(provider)["token_endpoint"]
    redirect = person.authorize(url, scopes=("wallet_address",))
    first = client.fetch_token(endpoint, authorization_response=redirect,
                               code_verifier=code_verifier)
    client.refresh_token(endpoint)

    with pytest.raises(OAuthError) as refused:
        wiki(provider).refresh_token(endpoint, refresh_token=first["refresh_token"])

    assert refused.value.error == "invalid_grant"
    assert client.get(metadata(provider)["userinfo_endpoint"]).status_code == 401


def test_a_token_of_an_erased_subject_stops_working(provider, person):
    from tests.server.conftest import Wallet

    client, code_verifier = wiki(provider), verifier()
    url, _ = start(client, provider, code_verifier)
    token = client.fetch_token(metadata(provider)["token_endpoint"],
                               authorization_response=person.authorize(url, ("wallet_address",)),
                               code_verifier=code_verifier)
    domain = provider.url.removeprefix("http://")
    wallet = Wallet()
    wallet.account, wallet.address = person.account, person.address
    http = person.http
    # Dated by the server's clock, which the tests hold still while real time runs on.
    fields = {"domain": domain, "uri": provider.url + "/login", "issued_at": provider.clock()}
    body = wallet.signed_body(http.get("/auth/nonce").json()["nonce"], **fields)
    bearer = {"Authorization": "Bearer " + http.post("/auth/verify", json=body).json()[
        "access_token"]}
    proof = wallet.signed_body(http.get("/auth/nonce").json()["nonce"],
                               resources=["urn:walletauth:request:erase"], **fields)
    assert http.post("/me/erase", headers=bearer, json=proof).status_code == 200

    assert client.get(metadata(provider)["userinfo_endpoint"]).status_code == 401
    with pytest.raises(OAuthError) as refused:
        client.refresh_token(metadata(provider)["token_endpoint"],
                             refresh_token=token["refresh_token"])
    assert refused.value.error == "invalid_grant"
