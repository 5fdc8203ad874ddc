"""The authorization code flow with PKCE, by Authlib's OAuth client (a client nobody here
wrote), against a real server, with a real wallet signing in."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from authlib.integrations.starlette_client import OAuth
from authlib.oidc.core import CodeIDToken
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jws, jwt
from joserfc.jwk import KeySet

from tests.oidc.conftest import OTHER_REDIRECT, REDIRECT, SECRET, serving, verifier
from walletauth.sdk.jwks import parse_jwks


def metadata(provider) -> dict:
    return httpx.get(provider.url + "/.well-known/openid-configuration").json()


def wiki(provider, scope="openid wallet_address") -> OAuth2Client:
    return OAuth2Client("wiki", SECRET, scope=scope, redirect_uri=REDIRECT,
                        code_challenge_method="S256")


def start(client: OAuth2Client, provider, code_verifier: str, **params) -> tuple[str, str]:
    return client.create_authorization_url(
        metadata(provider)["authorization_endpoint"], code_verifier=code_verifier, **params)


def jwks(provider) -> dict:
    return httpx.get(provider.url + "/.well-known/jwks.json").json()


def id_token_claims(provider, id_token: str, *, client_id: str, nonce: str) -> dict:
    token = jwt.decode(id_token, KeySet.import_key_set(jwks(provider)),
                       algorithms=["RS256", "ES256"])
    claims = CodeIDToken(token.claims, token.header,
                         options={"iss": {"values": [provider.url]}},
                         params={"nonce": nonce, "client_id": client_id})
    claims.validate(now=int(provider.clock().timestamp()))
    return dict(claims)


def test_discovery_is_valid_provider_metadata(provider):
    found = metadata(provider)
    checked = OpenIDProviderMetadata(found)

    # Every rule of Discovery 1.0, RS256 among the ID token algorithms included.
    rules = [name for name in dir(checked) if name.startswith("validate_")]
    assert "validate_id_token_signing_alg_values_supported" in rules
    for name in rules:
        getattr(checked, name)()
    assert found["id_token_signing_alg_values_supported"] == ["RS256", "ES256"]
    assert found["issuer"] == provider.url
    assert found["subject_types_supported"] == ["pairwise"]
    assert found["backchannel_logout_supported"] is True
    assert found["backchannel_logout_session_supported"] is True
    assert found["code_challenge_methods_supported"] == ["S256"]
    assert "purpose:quality_marketing" in found["scopes_supported"]


def test_the_jwks_publishes_an_es256_and_an_rs256_key_with_distinct_kids(tmp_path, clock):
    with serving(tmp_path, clock, fresh_keys=True) as provider:  # keys made at start
        published = jwks(provider)["keys"]
        sdk_keys = parse_jwks(jwks(provider))

    by_alg = {entry["alg"]: entry for entry in published}
    assert sorted(by_alg) == ["ES256", "RS256"] and len(published) == 2
    assert by_alg["ES256"]["kid"] != by_alg["RS256"]["kid"]
    assert all(entry["use"] == "sig" and "d" not in entry for entry in published)
    rsa_key = KeySet.import_key_set({"keys": [by_alg["RS256"]]}).keys[0]
    assert rsa_key.public_key.key_size == 2048
    assert rsa_key.thumbprint() == by_alg["RS256"]["kid"]  # RFC 7638, by joserfc
    # The SDK verifies walletauth's access tokens (ES256) and passes the RSA key by.
    assert list(sdk_keys) == [by_alg["ES256"]["kid"]]


@pytest.mark.parametrize(("client_id", "algorithm"), [("wiki", "RS256"), ("board", "ES256")])
async def test_authlib_verifies_the_id_token_signed_as_the_client_is_registered(
    provider, person, client_id, algorithm
):
    oauth = OAuth()
    app = oauth.register(
        client_id, client_id=client_id, client_secret=SECRET,
        server_metadata_url=provider.url + "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid wallet_address", "code_challenge_method": "S256"},
    )
    started = await app.create_authorization_url(REDIRECT)
    redirect = person.authorize(started["url"], scopes=("wallet_address",))
    code = parse_qs(urlsplit(redirect).query)["code"][0]
    token = await app.fetch_access_token(redirect_uri=REDIRECT, code=code,
                                         code_verifier=started["code_verifier"])

    # Authlib's own check: signature against the JWKS, iss, aud, nonce, exp, at_hash.
    claims = await app.parse_id_token(token, nonce=started["nonce"])
    header = jws.extract_compact(token["id_token"].encode()).headers()
    ring = (provider.runtime.id_token_keyring if algorithm == "RS256"
            else provider.runtime.keyring)
    assert header == {"alg": algorithm, "kid": ring.signing_key().kid, "typ": "JWT"}
    assert claims["aud"] == client_id and claims["at_hash"]
    info = await app.userinfo(token=token)
    assert info["sub"] == claims["sub"]
    assert info["wallet_address"] == f"eip155:1:{person.address}"


def test_an_rs256_key_rotation_signs_with_the_new_key_and_keeps_the_old_one(provider, person):
    old_kid = provider.runtime.id_token_keyring.signing_key().kid
    new_kid = provider.runtime.id_token_keyring.rotate(provider.clock()).kid
    client, code_verifier = wiki(provider), verifier()
    url, _ = start(client, provider, code_verifier, nonce="n1")

    token = client.fetch_token(metadata(provider)["token_endpoint"],
                               authorization_response=person.authorize(url),
                               code_verifier=code_verifier)

    assert jws.extract_compact(token["id_token"].encode()).headers()["kid"] == new_kid
    assert id_token_claims(provider, token["id_token"], client_id="wiki", nonce="n1")
    published = [entry["kid"] for entry in jwks(provider)["keys"] if entry["alg"] == "RS256"]
    assert published == [new_kid, old_kid]


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
