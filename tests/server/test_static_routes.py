"""The example dApp at /app/: on for loopback domains unless told, only the page's files."""

from __future__ import annotations

import httpx
import pytest

from walletauth.rights.export_html import STYLE_HASH
from walletauth.server.app import create_app
from walletauth.server.config.settings import Settings
from walletauth.server.routes.static import example_enabled


@pytest.mark.parametrize(
    ("domains", "serve_example", "expected"),
    [
        (["localhost:8000"], None, True),
        (["127.0.0.1:9000", "[::1]:9000"], None, True),
        (["app.example"], None, False),
        (["localhost:8000", "app.example"], None, False),
        (["app.example"], True, True),
        (["localhost:8000"], False, False),
    ],
)
def test_the_page_is_served_for_loopback_domains_unless_the_setting_says_otherwise(
    tmp_path, domains, serve_example, expected
):
    settings = Settings(data_dir=tmp_path, domains=domains, serve_example=serve_example)
    assert example_enabled(settings) is expected


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/app/", 200),
        ("/app/app.js", 200),
        ("/app/vendor/siwe.js", 200),
        ("/app/package.json", 404),
        ("/app/src/siwe-entry.js", 404),
        ("/app/node_modules/viem/package.json", 404),
        ("/app/../pyproject.toml", 404),
        ("/app/%2e%2e/walletauth/cli.py", 404),
        ("/app/missing.js", 404),
    ],
)
async def test_only_the_page_files_are_served(tmp_path, path, status):
    app = create_app(Settings(data_dir=tmp_path, domains=["app.example"], serve_example=True))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app.example") as http:
        response = await http.get(path)
    assert response.status_code == status
    if status == 404:
        assert response.json()["code"] == "not_found"


async def test_a_deployment_on_a_real_domain_serves_no_page(tmp_path):
    app = create_app(Settings(data_dir=tmp_path, domains=["app.example"]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app.example") as http:
        assert (await http.get("/app/")).status_code == 404
        assert "/app/" not in (await http.get("/openapi.json")).text


async def test_the_page_allows_no_inline_style_but_the_html_exports_by_its_hash(tmp_path):
    app = create_app(Settings(data_dir=tmp_path, domains=["localhost:8000"]))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as http:
        policy = (await http.get("/app/")).headers["content-security-policy"]
    style_src = next(d for d in policy.split(";") if d.strip().startswith("style-src"))
    assert style_src.split()[1:] == ["'self'", f"'{STYLE_HASH}'"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
