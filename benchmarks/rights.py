"""Benchmark: export and erase one subject holding 10,000 records, on SQLite and PostgreSQL.

The subject signs in through the store's API (real key, ref and sealed address); its
records are then bulk-inserted, each sealed under the subject's key, with a few other
subjects around it. Timed: ``walletauth.rights.export_subject`` (read, decrypt and build
the document, request row and audit entry included) and ``erase_subject`` (one
transaction, key destroyed, WAL checkpointed on SQLite), and the rendering of the
document as the page for a person to read (``to_html``). Checked: the document holds
every record, and afterwards nothing of the subject is left. Target: export and erasure
each under 0.5 s; on PostgreSQL, issue 17's 0.1 s each.

The floor, on PostgreSQL: what no export or erasure can skip, through the bare driver
(psycopg, no SQLAlchemy, no policy, no audit): the export's one ``SELECT`` of the
subject's 10,000 rows with each row's data opened (AES-GCM and JSON), and the erasure's
``DELETE`` of the subject (its records by cascade) and of its key, in one transaction,
on a second subject of the same size.

With ``--cpu ROUNDS`` (PostgreSQL), each run also times the CPU of the export, of its
two parts (``read_dossier``, ``build_document``) and of the floor's read, ``ROUNDS``
rounds interleaved on the same subject: this process's, the PostgreSQL backends' and,
within the process's, the garbage collector's; the heap loaded before frozen out of the
collector's view as the server's workers do.

    .venv/bin/python benchmarks/rights.py                 # both databases
    .venv/bin/python benchmarks/rights.py --backend sqlite --records 10000 --runs 3
    .venv/bin/python benchmarks/rights.py --backend postgres --runs 3 --cpu 5
"""

from __future__ import annotations

import argparse
import gc
import os
import secrets as token
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from walletauth.policy.loader import load_policy
from walletauth.rights import erase_subject, export_subject, to_html
from walletauth.rights.export import build_document
from walletauth.store import Secrets, Store
from walletauth.store.dossier import read_dossier
from walletauth.store.records import open_data, seal_data
from walletauth.store.requests_log import list_requests
from walletauth.store.schema import records, subjects

