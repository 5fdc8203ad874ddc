"""Benchmark: export and erase one subject holding 10,000 records, on SQLite and PostgreSQL.

The subject signs in through the store's API (real key, ref and sealed address); its
records are then bulk-inserted, each sealed under the subject's key, with a few other
subjects around it. Timed: ``walletauth.rights.export_subject`` (read, decrypt and build
the document, request row and audit entry included) and ``erase_subject`` (one
transaction, key destroyed, WAL checkpointed on SQLite), and the rendering of the
document as the page for a person to read (``to_html``). Checked: the document holds
every record, and afterwards nothing of the subject is left. Target: export and erasure
each under 0.5 s.

    .venv/bin/python benchmarks/rights.py                 # both databases
    .venv/bin/python benchmarks/rights.py --backend sqlite --records 10000 --runs 3
"""

from __future__ import annotations

import argparse
import os
import secrets as token
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from walletauth.policy.loader import load_policy
from walletauth.rights import erase_subject, export_subject, to_html
from walletauth.store import Secrets, Store
from walletauth.store.dossier import read_dossier
from walletauth.store.records import seal_data
from walletauth.store.schema import records, subjects

NOW = datetime(2026, 6, 1, tzinfo=UTC)
POSTGRES_URL = os.environ.get(
    "WALLETAUTH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TARGET_SECONDS = 0.5
SUBJECT = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def populate(store: Store, address: str, count: int) -> None:
    store.record_login(address, 1, now=NOW, ip="192.0.2.1")
    with store.engine.begin() as connection:
        subject_id, key_id = connection.execute(
            sa.select(subjects.c.id, subjects.c.key_id).where(
                subjects.c.ref == store.subject_ref(address))
        ).one()
        key = store.keys.get(key_id)
        assert key is not None
        rows = [
            {"subject_id": subject_id, "category": "contact_email",
             "purpose": "service_provision", "basis": "necessary", "collected_at": NOW,
             "updated_at": NOW, "expires_at": NOW + timedelta(days=365), "source": "bench",
             "policy_version": store.policy.version,
             "data": seal_data(key, "contact_email", "service_provision",
                               {"email": f"user{index}@example.org"})}
            for index in range(count - 2)  # the sign-in wrote a wallet and an access-log record
        ]
        connection.execute(sa.insert(records), rows)


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as directory:
        yield f"sqlite:///{directory}/walletauth.db"


@contextmanager
def postgres_url() -> Iterator[str]:
    name = f"walletauth_bench_{token.token_hex(4)}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(POSTGRES_URL).set(database=name).render_as_string(
            hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_once(url: str, secrets_dir: Path, count: int) -> tuple[float, float, float]:
    store = Store.open(url, policy=load_policy("abcrecords"),
                       secrets=Secrets.load_or_create(secrets_dir))
    try:
        for index in range(3):
            store.record_login(f"0x{index + 1:040x}", 1, now=NOW)
        populate(store, SUBJECT, count)
        started = time.perf_counter()
        document = export_subject(store, SUBJECT, now=NOW)
        exported = time.perf_counter() - started
        assert len(document["records"]) == count, len(document["records"])
        started = time.perf_counter()
        page = to_html(document)
        rendered = time.perf_counter() - started
        assert page.count("<tr>") == count + 2 + len(document["requests"])  # + header rows
        started = time.perf_counter()
        receipt = erase_subject(store, SUBJECT, now=NOW)
        erased = time.perf_counter() - started
        assert sum(receipt.erased.values()) == count
        assert not read_dossier(store, SUBJECT).found
        assert len(export_subject(store, f"0x{1:040x}", now=NOW)["records"]) == 2
        return exported, erased, rendered
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    arguments = parser.parse_args()
    backends = ["sqlite", "postgres"] if arguments.backend == "both" else [arguments.backend]
    for backend in backends:
        exports, erasures, pages = [], [], []
        for _ in range(arguments.runs):
            with tempfile.TemporaryDirectory() as secrets_dir, \
                    (sqlite_url() if backend == "sqlite" else postgres_url()) as url:
                exported, erased, rendered = run_once(url, Path(secrets_dir) / "secrets",
                                                      arguments.records)
            exports.append(exported)
            erasures.append(erased)
            pages.append(rendered)
        for name, times in (("export", exports), ("erase", erasures), ("html", pages)):
            median = statistics.median(times)
            verdict = "" if name == "html" else (
                "ok" if median < TARGET_SECONDS else "OVER TARGET")
            print(f"{backend:8} {name:6} {arguments.records} records: median {median:.3f} s"
                  f" (min {min(times):.3f}, max {max(times):.3f}, {len(times)} runs)"
                  + (f" {verdict}" if verdict else ""))


if __name__ == "__main__":
    main()
