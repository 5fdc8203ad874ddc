"""Rights fixtures: stores on an SQLite file and on PostgreSQL, under either policy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.server import conftest as server_fixtures
from tests.store import conftest as store_fixtures
from tests.store.conftest import ALICE, BOB, NOW, Backend
from walletauth.policy.loader import load_policy
from walletauth.store import Store

# The store's backends (SQLite file, PostgreSQL) and secrets, for the rights tests too.
backend = store_fixtures.backend
secrets = store_fixtures.secrets
# A hand-moved clock and a fresh wallet, as the server tests use them.
clock = server_fixtures.clock
wallet = server_fixtures.wallet


def open_store(backend: Backend, secrets, policy_name: str) -> Store:
    return Store.open(backend.url, policy=load_policy(policy_name), secrets=secrets,
                      keystore_url=backend.keystore_url)


@pytest.fixture
def store(backend, secrets) -> Iterator[Store]:
    opened = open_store(backend, secrets, "abcrecords")
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def metalive(backend, secrets) -> Iterator[Store]:
    opened = open_store(backend, secrets, "metalive")
    try:
        yield opened
    finally:
        opened.close()


__all__ = ["ALICE", "BOB", "NOW"]
