"""Benchmark: OpenID Connect client registration (RFC 7591) and what a registered client
costs the authorization endpoint, against `walletauth serve` (one worker).

Timed, one request at a time over a kept-alive connection: ``POST /oauth/register`` of
``--clients`` clients (open registration, rate limits off), then ``GET /oauth/authorize``
(the sign-in page) for each registered client twice, the first time read from the store
(cold), the second from the worker's memory (warm), and as many times for a configured
client. Checked: every registration is 201 and every page 200. Then the store's own
lookup of a registered client (``Store.oidc_client``, what a cold page adds), called
directly ``--lookups`` times, to see it apart from the HTTP round trip's noise.

    .venv/bin/python benchmarks/oidc_registration.py                    # both databases
    .venv/bin/python benchmarks/oidc_registration.py --backend sqlite --clients 300
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import sqlalchemy as sa

POSTGRES_URL = os.environ.get(
    "WALLETAUTH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIRECT = "http://127.0.0.1:9/callback"
CONFIGURED = {"wiki": {"name": "Team wiki", "public": True, "redirect_uris": [REDIRECT]}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def postgres_database() -> Iterator[str]:
    """A database of its own on the PostgreSQL server, dropped at the end."""
    name = f"bench_oidc_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def serving(database_url: str | None, data_dir: str) -> Iterator[str]:
    port = free_port()
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("WALLETAUTH_")
    }
    environment |= {
        "WALLETAUTH_DATA_DIR": data_dir,
        "WALLETAUTH_DOMAINS": "127.0.0.1:9",
        "WALLETAUTH_INSECURE_HTTP": "true",
        "WALLETAUTH_RATE_LIMITS": "off",
        "WALLETAUTH_OIDC_REGISTRATION": "open",
        "WALLETAUTH_LOG_LEVEL": "warning",
        "WALLETAUTH_OIDC_CLIENTS": json.dumps(CONFIGURED),
    }
    if database_url:
        environment["WALLETAUTH_DATABASE_URL"] = database_url
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from walletauth.cli import app; app()",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("walletauth serve did not become healthy")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def timed(call: Callable[[], httpx.Response], status: int) -> tuple[float, httpx.Response]:
    start = time.perf_counter()
    answer = call()
    elapsed = time.perf_counter() - start
    if answer.status_code != status:
        raise RuntimeError(f"{answer.status_code} instead of {status}: {answer.text[:300]}")
    return elapsed, answer


def authorize_path(client_id: str) -> str:
    challenge = hashlib.sha256(b"verifier").hexdigest()[:43]
    return (
        f"/oauth/authorize?response_type=code&scope=openid&client_id={client_id}"
        f"&redirect_uri={REDIRECT}&code_challenge={challenge}&code_challenge_method=S256"
    )


def store_lookups(database_url: str, data_dir: str, ids: list[str], lookups: int) -> float:
    from walletauth.policy.loader import load_policy
    from walletauth.store import Secrets, Store

    store = Store.open(
        database_url,
        policy=load_policy("abcrecords"),
        secrets=Secrets.load_or_create(os.path.join(data_dir, "secrets")),
    )
    try:
        times = []
        for n in range(lookups):
            start = time.perf_counter()
            found = store.oidc_client(ids[n % len(ids)])
            times.append(time.perf_counter() - start)
            if found is None:
                raise RuntimeError("a registered client was not found")
        return statistics.median(times)
    finally:
        store.close()


def run(backend: str, clients: int, lookups: int) -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory() as data_dir,
        contextmanager_for(backend) as url_db,
        serving(url_db, data_dir) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        body = {"client_name": "Bench app", "redirect_uris": [REDIRECT], "scope": "openid"}
        registering = [
            timed(lambda: http.post("/oauth/register", json=body), 201) for _ in range(clients)
        ]
        ids = [answer.json()["client_id"] for _elapsed, answer in registering]
        cold = [timed(lambda i=i: http.get(authorize_path(i)), 200)[0] for i in ids]
        warm = [timed(lambda i=i: http.get(authorize_path(i)), 200)[0] for i in ids]
        configured = [timed(lambda: http.get(authorize_path("wiki")), 200)[0] for _ in ids]
        database = url_db or f"sqlite:///{os.path.join(data_dir, 'walletauth.sqlite3')}"
        lookup = store_lookups(database, data_dir, ids, lookups)
    return {
        "lookup": lookup,
        "register": statistics.median(elapsed for elapsed, _answer in registering),
        "cold": statistics.median(cold),
        "warm": statistics.median(warm),
        "configured": statistics.median(configured),
    }


@contextmanager
def contextmanager_for(backend: str) -> Iterator[str | None]:
    if backend == "postgres":
        with postgres_database() as url:
            yield url
    else:
        yield None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--lookups", type=int, default=2000)
    options = parser.parse_args()
    backends = ["sqlite", "postgres"] if options.backend == "both" else [options.backend]
    print(f"{options.clients} clients, medians in ms")
    print(
        "| | register | authorize, registered (store) | registered (memory) | configured |"
        " Store.oidc_client |"
    )
    for backend in backends:
        found = run(backend, options.clients, options.lookups)
        print(
            f"| {backend} | {found['register'] * 1000:.1f} | {found['cold'] * 1000:.1f} |"
            f" {found['warm'] * 1000:.1f} | {found['configured'] * 1000:.1f} |"
            f" {found['lookup'] * 1000:.2f} |"
        )


if __name__ == "__main__":
    main()
