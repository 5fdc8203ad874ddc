"""A client nobody here wrote, in a real web server: Apache's mod_auth_openidc protects a
page with the README's configuration; headless Chromium with an injected EIP-1193 wallet
goes to the page, is sent to walletauth, signs in, consents, and lands on the page, whose
back end sees the pairwise ``sub`` in the headers mod_auth_openidc passes. Registered for
back-channel logout as the README's client sample is, mod_auth_openidc takes the logout
token an erasure sends and ends its own session: the page asks for a sign-in again."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Final

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.e2e import conftest as e2e
from tests.e2e.browser import launched_chromium
from tests.oidc.conftest import serving
from tests.server.conftest import Wallet, free_socket
from tests.services import in_ci
from walletauth.store.outbox import pending_count
from walletauth.store.rights_schema import notice_outbox

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

    def do_POST(self) -> None:
        # mod_auth_openidc 2.4.12 (Debian 12) ends its session on a back-channel logout to
        # <OIDCRedirectURI>?logout=backchannel, then passes the request on to what serves
        # the location: here, this back end, whose 200 is the answer walletauth gets.
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

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
def apache(request, tmp_path, clock, backend, apache_port, monkeypatch):
    """The README's Apache block, for a client entry as the README's (no algorithm named:
    RS256 ID tokens) and for one registered for ES256."""
    executable = require_apache()
    monkeypatch.setenv("WALLETAUTH_NOTICE_INTERVAL", "0.1")  # logouts sent within a moment
    secret = secrets.token_urlsafe(32)
    redirect = f"http://127.0.0.1:{apache_port}/protected/redirect_uri"
    clients: dict[str, dict[str, object]] = {"wiki": {
        "name": "Team wiki", "secret_sha256": hashlib.sha256(secret.encode()).hexdigest(),
        "redirect_uris": [redirect], "scopes": ["openid"],
        # As the README's client sample registers it: mod_auth_openidc's own endpoint.
        "backchannel_logout_uri": redirect + "?logout=backchannel",
        "backchannel_logout_session_required": True,
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


def signed_in(chromium, provider, site: str, wallet: e2e.TestWallet):
    """A browser signed in at the protected page; answers the page and its headers."""
    context = chromium.new_context(locale="en-US")
    context.expose_function("walletauthTestSign", wallet.personal_sign)
    context.expose_function("walletauthTestWallet", wallet.state)
    context.add_init_script(e2e.PROVIDER_SCRIPT)
    page = context.new_page()
    page.goto(site + "/protected/")
    expect(page.locator("#connect")).to_be_visible()
    assert page.url.startswith(provider.url + "/oauth/authorize?")
    page.click("#connect")
    page.click("#allow")
    page.wait_for_url(site + "/protected/", timeout=20_000)
    return context, page, json.loads(page.locator("body").inner_text())


def test_mod_auth_openidc_lets_a_wallet_in_with_its_pairwise_sub(apache, chromium):
    provider, site, directory = apache
    wallet = e2e.TestWallet()
    try:
        context, _page, headers = signed_in(chromium, provider, site, wallet)
        context.close()
    except Exception:
        print((directory / "error.log").read_text(errors="replace")[-4000:])
        raise

    sub = provider.app.state.oidc_provider.subjects.subject("client:wiki", wallet.address)
    assert headers["OIDC_CLAIM_sub"] == sub
    assert wallet.address.lower() not in json.dumps(headers).lower()


def test_after_an_erasure_mod_auth_openidc_asks_for_a_sign_in_again(apache, chromium):
    provider, site, directory = apache
    wallet = e2e.TestWallet()
    try:
        context, page, _headers = signed_in(chromium, provider, site, wallet)
        page.goto(site + "/protected/")  # still signed in at the page
        assert page.url == site + "/protected/"

        erase(provider, wallet)
        store = provider.runtime.store
        wait_for_empty_outbox(store)  # mod_auth_openidc answered 200 to the logout token

        page.goto(site + "/protected/")
        expect(page.locator("#connect")).to_be_visible()
        assert page.url.startswith(provider.url + "/oauth/authorize?")
        context.close()
    except Exception:
        print((directory / "error.log").read_text(errors="replace")[-4000:])
        raise


def erase(provider, wallet: e2e.TestWallet) -> None:
    """The wallet erases itself at walletauth (its own signed request)."""
    signer = Wallet()
    signer.account, signer.address = wallet.account, wallet.address
    # Dated by the server's clock, which the tests hold still while real time runs on.
    fields = {"domain": provider.url.removeprefix("http://"), "uri": provider.url + "/login",
              "issued_at": provider.clock()}
    with httpx.Client(base_url=provider.url, timeout=30) as http:
        body = signer.signed_body(http.get("/auth/nonce").json()["nonce"], **fields)
        bearer = {"Authorization": "Bearer "
                  + http.post("/auth/verify", json=body).json()["access_token"]}
        proof = signer.signed_body(http.get("/auth/nonce").json()["nonce"],
                                   resources=["urn:walletauth:request:erase"], **fields)
        assert http.post("/me/erase", headers=bearer, json=proof).status_code == 200


def wait_for_empty_outbox(store, deadline: float = 20.0) -> None:
    give_up = time.monotonic() + deadline
    while pending_count(store.engine):
        if time.monotonic() > give_up:
            with store.engine.connect() as connection:
                errors = connection.execute(sa.select(notice_outbox.c.last_error)).all()
            raise AssertionError(f"the logout token is still in the outbox: {errors}")
        time.sleep(0.1)
