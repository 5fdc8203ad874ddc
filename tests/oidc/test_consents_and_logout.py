"""Purposes as scopes (granted on the consent screen, recorded as the user's consents,
withdrawn at /me/consents), RP-initiated logout, and requests that are refused without
a 500 whatever they send."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.oidc.conftest import REDIRECT, SECRET, verifier
from tests.server.conftest import Wallet

PURPOSE = "quality_marketing"


def wiki(scope: str, client_id: str = "wiki") -> OAuth2Client:
    return OAuth2Client(client_id, SECRET, scope=scope, redirect_uri=REDIRECT,
                        code_challenge_method="S256")


def signed_in(provider, person, scope: str, ticked: tuple[str, ...], client_id: str = "wiki"):
    client, code_verifier = wiki(scope, client_id), verifier()
    url, _ = client.create_authorization_url(provider.url + "/oauth/authorize",
                                             code_verifier=code_verifier, nonce="n")
    token = client.fetch_token(provider.url + "/oauth/token",
                               authorization_response=person.authorize(url, ticked),
                               code_verifier=code_verifier)
    return client, token


def walletauth_bearer(provider, person) -> dict[str, str]:
    """The same wallet signed in to walletauth itself, as on the example page (its message
    dated by the server's clock, which the tests hold still while real time runs on)."""
    wallet = Wallet()
    wallet.account, wallet.address = person.account, person.address
    body = wallet.signed_body(person.http.get("/auth/nonce").json()["nonce"],
                              domain=provider.url.removeprefix("http://"),
                              uri=provider.url + "/login", issued_at=provider.clock())
    token = person.http.post("/auth/verify", json=body).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_a_purpose_granted_on_the_consent_screen_is_the_users_consent(provider, person):
    client, token = signed_in(provider, person, f"openid purpose:{PURPOSE}",
                              (f"purpose:{PURPOSE}",))

    assert token["scope"] == f"openid purpose:{PURPOSE}"
    assert client.get(provider.url + "/oauth/userinfo").json()["purposes"] == [PURPOSE]
    consents = person.http.get("/me/consents", headers=walletauth_bearer(provider, person))
    assert consents.json()["consents"][PURPOSE] is True


def test_a_purpose_not_ticked_is_neither_granted_nor_given(provider, person):
    _client, token = signed_in(provider, person, f"openid purpose:{PURPOSE}", ())

    assert token["scope"] == "openid"
    consents = person.http.get("/me/consents", headers=walletauth_bearer(provider, person))
    assert consents.json()["consents"][PURPOSE] is False


def test_withdrawing_the_purpose_stops_the_clients_tokens(provider, person):
    client, _token = signed_in(provider, person, f"openid purpose:{PURPOSE}",
                               (f"purpose:{PURPOSE}",))
    bearer = walletauth_bearer(provider, person)
    withdrawn = person.http.put("/me/consents", headers=bearer,
                                json={"purpose": PURPOSE, "granted": False})
    assert withdrawn.status_code == 200

    assert client.get(provider.url + "/oauth/userinfo").status_code == 401
    with pytest.raises(OAuthError) as refused:
        client.refresh_token(provider.url + "/oauth/token")
    assert refused.value.error == "invalid_grant"


@pytest.mark.parametrize("client_id", ["wiki", "board"])  # an RS256 and an ES256 hint
def test_rp_initiated_logout_ends_the_grant_and_returns_to_the_registered_uri(
    provider, person, client_id
):
    client, token = signed_in(provider, person, "openid", (), client_id)
    query = urlencode({"id_token_hint": token["id_token"], "state": "bye1",
                       "post_logout_redirect_uri": "http://127.0.0.1:9/bye"})

    answer = person.http.get(f"/oauth/logout?{query}")

    assert answer.status_code == 302
    assert answer.headers["location"] == "http://127.0.0.1:9/bye?state=bye1"
    assert client.get(provider.url + "/oauth/userinfo").status_code == 401


def test_logout_to_an_unregistered_uri_ends_the_grant_but_does_not_redirect(provider, person):
    client, token = signed_in(provider, person, "openid", ())
    query = urlencode({"id_token_hint": token["id_token"],
                       "post_logout_redirect_uri": "https://evil.example/"})

    answer = person.http.get(f"/oauth/logout?{query}", headers={"Accept-Language": "en"})

    assert answer.status_code == 200 and "Team wiki" in answer.text
    assert client.get(provider.url + "/oauth/userinfo").status_code == 401


def test_a_forged_id_token_hint_is_refused_with_a_page(provider, person):
    answer = person.http.get("/oauth/logout?id_token_hint=e30.e30.AAAA")

    assert answer.status_code == 400 and 'data-error="invalid_request"' in answer.text


def test_prompt_none_is_login_required_since_every_sign_in_is_a_signature(provider, person):
    client = wiki("openid")
    url, state = client.create_authorization_url(provider.url + "/oauth/authorize",
                                                 code_verifier=verifier(), prompt="none")

    answer = person.open(url)

    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert query["error"] == ["login_required"] and query["state"] == [state]


def test_a_signature_for_another_sign_in_page_is_wrong_request(provider, person):
    client = wiki("openid")
    first, _ = client.create_authorization_url(provider.url + "/oauth/authorize",
                                               code_verifier=verifier())
    second, _ = client.create_authorization_url(provider.url + "/oauth/authorize",
                                                code_verifier=verifier())
    tickets = [re.search(r'data-ticket="([^"]+)"', person.open(url).text).group(1)
               for url in (first, second)]
    text = person.http.post("/oauth/authorize/message", json={
        "ticket": tickets[0], "address": person.address, "chain_id": 1}).json()["message"]
    from eth_account.messages import encode_defunct
    signature = "0x" + bytes(person.account.sign_message(encode_defunct(text=text))
                             .signature).hex()

    answer = person.http.post("/oauth/authorize/login", json={
        "ticket": tickets[1], "message": text, "signature": signature})

    assert answer.status_code == 403 and answer.json()["code"] == "wrong_request"


def test_an_old_sign_in_page_is_authorization_expired(provider, person):
    client = wiki("openid")
    url, _ = client.create_authorization_url(provider.url + "/oauth/authorize",
                                             code_verifier=verifier())
    ticket = re.search(r'data-ticket="([^"]+)"', person.open(url).text).group(1)
    provider.clock.advance(timedelta(minutes=11))

    answer = person.http.post("/oauth/authorize/message", json={
        "ticket": ticket, "address": person.address, "chain_id": 1})

    assert answer.status_code == 400 and answer.json()["code"] == "authorization_expired"


@pytest.fixture
def raw(provider):
    with httpx.Client(base_url=provider.url, timeout=30) as http:
        yield http


TEXT = st.one_of(st.text(max_size=40), st.text(alphabet="\"\\ %&=+:/?#abcS256", max_size=20),
                st.sampled_from(["wiki", "spa", "code", "openid", REDIRECT, "S256",
                                 "authorization_code", "refresh_token", "allow"]))
PARAMS = st.lists(st.tuples(st.sampled_from([
    "response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "prompt",
    "code_challenge", "code_challenge_method", "grant_type", "code", "refresh_token",
    "code_verifier", "client_secret", "id_token_hint", "post_logout_redirect_uri",
    "consent", "decision", "ticket",
]), TEXT), max_size=8)


@pytest.mark.parametrize("backend_settings", ["sqlite"], indirect=True)
# One server for every example: nothing a refused request does changes what the next
# one is answered.
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=PARAMS)
def test_no_parameters_make_any_endpoint_answer_500(raw, params):
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    body = urlencode(params)
    answers = [
        raw.get("/oauth/authorize", params=params),
        raw.post("/oauth/token", content=body, headers=form),
        raw.post("/oauth/authorize/consent", content=body, headers=form),
        raw.post("/oauth/authorize/decision", content=body, headers=form),
        raw.get("/oauth/logout", params=params),
        raw.get("/oauth/userinfo", headers={"Authorization": "Bearer x" + body[:200]}),
        raw.post("/oauth/authorize/message", json=dict(params)),
        raw.post("/oauth/authorize/login", json=dict(params)),
    ]
    for answer in answers:
        assert answer.status_code < 500, (answer.request.url, answer.text)


