"""nosniff on every answer, a CSP on every HTML page, the API docs off unless enabled,
and /metrics behind a token when one is configured."""

import re

import httpx
import pytest
from fastapi.responses import HTMLResponse

from tests.server.conftest import make_settings, serving, sign_in
from walletauth.server.web.middleware import HTML_DEFAULT_CSP

ANSWERS = [
    ("GET", "/auth/nonce", None),
    ("POST", "/auth/verify", {"message": "no", "signature": "0x00"}),
    ("PUT", "/auth/nonce", None),
    ("GET", "/healthz", None),
    ("GET", "/metrics", None),
    ("GET", "/openapi.json", None),
    ("GET", "/.well-known/jwks.json", None),
    ("GET", "/policy", None),
    ("GET", "/me/consents", None),
    ("GET", "/no/such/path", None),
    ("GET", "/", None),
    ("GET", "/app/", None),
    ("GET", "/app/package.json", None),
]


def test_every_answer_says_nosniff_and_every_html_page_has_a_csp(client, wallet):
    answers = [client.request(method, path, json=body) for method, path, body in ANSWERS]
    answers.append(sign_in(client, wallet))
    for response in answers:
        where = f"{response.request.method} {response.request.url.path} {response.status_code}"
        assert response.headers.get("x-content-type-options") == "nosniff", where
        assert response.headers.get_list("x-content-type-options") == ["nosniff"], where
        if response.headers.get("content-type", "").startswith("text/html"):
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert {r.status_code for r in answers} >= {200, 307, 400, 401, 404, 405}


async def test_an_html_answer_without_its_own_policy_gets_the_default_csp(tmp_path):
    from walletauth.server.app import create_app

    app = create_app(make_settings(tmp_path))

    @app.get("/plain-page")
    async def plain_page() -> HTMLResponse:
        return HTMLResponse("<p>hello</p>")

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        page = await client.get("/plain-page")
    assert page.headers["content-security-policy"] == HTML_DEFAULT_CSP[1].decode()
    assert page.headers["x-content-type-options"] == "nosniff"


def test_the_api_docs_are_off_unless_enabled(client):
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").status_code == 200


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_enabled_api_docs_run_only_the_cdn_and_their_own_inline_script(tmp_path, path):
    with serving(make_settings(tmp_path, api_docs=True)) as (url, _app):
        page = httpx.get(url + path)
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    script_src = re.search(r"script-src ([^;]*)", policy).group(1).split()
    assert script_src[0] == "https://cdn.jsdelivr.net"
    assert all(source.startswith("'sha256-") for source in script_src[1:])
    inline_scripts = re.findall(r"<script>(.*?)</script>", page.text, flags=re.DOTALL)
    assert len(script_src[1:]) == len(inline_scripts)
    assert re.findall(r'<script src="([^"]+)"', page.text)
    assert all(src.startswith("https://cdn.jsdelivr.net/")
               for src in re.findall(r'<script src="([^"]+)"', page.text))
    assert "default-src 'none'" in policy and "unsafe-eval" not in policy


def test_metrics_with_a_token_answer_only_its_bearer(tmp_path):
    settings = make_settings(tmp_path, metrics_token="s3cret-metrics-token")
    with serving(settings) as (url, _app), httpx.Client(base_url=url) as client:
        anonymous = client.get("/metrics")
        wrong = client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics-tokeN"})
        basic = client.get("/metrics", headers={"Authorization": "Basic s3cret-metrics-token"})
        right = client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"})
    for refused in (anonymous, wrong, basic):
        assert refused.status_code == 401
        assert refused.json()["code"] == "metrics_unauthorized"
    assert right.status_code == 200
    assert "walletauth_request_duration_seconds" in right.text


def test_metrics_without_a_token_stay_open(client):
    assert client.get("/metrics").status_code == 200
