"""A message's scheme and URI (issue #15, item 3): the scheme is https (none counts as
https, as EIP-4361 says) unless plain http is allowed for a loopback domain, and the URI's
origin is the domain's own or a configured front-end origin; each refusal has its code,
over HTTP."""

import httpx
import pytest

from tests.server.conftest import make_settings, serving
from walletauth.server.config.settings import LoginDomain, Settings

FRONT_END = "https://front.example"


@pytest.fixture(scope="module")
def app_example(tmp_path_factory):
    """A server whose one domain is ``app.example``, configured without a scheme."""
    settings = make_settings(
        tmp_path_factory.mktemp("app-example"), domains=["app.example"],
        frontend_origins=f"{FRONT_END},http://127.0.0.1:5173", rate_limits="off",
    )
    with serving(settings) as (url, _app), httpx.Client(base_url=url) as client:
        yield client


def verify(client: httpx.Client, wallet, **fields) -> tuple[int, str | None]:
    nonce = client.get("/auth/nonce").json()["nonce"]
    answer = client.post("/auth/verify", json=wallet.signed_body(nonce, **fields))
    return answer.status_code, answer.json().get("code")


@pytest.mark.parametrize(
    ("scheme", "uri"),
    [
        (None, "https://app.example/login"),
        ("https", "https://app.example/login"),
        ("HTTPS", "https://APP.example:443/"),
        ("https", f"{FRONT_END}/sign-in?x=1"),
        (None, "http://127.0.0.1:5173/"),  # a configured front-end origin on loopback
    ],
)
def test_https_messages_for_the_domain_or_a_front_end_sign_in(app_example, wallet, scheme, uri):
    assert verify(app_example, wallet, domain="app.example", scheme=scheme, uri=uri) == (
        200, None
    )


@pytest.mark.parametrize("scheme", ["http", "ftp", "javascript", "wss"])
def test_any_other_scheme_is_refused_for_a_domain_configured_without_one(
    app_example, wallet, scheme
):
    uri = f"{scheme}://app.example/login"
    assert verify(app_example, wallet, domain="app.example", scheme=scheme, uri=uri) == (
        403, "scheme_mismatch"
    )


@pytest.mark.parametrize(
    "uri",
    [
        "http://app.example/login",  # the domain's host, but not over https
        "https://evil.example/login",
        "https://app.example.evil.example/",
        "https://app.example:8443/login",
        "javascript://app.example/%0aalert(1)",
        "urn:walletauth:sign-in",  # no origin at all
        "http://front.example/",
    ],
)
def test_a_uri_of_another_origin_is_refused(app_example, wallet, uri):
    assert verify(app_example, wallet, domain="app.example", uri=uri) == (403, "uri_mismatch")


def test_plain_http_is_accepted_for_a_loopback_domain_only_where_allowed(tmp_path, wallet):
    http = {"domain": "localhost:8000", "scheme": "http", "uri": "http://localhost:8000/app/"}
    https = {"domain": "localhost:8000", "uri": "https://localhost:8000/app/"}
    plain_http_uri = {"domain": "localhost:8000", "uri": "http://localhost:8000/app/"}
    answers = {}
    for loopback_http in (None, False):
        settings = make_settings(
            tmp_path / str(loopback_http), loopback_http=loopback_http, rate_limits="off"
        )
        with serving(settings) as (url, _app), httpx.Client(base_url=url) as client:
            answers[loopback_http] = [
                verify(client, wallet, **fields) for fields in (http, https, plain_http_uri)
            ]
    # Unset: on, since every domain is loopback (walletauth serve's defaults).
    assert answers[None] == [(200, None)] * 3
    assert answers[False] == [(403, "scheme_mismatch"), (200, None), (403, "uri_mismatch")]


def test_plain_http_is_never_accepted_for_a_domain_that_is_not_loopback(tmp_path, wallet):
    settings = make_settings(
        tmp_path, domains=["localhost:8000", "app.example"], loopback_http=True,
        rate_limits="off",
    )
    with serving(settings) as (url, _app), httpx.Client(base_url=url) as client:
        loopback = verify(client, wallet, scheme="http", uri="http://localhost:8000/")
        app = verify(client, wallet, domain="app.example", scheme="http",
                     uri="http://app.example/")
    assert loopback == (200, None)
    assert app == (403, "scheme_mismatch")


def test_a_pinned_scheme_is_the_only_one(tmp_path, wallet):
    settings = make_settings(tmp_path, domains=["http://localhost:8000"], rate_limits="off")
    with serving(settings) as (url, _app), httpx.Client(base_url=url) as client:
        pinned = verify(client, wallet, scheme="http", uri="http://localhost:8000/")
        none = verify(client, wallet, uri="https://localhost:8000/")
    assert pinned == (200, None)
    assert none == (403, "scheme_mismatch")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("domains", "http://app.example"),
        ("domains", "ftp://localhost:8000"),
        ("frontend_origins", "http://front.example"),
        ("frontend_origins", "https://front.example/path"),
        ("frontend_origins", "front.example"),
        ("frontend_origins", "javascript://front.example"),
    ],
)
def test_plain_http_off_loopback_and_non_origins_are_refused_at_start_up(
    tmp_path, name, value
):
    with pytest.raises(ValueError, match="https"):
        Settings(data_dir=tmp_path, **{name: value})


def test_front_end_origins_are_kept_normalised(tmp_path):
    settings = Settings(
        data_dir=tmp_path, frontend_origins="https://Front.Example:443, http://[::1]:5173/"
    )
    assert settings.frontend_origins == ("https://front.example", "http://[::1]:5173")
    assert LoginDomain.parse("http://127.0.0.1:8000").scheme == "http"