def test_userinfo_without_a_token_names_the_bearer_scheme(raw):
    answer = raw.get("/oauth/userinfo")

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_a_token_request_that_is_not_a_form_is_invalid_request(raw):
    answer = raw.post("/oauth/token", json={"grant_type": "authorization_code"})

    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"




async def test_a_client_asking_for_a_purpose_the_policy_lacks_stops_the_start_up(tmp_path):
    from tests.oidc.conftest import clients
    from walletauth.server.app import create_app
    from walletauth.server.config.settings import Settings

    configured = clients()
    configured["wiki"]["scopes"] = ["openid", "purpose:no_such_purpose"]
    app = create_app(Settings(data_dir=tmp_path, oidc_clients=configured))

    with pytest.raises(ValueError, match=r"oidc_clients\.wiki\.scopes.*no_such_purpose"):
        async with app.router.lifespan_context(app):
            pass


@pytest.mark.parametrize("entry", [
    {"name": "x", "redirect_uris": ["https://a.example/cb"]},  # neither public nor secret
    {"name": "x", "public": True, "secret_sha256": "0" * 64,
     "redirect_uris": ["https://a.example/cb"]},
    {"name": "x", "public": True, "redirect_uris": ["http://a.example/cb"]},  # http, not loopback
    {"name": "x", "public": True, "redirect_uris": ["https://a.example/cb#f"]},
    {"name": "two\nlines", "public": True, "redirect_uris": ["https://a.example/cb"]},
    {"name": "x", "public": True, "redirect_uris": ["https://a.example/cb"],
     "scopes": ["email"]},
    {"name": "x", "public": True, "redirect_uris": ["https://a.example/cb"],
     "backchannel_logout_uri": "http://a.example/logout"},  # http, not loopback
    {"name": "x", "public": True, "redirect_uris": ["https://a.example/cb"],
     "backchannel_logout_uri": "https://a.example/logout#f"},
    {"name": "x", "public": True, "redirect_uris": ["https://a.example/cb"],
     "backchannel_logout_session_required": True},  # a session to be told where?
    {"name": "x", "public": True, "redirect_uris": ["https://a.example/cb"],
     "backchannel_logout_uri": "https://b.example/logout"},  # not a redirect URI's host
    {"name": "x", "public": True, "redirect_uris": ["https://a.example/cb"],
     "backchannel_logout_uri": "https://a.example:8443/logout"},  # nor its port
])
def test_a_bad_client_entry_is_refused_with_the_settings(tmp_path, entry):
    import json

    from pydantic import ValidationError

    from walletauth.server.config.settings import Settings

    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, oidc_clients=json.dumps({"c": entry}))


def test_walletauth_serve_refuses_such_a_client_in_one_line(tmp_path):
    import json

    from tests.oidc.conftest import clients
    from tests.server.test_cli_configuration import assert_refused_in_one_line, serve

    configured = clients()
    configured["wiki"]["scopes"] = ["openid", "purpose:no_such_purpose"]

    result = serve(tmp_path, WALLETAUTH_OIDC_CLIENTS=json.dumps(configured))

    assert_refused_in_one_line(result, "oidc_clients.wiki.scopes", "no_such_purpose")


def test_a_browser_clients_origin_in_cors_origins_may_call_token_and_userinfo(tmp_path, clock):
    from tests.oidc.conftest import serving

    with serving(tmp_path, clock, cors_origins=["http://localhost:9"]) as running:
        origin = {"Origin": "http://localhost:9"}
        token = httpx.post(running.url + "/oauth/token", content="grant_type=x",
                           headers={**origin,
                                    "Content-Type": "application/x-www-form-urlencoded"})
        preflight = httpx.options(running.url + "/oauth/userinfo", headers={
            **origin, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization"})

    assert token.headers["access-control-allow-origin"] == "http://localhost:9"
    assert token.json()["error"] == "unsupported_grant_type"
    assert preflight.status_code == 200
