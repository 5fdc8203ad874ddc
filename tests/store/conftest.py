"""Store fixtures: the same tests run on an SQLite file and on a real PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from walletauth.policy.loader import load_policy
from walletauth.store import Secrets, Store

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# Mixed-case EIP-55 addresses (checksum letters in both cases), and their lowercase forms.
ALICE = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
BOB = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"
CAROL = "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB"


@dataclass(frozen=True)
class Backend:
    name: str
    url: str
    keystore_url: str | None
    data_files: tuple[Path, ...] = ()
    """SQLite: the files that hold the records database (with WAL) and the key store."""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "postgres":
        return Backend("postgres", request.getfixturevalue("postgres_url"), None)
    data = tmp_path / "data" / "walletauth.db"
    keys = data.with_name("walletauth.keys.db")
    files = tuple(
        Path(f"{path}{suffix}") for path in (data, keys) for suffix in ("", "-wal", "-shm")
    )
    return Backend("sqlite", f"sqlite:///{data}", None, files)


@pytest.fixture
def secrets(tmp_path: Path) -> Secrets:
    return Secrets.load_or_create(tmp_path / "secrets")


@pytest.fixture
def abcrecords():
    return load_policy("abcrecords")


@pytest.fixture
def store(backend: Backend, secrets: Secrets, abcrecords) -> Iterator[Store]:
    opened = Store.open(
        backend.url, policy=abcrecords, secrets=secrets, keystore_url=backend.keystore_url
    )
    try:
        yield opened
    finally:
        opened.close()


def table_counts(store: Store) -> dict[str, int]:
    """Rows per table of both databases: what a refused write must leave unchanged."""
    import sqlalchemy as sa

    from walletauth.store.keyschema import keystore_metadata
    from walletauth.store.schema import metadata

    counts = {}
    for engine, meta in ((store.engine, metadata), (store.keys.engine, keystore_metadata)):
        with engine.connect() as connection:
            for table in meta.sorted_tables:
                counts[table.name] = connection.execute(
                    sa.select(sa.func.count()).select_from(table)
                ).scalar_one()
    return counts


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    """Two threads, for the tests that interleave two transactions on PostgreSQL's locks."""
    with ThreadPoolExecutor(max_workers=2) as executor:
        yield executor
