"""Benchmark: walletauth with a big population of wallets, on PostgreSQL and SQLite.

Loads N subjects into a store with the real schema (the store's own migrations) and the
real cryptography: each has its keyed-hash ref, its address sealed under its own random
key, that key wrapped under the master key in the key store, four records sealed under
the key (the wallet record, two access-log records, a contact e-mail) and two consent
events. 10% of the records have expired. Then it times, against a peer store holding only
the wallets it signs in (same backend, same run, interleaved so the machine's load hits
both alike):

* sign-in of an existing wallet (``Store.sign_in``: nonce, subject, wallet record,
  access log, session, one transaction) p50/p99, and the ratio to the peer (target <= 1.5x);
* export (``rights.export_subject``) and erasure (``rights.erase_subject``) p99;
* ``Store.purge`` of the expired records (records/s), and the orphan-key check alone;
* ``walletauth migrate`` (the command, as a subprocess) at head, and from revision 0003;
* bytes per subject on disk and the key store's size.

Why not the API to load: every API call is one request's transaction (a key created and
committed, then the subject and its rows), about 1-2 ms each; a million would take most
of an hour. The loader writes the same rows with the store's own sealing functions
(``seal_address``, ``seal_data_many``, ``wrap_key``, ``subject_ref``) through COPY
(PostgreSQL, psycopg 3) or ``executemany`` in big transactions (SQLite);
``tests/store/test_bigdata_loader.py`` checks that the store reads what it loads.

    .venv/bin/python benchmarks/bigdata.py --backend postgres --subjects 100000 1000000
    .venv/bin/python benchmarks/bigdata.py --backend sqlite --subjects 100000

PostgreSQL: databases ``bigdata_<n>`` and ``bigdata_peer_<n>`` are created on the server
named by WALLETAUTH_TEST_POSTGRES_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test)
and dropped afterwards. SQLite: files in a temporary directory (``--workdir`` to choose).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets as token
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from alembic import command

from walletauth.policy.loader import load_policy
from walletauth.policy.model import Policy
from walletauth.rights import erase_subject, export_subject
from walletauth.store import Secrets, Store
from walletauth.store.addresses import normalise_address
from walletauth.store.crypto import new_subject_key, subject_ref
from walletauth.store.keyschema import keystore_metadata, subject_keys
from walletauth.store.keystore import new_key_id, wrap_key
from walletauth.store.logins import SignIn
from walletauth.store.migrate import alembic_config
from walletauth.store.purge import ORPHAN_KEY_GRACE, orphan_key_batches
from walletauth.store.records import minimised, seal_data_many
from walletauth.store.schema import consent_events, metadata, records, subjects
from walletauth.store.subjects import seal_address

T = TypeVar("T")
POSTGRES_URL = os.environ.get(
    "WALLETAUTH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CHUNK = 20_000
"""Subjects per transaction: big enough that commits cost nothing, small enough to
keep a chunk's rows (about 10 MB) in memory."""
EXPIRED_EVERY = 10
"""Of every ten subjects, four have an expired access-log record: 10% of all records."""
OLD_REVISION = "0003_drop_rate_counters"
"""Where the migration is timed from: 0004 adds a column to consent_events (one of the
two big tables); 0005 and 0006 change small ones."""

SUBJECT_COLUMNS = ("id", "ref", "key_id", "address_sealed", "created_at", "retained_until")
KEY_COLUMNS = ("key_id", "master_version", "wrapped", "created_at")
RECORD_COLUMNS = ("subject_id", "category", "purpose", "basis", "collected_at", "updated_at",
                  "expires_at", "source", "policy_version", "data")
CONSENT_COLUMNS = ("subject_id", "kind", "purpose", "value", "at", "policy_version",
                   "text_digest")


def address_of(index: int) -> str:
    """The EIP-55 address of loaded subject ``index`` (the store's own normalisation)."""
    return normalise_address(f"0x{0xB16DA7A << 128 | index:040x}")


def records_per_subject() -> int:
    return 4


def is_expired(index: int) -> bool:
    """Does subject ``index`` have an expired access-log record (one of its four)?"""
    return index % EXPIRED_EVERY < 4


@dataclass
class _Chunk:
    subjects: list[tuple[object, ...]] = field(default_factory=list)
    keys: list[tuple[object, ...]] = field(default_factory=list)
    records: list[tuple[object, ...]] = field(default_factory=list)
    consents: list[tuple[object, ...]] = field(default_factory=list)


