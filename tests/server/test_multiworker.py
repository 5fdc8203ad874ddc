"""Two uvicorn workers over PostgreSQL and Redis behave as one service."""

import asyncio
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.server.conftest import DOMAIN

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

LOGINS = 30


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def two_workers(tmp_path, postgres_url, redis_url):
    port = free_port()
    environment = {
        **os.environ,
        "WALLETAUTH_DATABASE_URL": postgres_url,
        "WALLETAUTH_REDIS_URL": redis_url,
        "WALLETAUTH_DATA_DIR": str(tmp_path / "data"),
        "WALLETAUTH_DOMAINS": DOMAIN,
        "WALLETAUTH_RATE_LIMITS": "off",
        "WALLETAUTH_INSECURE_HTTP": "true",
        "WALLETAUTH_LOG_LEVEL": "warning",
    }
    command = [
        sys.executable,
        "-c",
        "from walletauth.cli import app; app()",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "2",
    ]
    process = subprocess.Popen(
        command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_healthy(url, process):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"serve exited: {process.stdout.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the workers did not become healthy")


def fresh_connection(url):
    # No keep-alive: every request is a new connection, free to land on either worker.
    return httpx.Client(base_url=url, limits=httpx.Limits(max_keepalive_connections=0))


async def in_parallel(url, method, path, bodies):
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        return await asyncio.gather(*(client.request(method, path, json=body) for body in bodies))


def test_nonces_sessions_and_keys_are_shared_between_workers(two_workers, wallet):
    url = two_workers
    # Requests in parallel keep both workers busy, so nonces are issued by both and
    # verified wherever the connection lands.
    nonces = asyncio.run(in_parallel(url, "GET", "/auth/nonce", [None] * LOGINS))
    bodies = [wallet.signed_body(response.json()["nonce"]) for response in nonces]
    signed_in = asyncio.run(in_parallel(url, "POST", "/auth/verify", bodies))
    assert [response.status_code for response in signed_in] == [200] * LOGINS
    replays = asyncio.run(in_parallel(url, "POST", "/auth/verify", bodies))
    assert {response.json()["code"] for response in replays} == {"nonce_unknown"}
    with fresh_connection(url) as client:
        assert client.get("/healthz").json()["checks"] == {"database": "ok", "redis": "ok"}
        key_sets = {str(client.get("/.well-known/jwks.json").json()) for _ in range(6)}
        assert len(key_sets) == 1
        for response in signed_in[:6]:
            headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
            assert client.get("/auth/session", headers=headers).status_code == 200
            assert client.post("/auth/logout", headers=headers).status_code == 204
            assert client.get("/auth/session", headers=headers).status_code == 401
        assert both_workers_served_nonces(client)


def both_workers_served_nonces(client):
    """Each worker keeps its own metrics, so scrapes that land on different workers show
    different nonce counts adding up to all the nonces handed out."""
    seen = set()
    for _ in range(60):
        for line in client.get("/metrics").text.splitlines():
            if line.startswith("walletauth_nonces_issued_total "):
                seen.add(float(line.split()[1]))
        if len(seen) == 2:
            return sum(seen) == LOGINS
    return False
