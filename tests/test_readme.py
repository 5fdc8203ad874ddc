"""Every code sample in the README runs, and every command it names exists."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import Wallet
from tests.server.test_multiworker import free_port, wait_until_healthy

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text(encoding="utf-8")
PYTHON_SAMPLES = re.findall(r"```python\n(.*?)```", TEXT, flags=re.DOTALL)


def test_the_readme_opens_with_exactly_two_set_up_commands():
    set_up = TEXT.split("## Set up", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"```sh\n(.*?)```", set_up, flags=re.DOTALL)
    assert [c.strip() for c in commands] == [
        "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/walletauth serve",
        "scripts/test",
    ]


@pytest.mark.parametrize("sample", PYTHON_SAMPLES, ids=lambda s: s.split("\n", 1)[0][:40])
def test_python_sample_runs(sample: str):
    result = subprocess.run(
        [sys.executable, "-c", sample], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_there_are_python_samples():
    assert len(PYTHON_SAMPLES) >= 3


def test_every_cli_command_the_readme_names_exists():
    named = set(re.findall(r"`walletauth (\w+)", TEXT))
    cli = Path(sys.executable).with_name("walletauth")
    for command in named:
        result = subprocess.run(
            [str(cli), command, "--help"], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, f"walletauth {command}: {result.stderr}"


def test_every_endpoint_the_readme_names_is_in_the_openapi_schema(tmp_path):
    from walletauth.server.app import create_app
    from walletauth.server.config.settings import Settings

    paths = create_app(Settings(data_dir=tmp_path)).openapi()["paths"]
    named = set(re.findall(r"`(?:GET|POST|PUT)(?:\|PUT)? (/[\w./-]+)", TEXT))
    assert named
    for path in named:
        assert path in paths, f"{path} is not served"


def test_the_configuration_table_names_every_setting():
    from walletauth.server.config.settings import Settings
    from walletauth.server.delivery import DeliverySettings

    table = TEXT.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    # A row may name related variables after the first without the prefix: `_SESSION_TTL`.
    named = set(re.findall(r"`(?:WALLETAUTH)?_(\w+)`", table)) - {"CONFIG"}  # the file
    fields = {*Settings.model_fields, *DeliverySettings.model_fields}
    assert sorted(name.lower() for name in named) == sorted(fields)


@pytest.fixture
def readme_server(tmp_path) -> Iterator[tuple[str, int]]:
    """The first set-up command's last step, on a free port instead of 8000 (the domain
    follows it, through the variable a user would set): SQLite in a fresh data dir."""
    port = free_port()
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith("WALLETAUTH_")}
    environment["WALLETAUTH_DOMAINS"] = f"localhost:{port}"
    serve = subprocess.Popen(
        [str(Path(sys.executable).with_name("walletauth")), "serve", "--port", str(port)],
        cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, serve)
        yield url, port
    finally:
        serve.terminate()
        serve.wait(timeout=30)


def sign_in(http: httpx.Client, port: int, wallet: Wallet) -> httpx.Response:
    nonce = http.get("/auth/nonce").json()["nonce"]
    text = wallet.message(nonce, domain=f"localhost:{port}", uri=f"http://localhost:{port}/app/")
    return http.post("/auth/verify", json={"message": text, "signature": wallet.sign(text)})


def test_the_serve_step_alone_in_an_empty_folder_serves_the_example_page(readme_server, tmp_path):
    url, port = readme_server
    with httpx.Client(base_url=url) as http:
        page = http.get("/app/")
        signed_in = sign_in(http, port, Wallet())

    assert page.status_code == 200 and "walletauth-api" in page.text
    assert signed_in.status_code == 200, signed_in.text
    data_dir = tmp_path / ".walletauth"
    assert (data_dir / "walletauth.sqlite3").is_file()
    assert data_dir.stat().st_mode & 0o777 == 0o700


async def test_the_sdk_sample_accepts_a_token_of_the_readme_server(readme_server):
    """"The SDK in ten lines", its issuer on the server's port (the one change, as
    ``WALLETAUTH_DOMAINS`` follows ``--port`` above), verifies a token that server issued:
    a server issuing ``https://localhost`` tokens failed here with token_issuer_mismatch."""
    url, port = readme_server
    (sample,) = [s for s in PYTHON_SAMPLES if "AsyncSessionVerifier(" in s]
    assert '"http://localhost:8000"' in sample
    namespace: dict[str, object] = {}
    exec(sample.replace("localhost:8000", f"localhost:{port}"), namespace)
    wallet = Wallet()
    with httpx.Client(base_url=url) as http:
        token = sign_in(http, port, wallet).json()["access_token"]
    transport = httpx.ASGITransport(app=namespace["app"])
    async with httpx.AsyncClient(transport=transport, base_url="http://sample") as service:
        mine = await service.get("/playlists", headers={"Authorization": f"Bearer {token}"})
        anonymous = await service.get("/playlists")
    assert mine.status_code == 200, mine.text
    assert mine.json() == {"owner": wallet.address, "chain_id": 1}
    assert anonymous.status_code == 401
