"""Where the tests find PostgreSQL and Redis, and what they do when one is missing.

On a developer's laptop without the service, a test that needs it is skipped with a
reason that says how to enable it. Under CI (``CI=true``) a missing service is a
failure: those tests are real tests, not optional extras.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit, urlunsplit

import pytest

POSTGRES_URL = os.environ.get(
    "WALLETAUTH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _own_database(url: str) -> str:
    """``url`` with a Redis database of this test process's own: under pytest-xdist each
    worker flushes the database it tests in, so worker ``gwN`` takes the Nth below the
    configured one (15, 14, ... by default) rather than flushing another's mid-test."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0) - int(worker[2:])
    return urlunsplit(parts._replace(path=f"/{database % 16}"))


REDIS_URL = _own_database(
    os.environ.get("WALLETAUTH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        address = (parts.hostname or "127.0.0.1", parts.port or default_port)
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


def require(name: str, url: str, default_port: int, how: str) -> str:
    """Return ``url`` if the service answers; otherwise skip (laptop) or fail (CI)."""
    if _answers(url, default_port):
        return url
    reason = f"{name} is not reachable at {url}; {how}"
    if in_ci():
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


def require_postgres() -> str:
    return require(
        "PostgreSQL", POSTGRES_URL, 5432,
        "start PostgreSQL or set WALLETAUTH_TEST_POSTGRES_URL to enable these tests",
    )


def require_redis() -> str:
    return require(
        "Redis", REDIS_URL, 6379,
        "start Redis or set WALLETAUTH_TEST_REDIS_URL to enable these tests",
    )
