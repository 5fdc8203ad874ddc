"""A client nobody here wrote, in a real web server: Apache's mod_auth_openidc protects a
page with the README's configuration; headless Chromium with an injected EIP-1193 wallet
goes to the page, is sent to walletauth, signs in, consents, and lands on the page, whose
back end sees the pairwise ``sub`` in the headers mod_auth_openidc passes."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Final

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e import conftest as e2e
from tests.e2e.browser import launched_chromium
from tests.oidc.conftest import serving
from tests.server.conftest import free_socket
from tests.services import in_ci

pytestmark = [pytest.mark.browser, pytest.mark.slow]

APACHE: Final = Path("/usr/sbin/apache2")
MODULES: Final = Path("/usr/lib/apache2/modules")
README: Final = Path(__file__).resolve().parents[2] / "README.md"
HOW_TO_ENABLE: Final = "install it with `apt-get install apache2 libapache2-mod-auth-openidc`"


def require_apache() -> Path:
    missing = [str(path) for path in (APACHE, MODULES / "mod_auth_openidc.so")
               if not path.exists()]
    if not missing:
        return APACHE
    reason = f"{', '.join(missing)} not found; {HOW_TO_ENABLE}"
    if in_ci():
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


def readme_block() -> str:
    [block] = re.findall(r"```apache\n(.*?)```", README.read_text(encoding="utf-8"),
                         flags=re.DOTALL)
    return block


class EchoHeaders(BaseHTTPRequestHandler):
    """The protected page's back end: shows the request headers it was given."""

    def do_GET(self) -> None:
        body = json.dumps(dict(self.headers.items()), sort_keys=True).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def backend() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoHeaders)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def apache_port() -> int:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture
def chromium():
    with launched_chromium() as browser:
        yield browser


def apache_config(directory: Path, port: int, provider_url: str, backend: str,
                  secret: str) -> Path:
    """The README's block with this test's addresses, inside a server of its own."""
    site = f"http://127.0.0.1:{port}"
    block = (readme_block()
             .replace("https://login.example", provider_url)
             .replace("https://wiki.example", site)
             .replace("the-secret-whose-sha256-is-configured", secret))
    block = block.replace("    Require valid-user\n",
                          f"    Require valid-user\n    ProxyPass {backend}/\n")
    directory.chmod(0o755)
    lines = [
        f"ServerRoot {directory}",
        f"DefaultRuntimeDir {directory}",
        f"PidFile {directory}/httpd.pid",
        f"ErrorLog {directory}/error.log",
        "LogLevel warn auth_openidc:info",
        f"Listen 127.0.0.1:{port}",
        "ServerName 127.0.0.1",
        *(f"LoadModule {name}_module {MODULES}/mod_{name}.so"
          for name in ("mpm_event", "authz_core", "authz_user", "authn_core", "proxy",
                       "proxy_http")),
        "User www-data",
        "Group www-data",
        block,
    ]
    config = directory / "httpd.conf"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


@pytest.fixture(params=[None, "ES256"], ids=["default-RS256", "ES256"])
def apache(request, tmp_path, clock, backend, apache_port):
    """The README's Apache block, for a client entry as the README's (no algorithm named:
    RS256 ID tokens) and for one registered for ES256."""
    executable = require_apache()
    secret = secrets.token_urlsafe(32)
    redirect = f"http://127.0.0.1:{apache_port}/protected/redirect_uri"
    clients: dict[str, dict[str, object]] = {"wiki": {
        "name": "Team wiki", "secret_sha256": hashlib.sha256(secret.encode()).hexdigest(),
        "redirect_uris": [redirect], "scopes": ["openid"],
    }}
    if request.param is not None:
        clients["wiki"]["id_token_signed_response_alg"] = request.param
    with serving(tmp_path, clock, oidc_clients=clients) as provider:
        directory = tmp_path / "apache"
        directory.mkdir()
        config = apache_config(directory, apache_port, provider.url, backend, secret)
        env = {**os.environ, "APACHE_LOG_DIR": str(directory)}
        check = subprocess.run([str(executable), "-f", str(config), "-t"], env=env,
                               capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stderr
        process = subprocess.Popen([str(executable), "-f", str(config), "-DFOREGROUND"],
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        site = f"http://127.0.0.1:{apache_port}"
        try:
            for _ in range(100):
                try:
                    httpx.get(site + "/", timeout=1)
                    break
                except httpx.TransportError:
                    threading.Event().wait(0.1)
            yield provider, site, directory
        finally:
            process.terminate()
            process.wait(timeout=10)
            shutil.rmtree(directory / "run", ignore_errors=True)


def test_mod_auth_openidc_lets_a_wallet_in_with_its_pairwise_sub(apache, chromium):
    provider, site, directory = apache
    wallet = e2e.TestWallet()
    context = chromium.new_context(locale="en-US")
    context.expose_function("walletauthTestSign", wallet.personal_sign)
    context.expose_function("walletauthTestWallet", wallet.state)
    context.add_init_script(e2e.PROVIDER_SCRIPT)
    page = context.new_page()
    try:
        page.goto(site + "/protected/")
        expect(page.locator("#connect")).to_be_visible()
        assert page.url.startswith(provider.url + "/oauth/authorize?")
        page.click("#connect")
        page.click("#allow")
        page.wait_for_url(site + "/protected/", timeout=20_000)
        headers = json.loads(page.locator("body").inner_text())
    except Exception:
        print((directory / "error.log").read_text(errors="replace")[-4000:])
        raise
    finally:
        context.close()

    sub = provider.app.state.oidc_provider.subjects.subject("client:wiki", wallet.address)
    assert headers["OIDC_CLAIM_sub"] == sub
    assert wallet.address.lower() not in json.dumps(headers).lower()
