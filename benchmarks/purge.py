"""Benchmark: purge 500,000 expired records out of 1,000,000, on SQLite and PostgreSQL.

Subjects are created through the store's own API (so keys, refs and sealed addresses
are real); their records are then bulk-inserted, sealed under each subject's key, with
Core ``executemany`` (SQLite) or ``COPY`` (PostgreSQL). Half the records expired a day
ago, half live for another year. The benchmark times ``Store.purge`` and then checks the
store is consistent: every expired record gone, every live one still there and still
readable, the audit entry's counts right, and a second purge finding nothing.

    .venv/bin/python benchmarks/purge.py                       # both databases, 1M records
    .venv/bin/python benchmarks/purge.py --backend sqlite --records 200000

PostgreSQL: a scratch database is created on the server named by
WALLETAUTH_TEST_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test)
and dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets as token
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from eth_utils import to_checksum_address

from walletauth.policy.loader import load_policy
from walletauth.store import Secrets, Store
from walletauth.store.audit import audit_entries
from walletauth.store.records import seal_data
from walletauth.store.schema import records, subjects
from walletauth.store.subjects import refs_of

NOW = datetime(2026, 6, 1, tzinfo=UTC)
POSTGRES_URL = os.environ.get(
    "WALLETAUTH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CHUNK = 20_000
COLUMNS = ("subject_id", "category", "purpose", "basis", "collected_at", "updated_at",
           "expires_at", "source", "policy_version", "data")


def address_of(index: int) -> str:
    return f"0x{index + 1:040x}"


def create_subjects(store: Store, count: int) -> list[tuple[int, bytes]]:
    """Sign ``count`` subjects in through the API; their row ids and keys."""
    for index in range(count):
        store.record_login(address_of(index), 1, now=NOW, ip="192.0.2.1")
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(subjects.c.ref, subjects.c.id, subjects.c.key_id))
        by_ref = {row.ref: (row.id, row.key_id) for row in rows}
    keys = store.keys.get_many([key_id for _, key_id in by_ref.values()])
    found = []
    for index in range(count):
        subject_id, key_id = by_ref[refs_of(store.secrets, _checksum(index))[0]]
        found.append((subject_id, keys[key_id]))
    return found


def _checksum(index: int) -> str:
    return to_checksum_address(address_of(index))


def is_expired(number: int, subject_count: int) -> bool:
    """Every other round over the subjects expired: each subject gets half of each kind."""
    return (number // subject_count) % 2 == 0


def record_rows(store: Store, owners: list[tuple[int, bytes]], total: int) -> Iterator[tuple]:
    """``total`` rows, alternately expired and live, spread over the subjects."""
    retention = store.policy.retention("access_log", "quality_marketing")
    for number in range(total):
        subject_id, key = owners[number % len(owners)]
        expired = is_expired(number, len(owners))
        collected = NOW - retention - timedelta(days=1) if expired else NOW
        data = {"ip": "192.0.2.0/24", "browser": "Firefox 128", "at": collected.isoformat()}
        yield (subject_id, "access_log", "quality_marketing", "consent", collected, collected,
               collected + retention, "benchmark", store.policy.version,
               seal_data(key, "access_log", "quality_marketing", data))


def bulk_insert(store: Store, rows: Iterator[tuple], total: int) -> None:
    if store.engine.dialect.name == "postgresql":
        _copy(store, rows)
        return
    statement = sa.insert(records)
    with store.engine.begin() as connection:
        batch: list[dict] = []
        for row in rows:
            batch.append(dict(zip(COLUMNS, row, strict=True)))
            if len(batch) == CHUNK:
                connection.execute(statement, batch)
                batch = []
        if batch:
            connection.execute(statement, batch)


def _copy(store: Store, rows: Iterator[tuple]) -> None:
    with store.engine.begin() as connection:
        cursor = connection.connection.driver_connection.cursor()
        with cursor.copy(f"COPY records ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def check_consistency(store: Store, owners: list, total: int, report) -> list[str]:
    problems = []
    expired = sum(is_expired(number, len(owners)) for number in range(total))
    if report.records.get(("access_log", "quality_marketing"), 0) != expired:
        problems.append(f"purge reported {report.records}, expected {expired} expired")
    with store.engine.connect() as connection:
        left = connection.execute(
            sa.select(sa.func.count()).select_from(records)
            .where(records.c.category == "access_log", records.c.purpose == "quality_marketing")
        ).scalar_one()
        stale = connection.execute(
            sa.select(sa.func.count()).select_from(records).where(records.c.expires_at <= NOW)
        ).scalar_one()
    if left != total - expired:
        problems.append(f"{left} live records left, expected {total - expired}")
    if stale:
        problems.append(f"{stale} expired records survived")
    for index in random.Random(7).sample(range(len(owners)), k=min(20, len(owners))):
        store.set_consent(address_of(index), "quality_marketing", True, now=NOW)
        kept = store.records(address_of(index), "quality_marketing", now=NOW)
        expected = sum(
            not is_expired(number, len(owners)) for number in range(index, total, len(owners))
        )
        if len(kept) != expected:
            problems.append(f"subject {index}: {len(kept)} readable records, expected {expected}")
    [entry] = [e for e in audit_entries(store) if e.event == "purge"][-1:]
    if entry.detail["records"][0]["count"] != expired:
        problems.append(f"audit entry says {entry.detail['records']}")
    if store.purge(now=NOW).records_removed:
        problems.append("a second purge still found records")
    return problems


def run(url: str, total: int, subject_count: int, batch_size: int, workdir: Path) -> None:
    secrets = Secrets.load_or_create(workdir / "secrets")
    store = Store.open(url, policy=load_policy("abcrecords"), secrets=secrets)
    try:
        started = time.perf_counter()
        owners = create_subjects(store, subject_count)
        signed_in = time.perf_counter()
        bulk_insert(store, record_rows(store, owners, total), total)
        inserted = time.perf_counter()
        report = store.purge(now=NOW, batch_size=batch_size)
        purged = time.perf_counter()
        problems = check_consistency(store, owners, total, report)
    finally:
        store.close()
    name = sa.make_url(url).get_backend_name()
    purge_seconds = purged - inserted
    print(f"{name}: {subject_count} sign-ins in {signed_in - started:.1f}s;"
          f" {total:,} records bulk-inserted in {inserted - signed_in:.1f}s"
          f" ({total / (inserted - signed_in):,.0f}/s)")
    print(f"{name}: purge of {report.records_removed:,} expired records in {purge_seconds:.1f}s"
          f" = {report.records_removed / purge_seconds:,.0f} records/s (batch {batch_size})")
    print(f"{name}: consistent" if not problems else f"{name}: INCONSISTENT: {problems}")
    if problems:
        raise SystemExit(1)


@contextmanager
def scratch_postgres() -> Iterator[str]:
    name = f"walletauth_bench_{token.token_hex(4)}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--subjects", type=int, default=1_000)
    parser.add_argument("--batch-size", type=int, default=5_000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="walletauth-bench-") as temporary:
        workdir = Path(temporary)
        if options.backend in {"sqlite", "both"}:
            run(f"sqlite:///{workdir}/walletauth.db", options.records, options.subjects,
                options.batch_size, workdir / "sqlite")
        if options.backend in {"postgres", "both"}:
            with scratch_postgres() as url:
                run(url, options.records, options.subjects, options.batch_size,
                    workdir / "postgres")


if __name__ == "__main__":
    main()