class Loader:
    """Writes subjects as the API would have, in bulk, into an open :class:`Store`."""

    def __init__(self, store: Store, now: datetime) -> None:
        self.store = store
        self.now = now
        policy: Policy = store.policy
        self.policy = policy
        self.version = policy.version
        digests = policy.consent_digests()
        self.marketing_digest = digests["quality_marketing"]
        self.partner_digest = digests["partner_guidance"]
        self.year = policy.retention("wallet_address", "service_provision")
        self.log_service = policy.retention("access_log", "service_provision")
        self.log_marketing = policy.retention("access_log", "quality_marketing")
        self.email_retention = policy.retention("contact_email", "service_provision")
        self.basis = {purpose: policy.purpose(purpose).basis
                      for purpose in ("service_provision", "quality_marketing")}
        # The access log minimised as a sign-in would (IP truncated, browser family):
        # a few variants, computed once, as most of a population shares them.
        self.access_logs = [
            minimised(policy, store.secrets, "access_log",
                      {"ip": f"198.51.100.{n * 37 % 250 + 1}", "browser": agent})
            for n, agent in enumerate((
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like"
                " Gecko) Chrome/126.0.0.0 Safari/537.36",
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15"
                " (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            ))
        ]
        for category, fields in (("wallet_address", ("chain_id", "first_sign_in",
                                                     "last_sign_in")),
                                 ("contact_email", ("email",))):
            rules = policy.category(category).fields
            if any(rules.get(name) != "keep" for name in fields):
                raise SystemExit(f"the policy minimises {category}: the loader must too")

    def load(self, start: int, count: int, *, chunk: int = CHUNK,
             progress: Callable[[int], None] | None = None) -> None:
        """Subjects ``start`` .. ``start + count - 1`` (see :func:`address_of`)."""
        with self.store.engine.connect() as connection:
            next_id = 1 + (connection.execute(sa.select(sa.func.max(subjects.c.id)))
                           .scalar_one() or 0)
        for first in range(start, start + count, chunk):
            size = min(chunk, start + count - first)
            rows = self._chunk(first, size, next_id)
            next_id += size
            self._write(rows)
            if progress is not None:
                progress(first + size - start)
        if self.store.engine.dialect.name == "postgresql":
            with self.store.engine.begin() as connection:
                connection.exec_driver_sql(
                    "SELECT setval(pg_get_serial_sequence('subjects', 'id'),"
                    " (SELECT max(id) FROM subjects))")

    def _chunk(self, first: int, size: int, first_id: int) -> _Chunk:
        rows = _Chunk()
        master = self.store.secrets.current
        now, version, basis = self.now, self.version, self.basis
        key_created = now - timedelta(days=2)
        for offset in range(size):
            index = first + offset
            subject_id = first_id + offset
            checksum = address_of(index)
            key_id, key = new_key_id(), new_subject_key()
            # Live access logs expire two days or more after the load: the run's own
            # minutes must not expire more than the planned tenth.
            last = now - timedelta(days=index % 28, seconds=index % 86_400)
            first_seen = last - timedelta(days=index % 365)
            logged = now - timedelta(days=31 + index % 30) if is_expired(index) else last
            access = dict(self.access_logs[index % len(self.access_logs)],
                          at=logged.isoformat())
            marketing = dict(self.access_logs[index % len(self.access_logs)],
                             at=last.isoformat())
            planned = (
                ("wallet_address", "service_provision", first_seen, last, self.year, "login",
                 {"chain_id": 1, "first_sign_in": first_seen.isoformat(),
                  "last_sign_in": last.isoformat()}),
                ("access_log", "service_provision", logged, logged, self.log_service, "login",
                 access),
                ("access_log", "quality_marketing", last, last, self.log_marketing, "login",
                 marketing),
                ("contact_email", "service_provision", last, last, self.email_retention,
                 "user", {"email": f"user{index}@example.org"}),
            )
            sealed = seal_data_many(key, [(category, purpose, data)
                                          for category, purpose, *_, data in planned])
            latest = last
            for (category, purpose, collected, updated, keep, source, _), data in zip(
                    planned, sealed, strict=True):
                latest = max(latest, updated + keep)
                rows.records.append((subject_id, category, purpose, basis[purpose], collected,
                                     updated, updated + keep, source, version, data))
            rows.keys.append((key_id, master.version,
                              wrap_key(master.master_key, key_id, key), key_created))
            rows.subjects.append((
                subject_id, subject_ref(master.subject_hmac_key, master.version, checksum),
                key_id, seal_address(key, checksum), first_seen, latest,
            ))
            rows.consents.append((subject_id, "consent", "quality_marketing", True, first_seen,
                                  version, self.marketing_digest))
            rows.consents.append((subject_id, "consent", "partner_guidance", False, first_seen,
                                  version, self.partner_digest))
        return rows

    def _write(self, rows: _Chunk) -> None:
        # Keys first, committed, as KeyStore.create does: a subject never points at a key
        # that is not stored (a failed chunk leaves unused keys, which purge removes).
        write = _copy if self.store.engine.dialect.name == "postgresql" else _insert
        with self.store.keys.engine.begin() as connection:
            write(connection, subject_keys, KEY_COLUMNS, rows.keys)
        with self.store.engine.begin() as connection:
            write(connection, subjects, SUBJECT_COLUMNS, rows.subjects)
            write(connection, records, RECORD_COLUMNS, rows.records)
            write(connection, consent_events, CONSENT_COLUMNS, rows.consents)


def _copy(connection: sa.Connection, table: sa.Table, columns: Sequence[str],
          rows: list[tuple[object, ...]]) -> None:
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _insert(connection: sa.Connection, table: sa.Table, columns: Sequence[str],
            rows: list[tuple[object, ...]]) -> None:
    # Core's executemany: the column types (UTC text on SQLite) bind as in the store.
    connection.execute(sa.insert(table), [dict(zip(columns, row, strict=True))
                                          for row in rows])


# ---------------------------------------------------------------------- measurements


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def sign_in(store: Store, address: str) -> float:
    now = datetime.now(UTC)
    started = time.perf_counter()
    (outcome,) = store.sign_in_many([SignIn(
        address=address, chain_id=1, now=now, nonce=token.token_hex(16), nonce_issued_at=now,
        nonce_remember_until=now + timedelta(minutes=10), session_id=token.token_urlsafe(32),
        session_expires_at=now + timedelta(hours=1), ip="198.51.100.7",
        user_agent="Firefox/128.0",
    )])
    written = outcome.result()
    elapsed = time.perf_counter() - started
    if not written:
        raise SystemExit("a sign-in was not written")
    return elapsed


def timed_call(function: Callable[..., T], *args: object, **kwargs: object) -> tuple[float, T]:
    started = time.perf_counter()
    value = function(*args, **kwargs)
    return time.perf_counter() - started, value


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


@dataclass
class Result:
    backend: str
    subjects: int
    load_seconds: float = 0.0
    rows_per_second: float = 0.0
    bytes_per_subject: float = 0.0
    records_bytes: int = 0
    keystore_bytes: int = 0
    sign_in: tuple[float, float] = (0.0, 0.0)
    sign_in_peer: tuple[float, float] = (0.0, 0.0)
    export_p99: float = 0.0
    export_peer_p99: float = 0.0
    erase_p99: float = 0.0
    erase_peer_p99: float = 0.0
    purged: int = 0
    purge_seconds: float = 0.0
    orphan_scan_seconds: float = 0.0
    migrate_head_seconds: float = 0.0
    migrate_old_seconds: float = 0.0

    @property
    def ratio_p50(self) -> float:
        return self.sign_in[0] / self.sign_in_peer[0]

    @property
    def ratio_p99(self) -> float:
        return self.sign_in[1] / self.sign_in_peer[1]


def measure_requests(big: Store, peer: Store, subjects_loaded: int, samples: int,
                     result: Result) -> None:
    """Sign-ins, exports and erasures, each alternated between the big store and the peer."""
    chosen = random.Random(subjects_loaded).sample(range(subjects_loaded), 2 * samples)
    signing, erasing = chosen[:samples], chosen[samples:]
    peer_wallets = [f"0x{0xFEE << 148 | index:040x}" for index in range(2 * samples)]
    for address in peer_wallets:  # the peer's wallets exist before they are timed
        sign_in(peer, address)
    big_times, peer_times = [], []
    for index, peer_address in zip(signing, peer_wallets[:samples], strict=True):
        big_times.append(sign_in(big, address_of(index)))
        peer_times.append(sign_in(peer, peer_address))
    result.sign_in = (statistics.median(big_times), percentile(big_times, 0.99))
    result.sign_in_peer = (statistics.median(peer_times), percentile(peer_times, 0.99))
    print(f"  sign-in p50/p99 {result.sign_in[0] * 1e3:.1f}/{result.sign_in[1] * 1e3:.1f} ms,"
          f" peer {result.sign_in_peer[0] * 1e3:.1f}/{result.sign_in_peer[1] * 1e3:.1f} ms",
          flush=True)
    exports, peer_exports, erasures, peer_erasures = [], [], [], []
    for index, peer_address, erased_index, peer_erased in zip(
            signing[: samples // 4], peer_wallets[: samples // 4], erasing[: samples // 4],
            peer_wallets[samples: samples + samples // 4], strict=True):
        now = datetime.now(UTC)
        took, document = timed_call(export_subject, big, address_of(index), now=now)
        exports.append(took)
        if len(document["records"]) < 3:
            raise SystemExit(f"export of subject {index} found {len(document['records'])}")
        peer_exports.append(timed_call(export_subject, peer, peer_address, now=now)[0])
        erasures.append(timed_call(erase_subject, big, address_of(erased_index), now=now)[0])
        peer_erasures.append(timed_call(erase_subject, peer, peer_erased, now=now)[0])
    result.export_p99 = percentile(exports, 0.99)
    result.export_peer_p99 = percentile(peer_exports, 0.99)
    result.erase_p99 = percentile(erasures, 0.99)
    result.erase_peer_p99 = percentile(peer_erasures, 0.99)


def measure_purge(store: Store, subjects_loaded: int, result: Result) -> None:
    now = datetime.now(UTC)
    result.orphan_scan_seconds = timed(lambda: sum(1 for _ in orphan_key_batches(
        store.engine, store.keys.engine, created_before=now - ORPHAN_KEY_GRACE,
        batch_size=5000)))
    started = time.perf_counter()
    report = store.purge(now=now)
    result.purge_seconds = time.perf_counter() - started
    result.purged = report.records_removed
    print(f"  purge: {report.records_removed:,} records in {result.purge_seconds:.1f} s, of"
          f" which the orphan-key check alone takes {result.orphan_scan_seconds:.1f} s",
          flush=True)
    expected = sum(is_expired(index) for index in range(subjects_loaded))
    # The erased subjects took their expired records with them.
    if not expected * 0.99 <= report.records_removed <= expected:
        raise SystemExit(f"purge removed {report.records_removed}, expected about {expected}")


def measure_sizes(store: Store, subjects_loaded: int, files: Sequence[Path],
                  result: Result) -> None:
    if store.engine.dialect.name == "postgresql":
        with store.engine.begin() as connection:
            result.records_bytes = sum(
                connection.execute(sa.text("SELECT pg_total_relation_size(:t)"),
                                   {"t": table.name}).scalar_one()
                for table in metadata.sorted_tables)
            result.keystore_bytes = sum(
                connection.execute(sa.text("SELECT pg_total_relation_size(:t)"),
                                   {"t": table.name}).scalar_one()
                for table in keystore_metadata.sorted_tables)
    else:
        for engine in (store.engine, store.keys.engine):
            # On the driver's connection: SQLAlchemy would wrap it in a transaction, and a
            # checkpoint cannot run inside one.
            raw = engine.raw_connection()
            try:
                raw.driver_connection.execute(  # type: ignore[union-attr]
                    "PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                raw.close()
        records_file, keys_file = files
        result.records_bytes = records_file.stat().st_size
        result.keystore_bytes = keys_file.stat().st_size
    result.bytes_per_subject = result.records_bytes / subjects_loaded


def measure_migrate(url: str, workdir: Path, result: Result) -> None:
    """``walletauth migrate`` as an operator runs it: at head, then from OLD_REVISION."""
    environment = dict(os.environ, WALLETAUTH_DATABASE_URL=url,
                       WALLETAUTH_DATA_DIR=str(workdir / "migrate-data"))
    walletauth = Path(sys.executable).with_name("walletauth")

    def run() -> None:
        subprocess.run([str(walletauth), "migrate"], env=environment, check=True,
                       capture_output=True)

    result.migrate_head_seconds = timed(run)
    engine = sa.create_engine(url)

    def revision() -> str:
        with engine.connect() as connection:
            return str(connection.exec_driver_sql("SELECT version_num FROM alembic_version")
                       .scalar_one())

    try:
        head = revision()
        with engine.connect() as connection:
            command.downgrade(alembic_config("records", connection), OLD_REVISION)
            connection.commit()
        if revision() != OLD_REVISION:
            raise SystemExit(f"the downgrade stopped at {revision()}")
        result.migrate_old_seconds = timed(run)
        if revision() != head:
            raise SystemExit(f"walletauth migrate left {revision()}, not {head}")
    finally:
        engine.dispose()


# ---------------------------------------------------------------------- databases


@contextmanager
def postgres_database(name: str) -> Iterator[str]:
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def databases(backend: str, count: int, workdir: Path) -> Iterator[tuple[str, str]]:
    """URLs of the big database and of its peer."""
    if backend == "postgres":
        with postgres_database(f"bigdata_{count}") as big, \
                postgres_database(f"bigdata_peer_{count}") as peer:
            yield big, peer
    else:
        yield (f"sqlite:///{workdir}/big/walletauth.db",
               f"sqlite:///{workdir}/peer/walletauth.db")


def run(backend: str, count: int, samples: int, workdir: Path) -> Result:
    result = Result(backend, count)
    policy = load_policy("abcrecords")
    with databases(backend, count, workdir) as (big_url, peer_url):
        big = Store.open(big_url, policy=policy,
                         secrets=Secrets.load_or_create(workdir / "big-secrets"))
        peer = Store.open(peer_url, policy=policy,
                          secrets=Secrets.load_or_create(workdir / "peer-secrets"))
        try:
            started = time.perf_counter()
            rows_per_subject = 1 + 1 + records_per_subject() + 2

            def progress(done: int) -> None:
                if done % (10 * CHUNK) == 0 or done == count:
                    elapsed = time.perf_counter() - started
                    print(f"  {backend} {done:,}/{count:,} subjects in {elapsed:.0f} s"
                          f" ({done * rows_per_subject / elapsed:,.0f} rows/s)", flush=True)

            Loader(big, datetime.now(UTC)).load(0, count, progress=progress)
            if backend == "postgres":
                # What autovacuum does after a bulk load, done now so that timing does
                # not depend on when it wakes up.
                with big.engine.connect().execution_options(
                        isolation_level="AUTOCOMMIT") as connection:
                    connection.exec_driver_sql("VACUUM ANALYZE")
            result.load_seconds = time.perf_counter() - started
            result.rows_per_second = count * rows_per_subject / result.load_seconds
            files = [workdir / "big" / "walletauth.db", workdir / "big" / "walletauth.keys.db"]
            measure_sizes(big, count, files, result)
            measure_requests(big, peer, count, samples, result)
            measure_purge(big, count, result)
        finally:
            big.close()
            peer.close()
        measure_migrate(big_url, workdir, result)
    return result


def print_table(results: Sequence[Result]) -> None:
    header = ("| backend | subjects | load | sign-in p50 / p99 (ms) | peer p50 / p99 |"
              " ratio p50 / p99 | export p99 | erase p99 | purge 10% | orphan-key check |"
              " migrate head / from 0003 | bytes/subject | key store |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for r in results:
        print(f"| {r.backend} | {r.subjects:,} | {r.load_seconds:.0f} s"
              f" ({r.rows_per_second:,.0f} rows/s)"
              f" | {r.sign_in[0] * 1e3:.1f} / {r.sign_in[1] * 1e3:.1f}"
              f" | {r.sign_in_peer[0] * 1e3:.1f} / {r.sign_in_peer[1] * 1e3:.1f}"
              f" | {r.ratio_p50:.2f}x / {r.ratio_p99:.2f}x"
              f" | {r.export_p99 * 1e3:.0f} ms (peer {r.export_peer_p99 * 1e3:.0f})"
              f" | {r.erase_p99 * 1e3:.0f} ms (peer {r.erase_peer_p99 * 1e3:.0f})"
              f" | {r.purged:,} in {r.purge_seconds:.1f} s"
              f" = {r.purged / r.purge_seconds:,.0f}/s"
              f" | {r.orphan_scan_seconds:.1f} s"
              f" | {r.migrate_head_seconds:.1f} s / {r.migrate_old_seconds:.1f} s"
              f" | {r.bytes_per_subject:,.0f}"
              f" | {r.keystore_bytes / 2**20:,.1f} MiB |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], required=True)
    parser.add_argument("--subjects", type=int, nargs="+", default=[100_000])
    parser.add_argument("--samples", type=int, default=400,
                        help="sign-ins timed per store (a quarter as many exports, erasures)")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="append each result here")
    options = parser.parse_args()
    # A stopped run still drops its databases (the finally blocks run); SIGINT is ignored
    # by a job started in the background by a script, so SIGTERM is the one to send.
    signal.signal(signal.SIGTERM, lambda _signal, _frame: sys.exit(1))
    results = []
    for count in options.subjects:
        with tempfile.TemporaryDirectory(prefix="walletauth-bigdata-",
                                         dir=options.workdir) as temporary:
            result = run(options.backend, count, options.samples, Path(temporary))
        results.append(result)
        if options.json is not None:
            with options.json.open("a") as out:
                out.write(json.dumps(result.__dict__) + "\n")
        print_table([result])
    print()
    print_table(results)


if __name__ == "__main__":
    main()
