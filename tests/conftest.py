"""Shared fixtures: real PostgreSQL and Redis, each test with a clean slate."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from tests.services import require_postgres, require_redis

# Two shared cores also run PostgreSQL, Redis and the servers under test: how fast hypothesis
# draws an example, or runs one, says nothing about the code. Properties are checked, not timed.
settings.register_profile(
    "walletauth", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("walletauth")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import sqlalchemy as sa

    base_url = require_postgres()
    name = f"walletauth_test_{secrets.token_hex(6)}"
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(base_url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The test Redis database, flushed before and after the test."""
    import redis

    url = require_redis()
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()
