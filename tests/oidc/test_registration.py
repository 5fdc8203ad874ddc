"""Dynamic client registration (RFC 7591): Authlib's OAuth client registers over HTTP,
then signs a wallet in with the code flow and PKCE; what a registration may not be is
refused with RFC 7591's errors, never a 500."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oidc.discovery import OpenIDProviderMetadata
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jws

from tests.oidc.conftest import REDIRECT, Person, Provider, serving, verifier
from tests.oidc.test_code_flow import id_token_claims, metadata
from tests.server.conftest import Clock
from walletauth.oidc.registration import UNDERSTOOD

INITIAL_TOKEN = "initial-access-token-" + "z" * 32
TOKEN_SETTINGS = {
    "oidc_registration": "token",
    "oidc_registration_token_sha256": hashlib.sha256(INITIAL_TOKEN.encode()).hexdigest(),
}
BEARER = {"Authorization": f"Bearer {INITIAL_TOKEN}"}
LOGOUT = "http://127.0.0.1:9/logout"
"""A back-channel logout URI on the origin of REDIRECT."""
WIKI = {
    "client_name": "Registered wiki",
    "redirect_uris": [REDIRECT],
    "grant_types": ["authorization_code", "refresh_token"],
    "scope": "openid wallet_address",
}


@pytest.fixture
def registrar(tmp_path, clock, backend_settings) -> Iterator[Provider]:
    """A provider with registration by initial access token, and no client configured."""
    with serving(tmp_path, clock, oidc_clients={}, **TOKEN_SETTINGS, **backend_settings) as running:
        yield running


@pytest.fixture(scope="module")
def gatekeeper(tmp_path_factory) -> Iterator[Provider]:
    """One provider, on the default store, for the requests refused before a client is
    stored (a token or metadata check): a server per backend and test would spend a
    minute of the suite starting servers. Its rate limit is out of the way, since every
    test here registers from the same address."""
    with serving(
        tmp_path_factory.mktemp("gatekeeper"),
        Clock(),
        oidc_clients={},
        rate_limits="register=100000",
        **TOKEN_SETTINGS,
    ) as running:
        yield running


@pytest.fixture
def someone(registrar) -> Iterator[Person]:
    person = Person(registrar)
    yield person
    person.http.close()


def register(
    provider: Provider,
    body: object,
    token: str | None = INITIAL_TOKEN,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """A registration request by Authlib's OAuth client, which sends the initial access
    token as its Bearer token (RFC 7591 3)."""
    bearer = {"access_token": token, "token_type": "Bearer"} if token else None
    with OAuth2Client(token=bearer) as client:
        return client.request(
            "POST",
            metadata(provider)["registration_endpoint"],
            json=body,
            withhold_token=bearer is None,
            headers=headers or {},
        )


def client_of(issued: dict, *, scope: str = "openid", redirect_uri: str = REDIRECT) -> OAuth2Client:
    """Authlib's client for a registration's answer, with PKCE S256."""
    return OAuth2Client(
        issued["client_id"],
        issued.get("client_secret"),
        scope=scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method=issued["token_endpoint_auth_method"],
    )


def signed_in(
    provider: Provider, person: Person, client: OAuth2Client, *, ticked: tuple[str, ...] = ()
) -> dict:
    code_verifier = verifier()
    url, _state = client.create_authorization_url(
        metadata(provider)["authorization_endpoint"], code_verifier=code_verifier, nonce="n1"
    )
    return client.fetch_token(
        metadata(provider)["token_endpoint"],
        authorization_response=person.authorize(url, ticked),
        code_verifier=code_verifier,
    )


def test_a_registered_client_signs_a_wallet_in_with_code_and_pkce(registrar, someone):
    answer = register(registrar, WIKI)

    assert answer.status_code == 201, answer.text
    assert answer.headers["cache-control"] == "no-store"
    issued = answer.json()
    assert issued["client_id"].startswith("_") and issued["client_secret"]
    assert issued["client_secret_expires_at"] == 0
    assert issued["client_id_issued_at"] == int(registrar.clock().timestamp())
    assert issued["redirect_uris"] == [REDIRECT]
    assert issued["token_endpoint_auth_method"] == "client_secret_basic"
    assert (issued["subject_type"], issued["id_token_signed_response_alg"]) == ("pairwise", "RS256")

    client = client_of(issued, scope="openid wallet_address")
    token = signed_in(registrar, someone, client, ticked=("wallet_address",))

    claims = id_token_claims(
        registrar, token["id_token"], client_id=issued["client_id"], nonce="n1"
    )
    assert id_token_header(token)["alg"] == "RS256"  # OIDC Registration 2's default
    info = client.get(metadata(registrar)["userinfo_endpoint"]).json()
    assert info["sub"] == claims["sub"]
    assert info["wallet_address"] == f"eip155:1:{someone.address}"
    assert client.refresh_token(metadata(registrar)["token_endpoint"])["access_token"]


def id_token_header(token: dict) -> dict:
    return jws.extract_compact(token["id_token"].encode()).headers()


def test_a_client_registered_for_es256_gets_es256_id_tokens(registrar, someone):
    issued = register(registrar, {**WIKI, "id_token_signed_response_alg": "ES256"}).json()
    assert issued["id_token_signed_response_alg"] == "ES256"
    client = client_of(issued)

    token = signed_in(registrar, someone, client)

    assert id_token_claims(registrar, token["id_token"], client_id=issued["client_id"], nonce="n1")
    header = id_token_header(token)
    assert header == {
        "alg": "ES256",
        "kid": registrar.runtime.keyring.signing_key().kid,
        "typ": "JWT",
    }


def test_only_the_secrets_digest_is_kept(registrar):
    issued = register(registrar, WIKI).json()

    stored = registrar.runtime.store.oidc_client(issued["client_id"])

    assert stored.secret_sha256 == hashlib.sha256(issued["client_secret"].encode()).hexdigest()
    assert issued["client_secret"] not in json.dumps(stored.metadata)


def test_a_public_client_registers_without_a_secret_and_must_use_pkce(registrar, someone):
    issued = register(registrar, {**WIKI, "token_endpoint_auth_method": "none"}).json()
    assert "client_secret" not in issued and "client_secret_expires_at" not in issued

    client = client_of(issued)
    assert signed_in(registrar, someone, client)["id_token"]

    without_pkce = OAuth2Client(issued["client_id"], scope="openid", redirect_uri=REDIRECT)
    url, state = without_pkce.create_authorization_url(
        metadata(registrar)["authorization_endpoint"]
    )
    refused = someone.open(url)
    assert refused.status_code == 302
    query = parse_qs(urlsplit(refused.headers["location"]).query)
    assert query["error"] == ["invalid_request"] and query["state"] == [state]


def test_a_client_that_registered_no_refresh_token_grant_gets_no_refresh_token(registrar, someone):
    issued = register(registrar, {**WIKI, "grant_types": ["authorization_code"]}).json()
    client = client_of(issued)

    token = signed_in(registrar, someone, client)

    assert token["access_token"] and "refresh_token" not in token


@pytest.mark.parametrize("backend_settings", ["sqlite"], indirect=True)
def test_clients_of_one_host_share_a_sub_and_loopback_clients_do_not(registrar, someone):
    subs = []
    for redirect in (
        "https://app.example/one",
        "https://APP.example/two",
        REDIRECT,
        "http://127.0.0.1:9/other",
    ):
        issued = register(registrar, {**WIKI, "redirect_uris": [redirect]}).json()
        client = client_of(issued, redirect_uri=redirect)
        token = signed_in(registrar, someone, client)
        subs.append(
            id_token_claims(
                registrar, token["id_token"], client_id=issued["client_id"], nonce="n1"
            )["sub"]
        )

    assert subs[0] == subs[1]  # one host, one sector (OIDC Core 8.1)
    assert len({subs[0], subs[2], subs[3]}) == 3  # every loopback client its own


def test_a_client_registered_on_one_server_is_known_to_another_on_the_database(
    tmp_path, clock, backend_settings
):
    # Two apps on one database, as two workers: the second has never seen the client.
    with (
        serving(tmp_path, clock, oidc_clients={}, **TOKEN_SETTINGS, **backend_settings) as first,
        serving(tmp_path, clock, oidc_clients={}, **TOKEN_SETTINGS, **backend_settings) as second,
    ):
        issued = register(first, WIKI).json()
        client = client_of(issued)
        url, _ = client.create_authorization_url(
            second.url + "/oauth/authorize", code_verifier=verifier()
        )
        page = httpx.get(url)

    assert page.status_code == 200 and "Registered wiki" in page.text


def test_logout_by_id_token_hint_alone_sends_a_registered_client_to_its_uri(registrar, someone):
    bye = "http://127.0.0.1:9/bye"
    issued = register(registrar, {**WIKI, "post_logout_redirect_uris": [bye]}).json()
    client = client_of(issued)
    token = signed_in(registrar, someone, client)

    answer = someone.http.get(
        "/oauth/logout",
        params={"id_token_hint": token["id_token"], "post_logout_redirect_uri": bye, "state": "s9"},
    )

    assert answer.status_code == 302 and answer.headers["location"] == bye + "?state=s9"
    assert client.get(metadata(registrar)["userinfo_endpoint"]).status_code == 401


@pytest.mark.parametrize("backend_settings", ["sqlite"], indirect=True)
def test_registration_turned_off_stops_serving_the_registered_clients(
    tmp_path, clock, backend_settings
):
    authorize = (
        "/oauth/authorize?response_type=code&scope=openid&client_id={}"
        f"&redirect_uri={REDIRECT}&code_challenge={'a' * 43}&code_challenge_method=S256"
    )
    with serving(tmp_path, clock, **TOKEN_SETTINGS) as running:
        client_id = register(running, WIKI).json()["client_id"]
        served = httpx.get(running.url + authorize.format(client_id))
    with serving(tmp_path, clock) as running:  # the same data and database, registration off
        unknown = httpx.get(running.url + authorize.format(client_id))

    assert served.status_code == 200
    assert unknown.status_code == 400 and 'data-error="invalid_client"' in unknown.text


def test_open_registration_needs_no_token(tmp_path, clock):
    with serving(tmp_path, clock, oidc_registration="open") as running:
        answer = register(running, WIKI, token=None)
        configured = httpx.get(
            running.url + "/oauth/authorize?client_id=wiki&scope=openid"
            f"&response_type=code&redirect_uri={REDIRECT}&code_challenge="
            f"{'a' * 43}&code_challenge_method=S256"
        )

    assert answer.status_code == 201
    assert configured.status_code == 200  # the configured clients are served as before


def test_registrations_are_rate_limited_per_network(tmp_path, clock):
    with serving(
        tmp_path, clock, oidc_registration="open", rate_limits="register=2,register_window=3600"
    ) as running:
        answers = [register(running, WIKI, token=None) for _ in range(3)]

    assert [a.status_code for a in answers] == [201, 201, 429]
    assert answers[2].json()["code"] == "rate_limited"
    assert int(answers[2].headers["retry-after"]) == 3600


# --- what is refused --------------------------------------------------------------------


def test_registration_off_is_an_unknown_path_and_not_in_discovery(provider):
    answer = httpx.post(provider.url + "/oauth/register", json=WIKI, headers=BEARER)
    unknown = httpx.post(provider.url + "/oauth/no-such-endpoint", json=WIKI, headers=BEARER)

    assert answer.status_code == unknown.status_code == 404
    assert answer.headers["content-type"] == unknown.headers["content-type"]
    assert answer.json() == unknown.json()
    assert "registration_endpoint" not in metadata(provider)


def test_discovery_names_the_registration_endpoint_when_on(gatekeeper):
    found = metadata(gatekeeper)

    assert found["registration_endpoint"] == gatekeeper.url + "/oauth/register"
    OpenIDProviderMetadata(found).validate_registration_endpoint()


@pytest.mark.parametrize(
    ("token", "headers"),
    [
        (None, {}),
        ("wrong-token", {}),
        (INITIAL_TOKEN[:-1], {}),
        (None, {"Authorization": f"Basic {INITIAL_TOKEN}"}),
        (None, {"Authorization": "Bearer"}),
    ],
)
def test_without_the_initial_access_token_registration_is_401(gatekeeper, token, headers):
    answer = register(gatekeeper, WIKI, token=token, headers=headers)

    assert answer.status_code == 401
    assert answer.json()["error"] == "invalid_token"
    assert answer.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            {"redirect_uris": ["http://app.example/cb"]},
            "invalid_redirect_uri",
        ),  # http, not loopback
        ({"redirect_uris": ["https://app.example/cb#frag"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://user@app.example/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": []}, "invalid_redirect_uri"),
        ({"redirect_uris": "https://app.example/cb"}, "invalid_redirect_uri"),
        ({"redirect_uris": None}, "invalid_redirect_uri"),
        (
            {"application_type": "native", "redirect_uris": ["https://app.example/cb"]},
            "invalid_redirect_uri",
        ),
        ({"post_logout_redirect_uris": ["javascript:alert(1)"]}, "invalid_redirect_uri"),
        ({"scope": "openid email"}, "invalid_client_metadata"),
        ({"scope": "openid purpose:no_such_purpose"}, "invalid_client_metadata"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata"),
        ({"token_endpoint_auth_method": 1}, "invalid_client_metadata"),
        (
            {"redirect_uris": ["https://a.example/cb", "https://b.example/cb"]},
            "invalid_client_metadata",
        ),
        (
            {
                "redirect_uris": ["https://a.example/cb", "https://b.example/cb"],
                "sector_identifier_uri": "https://a.example/sector.json",
            },
            "invalid_client_metadata",
        ),
        (
            {
                "redirect_uris": ["https://a.example/cb"],
                "sector_identifier_uri": "https://other.example/sector.json",
            },
            "invalid_client_metadata",
        ),
        ({"client_name": None}, "invalid_client_metadata"),
        ({"client_name": "two\nlines"}, "invalid_client_metadata"),
        ({"client_name": "x" * 81}, "invalid_client_metadata"),
        ({"grant_types": ["implicit"]}, "invalid_client_metadata"),
        ({"grant_types": ["refresh_token"]}, "invalid_client_metadata"),
        ({"response_types": ["token"]}, "invalid_client_metadata"),
        ({"subject_type": "public"}, "invalid_client_metadata"),
        ({"id_token_signed_response_alg": "HS256"}, "invalid_client_metadata"),
        ({"id_token_signed_response_alg": "none"}, "invalid_client_metadata"),
        # Back-Channel Logout 2.2, as for a configured client: https or loopback http...
        ({"backchannel_logout_uri": "http://app.example/logout"}, "invalid_client_metadata"),
        ({"backchannel_logout_uri": LOGOUT + "#f"}, "invalid_client_metadata"),
        ({"backchannel_logout_uri": "/logout"}, "invalid_client_metadata"),
        ({"backchannel_logout_uri": 7}, "invalid_client_metadata"),
        # ... with the scheme, host and port of a redirect URI
        ({"backchannel_logout_uri": "http://127.0.0.1:10/logout"}, "invalid_client_metadata"),
        ({"backchannel_logout_uri": "http://localhost:9/logout"}, "invalid_client_metadata"),
        ({"backchannel_logout_uri": "https://127.0.0.1:9/logout"}, "invalid_client_metadata"),
        ({"backchannel_logout_session_required": True}, "invalid_client_metadata"),
        (
            {"backchannel_logout_uri": LOGOUT, "backchannel_logout_session_required": "yes"},
            "invalid_client_metadata",
        ),
    ],
)
def test_a_client_the_provider_cannot_serve_is_refused_with_rfc_7591s_error(
    gatekeeper, change, error
):
    body = {key: value for key, value in {**WIKI, **change}.items() if value is not None}

    answer = register(gatekeeper, body)

    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == error
    assert answer.json()["error_description"]


def test_one_host_with_its_own_sector_identifier_uri_is_accepted(registrar):
    answer = register(
        registrar,
        {
            **WIKI,
            "redirect_uris": ["https://a.example/cb"],
            "sector_identifier_uri": "https://a.example/sector.json",
        },
    )

    assert answer.status_code == 201


@pytest.mark.parametrize(
    ("asked", "answered"),
    [
        (
            {"backchannel_logout_uri": LOGOUT},
            {"backchannel_logout_uri": LOGOUT, "backchannel_logout_session_required": False},
        ),
        (
            {"backchannel_logout_uri": LOGOUT, "backchannel_logout_session_required": True},
            {"backchannel_logout_uri": LOGOUT, "backchannel_logout_session_required": True},
        ),
        ({"backchannel_logout_uri": None, "backchannel_logout_session_required": False}, {}),
    ],
)
def test_a_back_channel_logout_uri_is_registered_answered_and_kept(registrar, asked, answered):
    issued = register(registrar, {**WIKI, **asked})

    assert issued.status_code == 201, issued.text
    body = issued.json()
    said = {k: v for k, v in body.items() if k.startswith("backchannel_")}
    assert said == answered
    stored = registrar.runtime.store.oidc_client(body["client_id"])
    assert {k: v for k, v in stored.metadata.items() if k.startswith("backchannel_")} == answered


def test_metadata_the_provider_does_not_use_is_ignored(registrar):
    issued = register(
        registrar,
        {
            **WIKI,
            "logo_uri": 7,
            "contacts": ["ops@app.example"],
            "client_secret": "mine",
            "jwks": "nonsense",
        },
    ).json()

    assert not {"logo_uri", "contacts", "jwks"} & set(issued)
    assert issued["client_secret"] != "mine"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b"{}",
        b"not json",
        b"\xff\xfe",
        b"[" * 100000,
        b'{"logo_uri": "x"}',
        b'{"client_name": NaN, "redirect_uris": ["http://127.0.0.1/cb"]}',
    ],
)
def test_a_body_that_is_no_json_object_is_invalid_client_metadata(gatekeeper, body):
    answer = httpx.post(
        gatekeeper.url + "/oauth/register",
        content=body,
        headers={**BEARER, "Content-Type": "application/json"},
    )

    assert answer.status_code in (400, 413)
    if answer.status_code == 400:
        assert answer.json()["error"] == "invalid_client_metadata"


def test_a_form_body_is_invalid_client_metadata(gatekeeper):
    answer = httpx.post(
        gatekeeper.url + "/oauth/register", data={"client_name": "x"}, headers=BEARER
    )

    assert answer.status_code == 400 and answer.json()["error"] == "invalid_client_metadata"


def test_an_unknown_registered_id_is_an_unknown_client(registrar, someone):
    answer = someone.open(
        f"{registrar.url}/oauth/authorize?response_type=code"
        f"&client_id=_nobody&redirect_uri={REDIRECT}&scope=openid"
    )

    assert answer.status_code == 400 and 'data-error="invalid_client"' in answer.text


@pytest.mark.parametrize(
    "values",
    [
        {"oidc_registration": "token"},  # no digest
        {"oidc_registration_token_sha256": "0" * 64},  # a digest, registration off
        {"oidc_registration": "open", "oidc_registration_token_sha256": "0" * 64},
        {"oidc_registration": "token", "oidc_registration_token_sha256": "not hex"},
        {"oidc_registration": "yes"},
    ],
)
def test_registration_settings_say_what_they_mean(tmp_path, values):
    from pydantic import ValidationError

    from walletauth.server.config.settings import Settings

    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, **values)


def test_a_configured_id_cannot_look_like_a_registered_one(tmp_path):
    from pydantic import ValidationError

    from tests.oidc.conftest import clients
    from walletauth.server.config.settings import Settings

    with pytest.raises(ValidationError, match="client ids"):
        Settings(data_dir=tmp_path, oidc_clients={"_wiki": clients()["wiki"]})


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(
        [
            REDIRECT,
            LOGOUT,
            "https://a.example/cb",
            "none",
            "openid",
            "code",
            "authorization_code",
            "native",
            "pairwise",
            "ES256",
            "RS256",
        ]
    ),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
METADATA = st.dictionaries(
    st.sampled_from(
        # Every field the provider reads, and some it ignores or must not take from a client.
        [*sorted(UNDERSTOOD), "jwks", "contacts", "logo_uri", "software_statement", "client_id"]
    )
    | st.text(max_size=10),
    JSON,
    max_size=8,
)


@pytest.fixture
def open_registrar(tmp_path, clock) -> Iterator[Provider]:
    with serving(tmp_path, clock, oidc_registration="open", rate_limits="off") as running:
        yield running


# One server for every example: what a request registers changes no later answer's kind.
@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=METADATA)
def test_no_metadata_makes_registration_answer_500(open_registrar, body):
    answer = httpx.post(open_registrar.url + "/oauth/register", json=body)

    assert answer.status_code in (201, 400), answer.text
    if answer.status_code == 400:
        assert answer.json()["error"] in ("invalid_redirect_uri", "invalid_client_metadata")


@pytest.mark.postgres
@pytest.mark.slow
def test_workers_of_one_server_serve_the_clients_any_of_them_registered(tmp_path, postgres_url):
    import asyncio

    from tests.server.test_multiworker import serving_workers

    async def at_once(
        url: str, requests: list[tuple[str, str, dict | None]]
    ) -> list[httpx.Response]:
        # No keep-alive, all at once: the requests land on both workers.
        limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
            return await asyncio.gather(
                *(http.request(method, path, json=body) for method, path, body in requests)
            )

    with serving_workers(
        {
            "WALLETAUTH_DATABASE_URL": postgres_url,
            "WALLETAUTH_DATA_DIR": str(tmp_path / "data"),
            "WALLETAUTH_DOMAINS": "127.0.0.1:9",
            "WALLETAUTH_OIDC_REGISTRATION": "open",
            "WALLETAUTH_RATE_LIMITS": "off",
            "WALLETAUTH_INSECURE_HTTP": "true",
            "WALLETAUTH_LOG_LEVEL": "warning",
        }
    ) as url:
        registered = asyncio.run(at_once(url, [("POST", "/oauth/register", WIKI)] * 10))
        ids = [answer.json()["client_id"] for answer in registered]
        pages = asyncio.run(
            at_once(
                url,
                [
                    (
                        "GET",
                        f"/oauth/authorize?response_type=code&client_id={client_id}&scope=openid"
                        f"&redirect_uri={REDIRECT}&code_challenge={'a' * 43}"
                        "&code_challenge_method=S256",
                        None,
                    )
                    for client_id in ids
                    for _ in range(4)
                ],
            )
        )

    assert [answer.status_code for answer in registered] == [201] * 10
    assert [page.status_code for page in pages] == [200] * 40
    assert all("Registered wiki" in page.text for page in pages)
