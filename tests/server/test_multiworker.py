"""Two uvicorn workers over PostgreSQL and Redis behave as one service."""

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict, mmap_key

from tests.server.conftest import DOMAIN

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

LOGINS = 30
STALE_NONCES = 1000.0
"""Counted by an earlier run's worker into a file that `serve` must clear at start."""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def leave_an_earlier_runs_metrics(directory: Path) -> None:
    directory.mkdir(parents=True)
    leftover = MmapedDict(str(directory / "counter_1.db"))
    name = "walletauth_nonces_issued"
    leftover.write_value(mmap_key(name, f"{name}_total", [], [], "Nonces handed out"),
                         STALE_NONCES, 0.0)
    leftover.close()


@pytest.fixture
def two_workers(tmp_path, postgres_url, redis_url):
    leave_an_earlier_runs_metrics(tmp_path / "data" / "prometheus")
    with serving_workers({
        "WALLETAUTH_DATABASE_URL": postgres_url,
        "WALLETAUTH_REDIS_URL": redis_url,
        "WALLETAUTH_DATA_DIR": str(tmp_path / "data"),
        "WALLETAUTH_DOMAINS": DOMAIN,
        "WALLETAUTH_RATE_LIMITS": "off",
        "WALLETAUTH_INSECURE_HTTP": "true",
        "WALLETAUTH_LOG_LEVEL": "warning",
    }) as url:
        yield url


@contextlib.contextmanager
def serving_workers(settings: dict[str, str], workers: int = 2) -> Iterator[str]:
    """`walletauth serve --workers N` with ``settings`` as its environment, on a free
    port; yield its URL once healthy, stop it at the end."""
    port = free_port()
    command = [sys.executable, "-c", "from walletauth.cli import app; app()", "serve",
               "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(
        command, env={**os.environ, **settings}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
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
    # Codes in the message: a 401 here says which (a Redis db flushed by another test
    # run sharing it mid-test shows as session_revoked or as a replay that succeeds).
    assert [response.status_code for response in signed_in] == [200] * LOGINS, codes(signed_in)
    replays = asyncio.run(in_parallel(url, "POST", "/auth/verify", bodies))
    assert {response.json().get("code") for response in replays} == {"nonce_unknown"}
    with fresh_connection(url) as client:
        assert client.get("/healthz").json()["checks"] == {"database": "ok", "redis": "ok"}
        key_sets = {str(client.get("/.well-known/jwks.json").json()) for _ in range(6)}
        assert len(key_sets) == 1
        for response in signed_in[:6]:
            headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
            session = client.get("/auth/session", headers=headers)
            assert session.status_code == 200, session.text
            assert client.post("/auth/logout", headers=headers).status_code == 204
            assert client.get("/auth/session", headers=headers).status_code == 401


def test_metrics_add_up_every_workers_counts_and_name_no_wallet_or_ip(
    two_workers, wallet, tmp_path
):
    url = two_workers
    metrics_dir = tmp_path / "data" / "prometheus"
    issued = 0
    # Parallel rounds until both workers have handed out nonces (on 2 busy cores one
    # worker may take a whole round); bounded, and nearly always one round.
    for _ in range(20):
        issued += len(asyncio.run(in_parallel(url, "GET", "/auth/nonce", [None] * LOGINS)))
        per_worker = nonces_counted_per_worker(metrics_dir)
        if len([count for count in per_worker.values() if count > 0]) >= 2:
            break
    assert len([count for count in per_worker.values() if count > 0]) == 2, per_worker
    assert sum(per_worker.values()) == issued
    with fresh_connection(url) as client:
        nonce = client.get("/auth/nonce").json()["nonce"]
        client.post("/auth/verify", json=wallet.signed_body(nonce))
        scrapes = [client.get("/metrics").text for _ in range(6)]
    for text in scrapes:  # whichever worker answers, the totals of both
        assert sample(text, "walletauth_nonces_issued_total") == issued + 1
        assert sample(text, 'walletauth_logins_total{outcome="ok"}') == 1
        for private in (wallet.address, wallet.address.lower(), wallet.address[2:].lower(),
                        "127.0.0.1"):
            assert private not in text


def nonces_counted_per_worker(directory):
    """Each worker's own count of nonces issued, read from its file (pid in the name)."""
    counts = {}
    for path in directory.glob("counter_*.db"):
        values = MmapedDict.read_all_values_from_file(str(path))
        counts[path.name] = sum(
            value for key, value, _timestamp, _offset in values
            if "walletauth_nonces_issued_total" in key
        )
    return counts


def sample(text, name):
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith(name + " ")]
    assert len(values) == 1, f"{name} in {text}"
    return values[0]


def codes(responses):
    return [response.json().get("code", response.status_code) for response in responses]