NOW = datetime(2026, 6, 1, tzinfo=UTC)
CpuSamples = dict[str, list[tuple[float, float, float]]]
"""Per call: this process's CPU seconds, the PostgreSQL backends', the collector's."""
POSTGRES_URL = os.environ.get(
    "WALLETAUTH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TARGET_SECONDS = 0.5
TARGET_POSTGRES_SECONDS = 0.1
SUBJECT = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
FLOOR_SUBJECT = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"


def subject_and_key(store: Store, address: str) -> tuple[int, str, bytes]:
    """The subject row's id, its key's id and the key, of a wallet that signed in."""
    with store.engine.connect() as connection:
        subject_id, key_id = connection.execute(
            sa.select(subjects.c.id, subjects.c.key_id).where(
                subjects.c.ref == store.subject_ref(address))
        ).one()
    key = store.keys.get(key_id)
    assert key is not None
    return subject_id, key_id, key


def populate(store: Store, address: str, count: int) -> None:
    store.record_login(address, 1, now=NOW, ip="192.0.2.1")
    subject_id, _key_id, key = subject_and_key(store, address)
    with store.engine.begin() as connection:
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


def libpq_url(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def bare_read(connection: Any, key: bytes, subject_id: int) -> list[dict[str, Any]]:
    """The export's floor: the subject's rows read on a bare psycopg connection, in one
    transaction, each row's data opened (AES-GCM and JSON)."""
    rows = connection.execute(
        "SELECT id, category, purpose, basis, collected_at, updated_at, expires_at,"
        " source, policy_version, data FROM records WHERE subject_id = %s ORDER BY id",
        (subject_id,),
    ).fetchall()
    opened = [open_data(key, row[1], row[2], row[9]) for row in rows]
    connection.commit()
    return opened


def floors(store: Store, url: str, count: int) -> tuple[float, float]:
    """The bare driver's export read and erasure (see the module's docstring)."""
    import psycopg

    libpq = libpq_url(url)
    populate(store, FLOOR_SUBJECT, count)
    subject_id, key_id, key = subject_and_key(store, FLOOR_SUBJECT)
    with psycopg.connect(libpq) as connection:
        started = time.perf_counter()
        assert len(bare_read(connection, key, subject_id)) == count
        read = time.perf_counter() - started
        started = time.perf_counter()
        with connection.transaction():
            connection.execute("DELETE FROM subjects WHERE id = %s", (subject_id,))
            connection.execute("DELETE FROM keystore_subject_keys WHERE key_id = %s", (key_id,))
        deleted = time.perf_counter() - started
    return read, deleted


def cpu_rounds(store: Store, url: str, rounds: int) -> CpuSamples:
    """CPU per call of the export, its parts and its floor, on the same subject, the calls
    interleaved round by round so that the machine's other load falls on each alike: this
    process's (``time.process_time``) and that of the PostgreSQL backends serving the
    benchmark's database (``/proc/<pid>/schedstat``), in seconds."""
    import psycopg
    from store_floor import schedstat_ns  # benchmarks/ is the script's directory

    subject_id, _key_id, key = subject_and_key(store, SUBJECT)
    found = read_dossier(store, SUBJECT)
    requests = list_requests(store, SUBJECT)
    # As the server's workers run (walletauth.server.app.create_app_from_environment):
    # what is loaded by now is out of the collector's view, or a full collection walks it
    # all every few exports (about 0.1 s of CPU at 10,000 records, on a loaded machine).
    gc.collect()
    gc.freeze()
    with psycopg.connect(libpq_url(url)) as bare, \
            psycopg.connect(libpq_url(url), autocommit=True) as admin:

        def backends() -> dict[int, int]:
            pids = admin.execute("SELECT pid FROM pg_stat_activity WHERE datname ="
                                 " current_database() AND pid <> pg_backend_pid()").fetchall()
            return {pid: schedstat_ns(pid) for (pid,) in pids}

        work: dict[str, Callable[[], object]] = {
            "floor: bare read + open": lambda: bare_read(bare, key, subject_id),
            "read_dossier": lambda: read_dossier(store, SUBJECT),
            "build_document": lambda: build_document(store.policy, SUBJECT, found, requests,
                                                     now=NOW),
            "export_subject": lambda: export_subject(store, SUBJECT, now=NOW),
        }
        spent: CpuSamples = {name: [] for name in work}
        with collections_timed() as collecting:
            for _ in range(rounds):
                for name, call in work.items():
                    before = backends()
                    collecting[0] = 0.0
                    started = time.process_time()
                    call()
                    own = time.process_time() - started
                    after = backends()
                    backend = sum(ns - before.get(pid, 0) for pid, ns in after.items()) / 1e9
                    spent[name].append((own, backend, collecting[0]))
    gc.unfreeze()
    return spent


@contextmanager
def collections_timed() -> Iterator[list[float]]:
    """The CPU seconds the interpreter's cyclic garbage collector spends while the block
    runs, in the list's one item (which the block may reset): the objects an export
    allocates set off collections, the full ones over the whole heap."""
    spent = [0.0]
    started = [0.0]

    def callback(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.process_time()
        else:
            spent[0] += time.process_time() - started[0]

    gc.callbacks.append(callback)
    try:
        yield spent
    finally:
        gc.callbacks.remove(callback)


def run_once(
    url: str, secrets_dir: Path, count: int, *, floor: bool = False, cpu: int = 0
) -> tuple[float, float, float, float | None, float | None, CpuSamples]:
    store = Store.open(url, policy=load_policy("abcrecords"),
                       secrets=Secrets.load_or_create(secrets_dir))
    try:
        for index in range(3):
            store.record_login(f"0x{index + 1:040x}", 1, now=NOW)
        floor_read, floor_delete = floors(store, url, count) if floor else (None, None)
        populate(store, SUBJECT, count)
        started = time.perf_counter()
        document = export_subject(store, SUBJECT, now=NOW)
        exported = time.perf_counter() - started
        assert len(document["records"]) == count, len(document["records"])
        started = time.perf_counter()
        page = to_html(document)
        rendered = time.perf_counter() - started
        assert page.count("<tr>") == count + 2 + len(document["requests"])  # + header rows
        spent = cpu_rounds(store, url, cpu) if cpu else {}
        started = time.perf_counter()
        receipt = erase_subject(store, SUBJECT, now=NOW)
        erased = time.perf_counter() - started
        assert sum(receipt.erased.values()) == count
        assert not read_dossier(store, SUBJECT).found
        assert len(export_subject(store, f"0x{1:040x}", now=NOW)["records"]) == 2
        return exported, erased, rendered, floor_read, floor_delete, spent
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cpu", type=int, default=0, metavar="ROUNDS",
                        help="PostgreSQL: also CPU per export, its parts and its floor,"
                             " ROUNDS interleaved rounds in each run")
    arguments = parser.parse_args()
    backends = ["sqlite", "postgres"] if arguments.backend == "both" else [arguments.backend]
    for backend in backends:
        exports, erasures, pages, floor_reads, floor_deletes = [], [], [], [], []
        cpu: CpuSamples = {}
        for _ in range(arguments.runs):
            with tempfile.TemporaryDirectory() as secrets_dir, \
                    (sqlite_url() if backend == "sqlite" else postgres_url()) as url:
                exported, erased, rendered, floor_read, floor_delete, spent = run_once(
                    url, Path(secrets_dir) / "secrets", arguments.records,
                    floor=backend == "postgres", cpu=arguments.cpu if backend == "postgres" else 0,
                )
            for name, samples in spent.items():
                cpu.setdefault(name, []).extend(samples)
            exports.append(exported)
            erasures.append(erased)
            pages.append(rendered)
            if floor_read is not None and floor_delete is not None:
                floor_reads.append(floor_read)
                floor_deletes.append(floor_delete)
        target = TARGET_POSTGRES_SECONDS if backend == "postgres" else TARGET_SECONDS
        for name, times in (("export", exports), ("erase", erasures), ("html", pages),
                            ("floor: bare read + open", floor_reads),
                            ("floor: bare delete", floor_deletes)):
            if not times:
                continue
            median = statistics.median(times)
            verdict = "" if name not in ("export", "erase") else (
                f"ok (target {target} s)" if median < target else f"OVER TARGET ({target} s)")
            print(f"{backend:8} {name:6} {arguments.records} records: median {median:.3f} s"
                  f" (min {min(times):.3f}, max {max(times):.3f}, {len(times)} runs)"
                  + (f" {verdict}" if verdict else ""))
        print_cpu(backend, arguments.records, cpu)


def print_cpu(backend: str, count: int, cpu: CpuSamples) -> None:
    """Medians of :func:`cpu_rounds`' samples, and each against the floor's."""
    if not cpu:
        return
    floor = statistics.median(own + server for own, server, _gc in cpu["floor: bare read + open"])
    print(f"{backend:8} CPU per call, {count} records, median of {len(next(iter(cpu.values())))}"
          f" interleaved (process, of it the garbage collector's, + PostgreSQL backends = all;"
          f" load average {os.getloadavg()[0]:.1f}):")
    for name, samples in cpu.items():
        own, server, collector = (statistics.median(sample[index] for sample in samples)
                                  for index in range(3))
        both = statistics.median(sample[0] + sample[1] for sample in samples)
        print(f"  {name:24} process {own * 1e3:6.1f} ms (gc {collector * 1e3:5.1f}, max"
              f" {max(sample[2] for sample in samples) * 1e3:5.1f})  backends"
              f" {server * 1e3:5.1f} ms  all {both * 1e3:6.1f} ms"
              f"  ({both / floor:.2f}x the floor's)")


if __name__ == "__main__":
    main()
