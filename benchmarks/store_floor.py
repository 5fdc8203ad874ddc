"""The floor under issue 17's ratio: one sign-in's store work with no HTTP, no framework
and no walletauth code in the loop, on PostgreSQL + Redis against SQLite, CPU of every
process that does it.

    .venv/bin/python benchmarks/store_floor.py [--signins 2000] [--rounds 4]

What a sign-in of ``walletauth serve`` sends its databases, statement for statement as
:mod:`walletauth.store.login_sql` words them (the texts are taken from it), with the
parameters bound ahead and the sealed bytes made once (the AES-GCM work is the same on
both paths, so it is left out of both):

* **PostgreSQL + Redis** (the :class:`~walletauth.server.signin.writes.NonceFirst` path):
  the sign-in script on Redis (``EVALSHA``: nonce use + session, redis-py's client), then
  on psycopg ``BEGIN``, the subject lookup (``FOR UPDATE``, then the state, the wallet
  record and the key row through the migration's function), the writes as one
  data-modifying ``WITH`` statement (wallet record, access-log record, retention),
  ``COMMIT``: four round trips. With
  ``--rate-limit`` the per-IP rate counter's script too (the benchmark runs with rate
  limits off, on both databases).
* **SQLite** (the group-commit path): ``BEGIN IMMEDIATE``, nonce use, subject lookup, the
  key read on the key store's own file, wallet record read and update, access-log insert,
  session, retention, ``COMMIT``; alone, and in batches of 5 (each in a savepoint), about
  the batches ``benchmarks/login.py`` sees.

CPU per sign-in, from ``/proc/<pid>/schedstat`` (nanoseconds on the CPU): this script,
the PostgreSQL backend serving it and a ``redis-server`` of its own, each block of
``--signins`` timed apart, the paths interleaved round by round so that the machine's
other load falls on both. Then a second pass on PostgreSQL + Redis timing each step
(the script's thread time around each call, the backend's and Redis's after it): where
the CPU goes, per round trip.
"""

from __future__ import annotations

import argparse
import functools
import os
import secrets
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import redis
from eth_account import Account
from login import libpq_url, own_redis, postgres_database

from walletauth.policy.loader import load_policy
from walletauth.server.state.redis_state import _SIGN_IN, EPOCH_KEY
from walletauth.store import Secrets, Store
from walletauth.store import login_sql as sql
from walletauth.store.ephemeral import session_hash
from walletauth.store.logins import LoginPlan, SignIn

WALLETS = 100
BATCH = 5
NOW = datetime.now(UTC)


def schedstat_ns(pid: int) -> int:
    """Nanoseconds on the CPU of every thread of ``pid`` so far."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError):
            continue
    return total


@dataclass(frozen=True)
class Wallet:
    ref: str
    subject_id: int
    key_id: str
    record_id: int
    address: str


@dataclass(frozen=True)
class Setup:
    store: Store
    dialect: Any
    plan: LoginPlan
    wallets: list[Wallet]


def opened(url: str, scratch: Path, name: str) -> Setup:
    """A store with ``WALLETS`` returning wallets (subjects, keys, wallet records)."""
    store = Store.open(
        url,
        policy=load_policy("abcrecords"),
        secrets=Secrets.load_or_create(scratch / f"secrets-{name}"),
    )
    addresses = [Account.create().address for _ in range(WALLETS)]
    for address in addresses:
        (outcome,) = store.sign_in_many([new_sign_in(address)])
        outcome.result()
    plan = LoginPlan.of(store.policy)
    wallets = []
    engine = store.engine
    with engine.connect() as connection:
        for address in addresses:
            ref = store.subject_ref(address)
            subject_id, key_id = connection.exec_driver_sql(
                "SELECT id, key_id FROM subjects WHERE ref = " + _placeholder(engine), (ref,)
            ).one()
            (record_id,) = connection.exec_driver_sql(
                "SELECT min(id) FROM records WHERE subject_id = "
                + _placeholder(engine)
                + " AND category = 'wallet_address'",
                (subject_id,),
            ).one()
            wallets.append(Wallet(ref, subject_id, key_id, record_id, address))
    return Setup(store, sql._Dialect(engine), plan, wallets)


def _placeholder(engine: Any) -> str:
    return "?" if engine.dialect.paramstyle == "qmark" else "%s"


def new_sign_in(address: str) -> SignIn:
    return SignIn(
        address=address,
        chain_id=1,
        now=NOW,
        nonce=f"n{secrets.token_hex(8)}",
        nonce_issued_at=NOW,
        nonce_remember_until=NOW + timedelta(minutes=10),
        session_id=secrets.token_urlsafe(32),
        session_expires_at=NOW + timedelta(days=14),
        ip="127.0.0.1",
        user_agent="Chrome 120",
    )


SEALED_WALLET = secrets.token_bytes(12 + 95 + 16)
"""About the size of a sealed wallet record (nonce, JSON, tag)."""
SEALED_LOG = secrets.token_bytes(12 + 70 + 16)


class SqliteSignIns:
    """The SQLite path's statements on bare ``sqlite3`` connections (records, keys)."""

    def __init__(self, setup: Setup, scratch: Path) -> None:
        self.setup = setup
        engine = setup.store.engine
        keys_engine = setup.store.keys.engine
        self.db = self._connect(engine.url.database)
        self.keys = self._connect(keys_engine.url.database)
        d = setup.dialect
        self.t = {
            name: d.sql(text)
            for name, text in (
                ("nonce", sql._USE_NONCE),
                ("first", sql._FIRST_RECORD),
                ("update", sql._UPDATE_RECORD),
                ("insert", sql._INSERT_RECORD),
                ("retain", sql._RETAIN_UNTIL),
                ("session", sql._CREATE_SESSION),
                ("key", sql._READ_KEY),
            )
        }
        self.find = d.find_subject(1)
        self.bind = d.bind_time
        self.count = 0

    @staticmethod
    def _connect(path: str | None) -> sqlite3.Connection:
        db = sqlite3.connect(path or "", isolation_level=None, check_same_thread=False)
        for pragma in (
            "busy_timeout = 5000",
            "journal_mode = WAL",
            "synchronous = NORMAL",
            "secure_delete = ON",
            "foreign_keys = ON",
        ):
            db.execute(f"PRAGMA {pragma}")
        return db

    def one(self, savepoint: bool) -> None:
        t, db, bind = self.t, self.db, self.bind
        wallet = self.setup.wallets[self.count % WALLETS]
        self.count += 1
        plan = self.setup.plan
        at, expires = bind(NOW), bind(NOW + timedelta(days=365))
        if savepoint:
            db.execute("SAVEPOINT sign_in")
        db.execute(t["nonce"], (secrets.token_hex(8), bind(NOW + timedelta(minutes=10))))
        db.execute(self.find, (wallet.ref,)).fetchall()
        self.keys.execute(t["key"], (wallet.key_id,)).fetchone()
        db.execute(
            t["first"], (wallet.subject_id, plan.wallet.category, plan.wallet.purpose)
        ).fetchone()
        db.execute(t["update"], (at, expires, "v", SEALED_WALLET, wallet.record_id))
        log = plan.access_log[0]
        db.execute(
            t["insert"],
            (
                wallet.subject_id,
                log.category,
                log.purpose,
                log.basis,
                at,
                at,
                bind(NOW + timedelta(days=30)),
                "login",
                "v",
                SEALED_LOG,
            ),
        )
        db.execute(
            t["session"],
            (
                session_hash(secrets.token_urlsafe(32)),
                wallet.subject_id,
                bind(NOW + timedelta(days=14)),
            ),
        )
        db.execute(t["retain"], (expires, wallet.subject_id, expires))
        if savepoint:
            db.execute("RELEASE SAVEPOINT sign_in")

    def batch_async_commit(self, size: int) -> None:
        """:meth:`batch` with the commit not waiting for its WAL flush."""
        self.db.execute("SET LOCAL synchronous_commit = off")
        self.batch(size)

    def batch(self, size: int) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        for _ in range(size):
            self.one(savepoint=size > 1)
        self.db.execute("COMMIT")


class PostgresSignIns:
    """The PostgreSQL + Redis path's statements on bare psycopg and redis-py."""

    def __init__(self, setup: Setup, url: str, redis_url: str, *, rate_limit: bool) -> None:
        self.setup = setup
        self.db = psycopg.connect(libpq_url(url))
        self.backend_pid = self.db.info.backend_pid
        self.redis = redis.Redis.from_url(redis_url, decode_responses=True)
        self.redis.set(EPOCH_KEY, 0)
        self.script = self.redis.register_script(_SIGN_IN)
        self.count_hit = self.redis.register_script(
            "local count = redis.call('INCR', KEYS[1])\n"
            "if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end\n"
            "return {count, tonumber(redis.call('GET', KEYS[2]) or '0')}"
        )
        self.rate_limit = rate_limit
        d = setup.dialect
        self.find = d.find_subject_and_more(1, with_key=True)
        self.writes = d.together((sql._UPDATE_RECORD, sql._INSERT_RECORD, sql._RETAIN_UNTIL))
        self.bind = d.bind_time
        self.count = 0

    def redis_step(self, wallet: Wallet) -> None:
        session_id = secrets.token_urlsafe(32)
        if self.rate_limit:
            self.count_hit(
                keys=["walletauth:hits:verify:127.0.0.0:1", "walletauth:hits:x:0"], args=[120000]
            )
        if not self.script(
            keys=[
                f"walletauth:used-nonce:{secrets.token_hex(8)}",
                EPOCH_KEY,
                f"walletauth:session:{session_id}",
                f"walletauth:subject-sessions:{wallet.ref}",
            ],
            args=[600000, int(NOW.timestamp()), int(NOW.timestamp()) + 1, 1209600000, session_id],
        ):
            raise RuntimeError("the sign-in script refused a fresh nonce")

    def lookup(self, wallet: Wallet) -> None:
        plan = self.setup.plan
        cursor = self.db.execute(self.find, (wallet.ref, plan.wallet.category, plan.wallet.purpose))
        if not cursor.fetchall():
            raise RuntimeError("the subject was not found")

    def write(self, wallet: Wallet) -> None:
        plan, bind = self.setup.plan, self.bind
        at, expires = bind(NOW), bind(NOW + timedelta(days=365))
        log = plan.access_log[0]
        self.db.execute(
            self.writes,
            (
                at,
                expires,
                "v",
                SEALED_WALLET,
                wallet.record_id,
                wallet.subject_id,
                log.category,
                log.purpose,
                log.basis,
                at,
                at,
                bind(NOW + timedelta(days=30)),
                "login",
                "v",
                SEALED_LOG,
                expires,
                wallet.subject_id,
                expires,
            ),
        )

    def one(self) -> None:
        wallet = self.setup.wallets[self.count % WALLETS]
        self.count += 1
        self.redis_step(wallet)
        self.lookup(wallet)  # psycopg sends BEGIN first: its own round trip
        self.write(wallet)
        self.db.commit()

    def one_async_commit(self) -> None:
        """:meth:`one` with the commit not waiting for its WAL flush."""
        wallet = self.setup.wallets[self.count % WALLETS]
        self.count += 1
        self.redis_step(wallet)
        self.db.execute("SET LOCAL synchronous_commit = off")
        self.lookup(wallet)
        self.write(wallet)
        self.db.commit()

    def batch_async_commit(self, size: int) -> None:
        """:meth:`batch` with the commit not waiting for its WAL flush."""
        self.db.execute("SET LOCAL synchronous_commit = off")
        self.batch(size)

    def batch(self, size: int) -> None:
        """``size`` sign-ins of distinct wallets as one: their Redis scripts in one
        pipeline, one lookup (``ref = ANY``, locked in ref order), one write statement
        over arrays (``unnest``), one commit."""
        wallets = [self.setup.wallets[(self.count + i) % WALLETS] for i in range(size)]
        self.count += size
        pipe = self.redis.pipeline(transaction=False)
        for wallet in wallets:
            session_id = secrets.token_urlsafe(32)
            self.script(
                keys=[
                    f"walletauth:used-nonce:{secrets.token_hex(8)}",
                    EPOCH_KEY,
                    f"walletauth:session:{session_id}",
                    f"walletauth:subject-sessions:{wallet.ref}",
                ],
                args=[
                    600000,
                    int(NOW.timestamp()),
                    int(NOW.timestamp()) + 1,
                    1209600000,
                    session_id,
                ],
                client=pipe,
            )
        if not all(pipe.execute()):
            raise RuntimeError("the sign-in script refused a fresh nonce")
        plan, bind = self.setup.plan, self.bind
        refs = [wallet.ref for wallet in wallets]
        rows = self.db.execute(
            BATCH_LOOKUP,
            (refs, plan.wallet.category, plan.wallet.purpose),
            prepare=False,
        ).fetchall()
        if len(rows) < size:
            raise RuntimeError("a subject was not found")
        at, expires = bind(NOW), bind(NOW + timedelta(days=365))
        log = plan.access_log[0]
        n = len(wallets)
        ids = [wallet.subject_id for wallet in wallets]
        self.db.execute(
            BATCH_WRITES,
            (
                [wallet.record_id for wallet in wallets],
                [at] * n,
                [expires] * n,
                ["v"] * n,
                [SEALED_WALLET] * n,
                [wallet.record_id for wallet in wallets],
                ids,
                [log.category] * n,
                [log.purpose] * n,
                [log.basis] * n,
                [at] * n,
                [bind(NOW + timedelta(days=30))] * n,
                ["login"] * n,
                ["v"] * n,
                [SEALED_LOG] * n,
                ids,
                [expires] * n,
                ids,
            ),
            prepare=False,
        )
        self.db.commit()


BATCH_LOOKUP = sql._LOOKUP_MANY.format(
    key_columns=sql._KEY_COLUMNS, key_function=sql._KEY_FUNCTION, key_argument=sql._KEY_ARGUMENT
)
"""login_sql's subject lookup for several refs at once, locking them in ref order."""
BATCH_WRITES = (
    "WITH w0 AS (UPDATE records AS r SET updated_at = v.at, expires_at = v.until,"
    " policy_version = v.version, data = v.data"
    " FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[], %s::text[],"
    " %s::bytea[]) AS v(id, at, until, version, data) WHERE r.id = v.id"
    " AND r.id = ANY(%s::bigint[])),"
    " w1 AS (INSERT INTO records (subject_id, category, purpose, basis, collected_at,"
    " updated_at, expires_at, source, policy_version, data)"
    " SELECT v.s, v.c, v.p, v.b, v.at, v.at, v.until, v.source, v.version, v.data"
    " FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::timestamptz[],"
    " %s::timestamptz[], %s::text[], %s::text[], %s::bytea[])"
    " AS v(s, c, p, b, at, until, source, version, data))"
    " UPDATE subjects AS s SET retained_until = v.until"
    " FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, until)"
    " WHERE s.id = v.id AND s.id = ANY(%s::bigint[]) AND s.retained_until < v.until"
)
"""login_sql's writes for several sign-ins in one statement, over arrays."""


def timed(work: Callable[[], None], count: int, pids: dict[str, int]) -> dict[str, float]:
    """CPU us per call of ``work``: this process's and each of ``pids``'s."""
    before = {name: schedstat_ns(pid) for name, pid in pids.items()}
    own = time.process_time_ns()
    for _ in range(count):
        work()
    spent = {"script": (time.process_time_ns() - own) / count / 1e3}
    for name, pid in pids.items():
        spent[name] = (schedstat_ns(pid) - before[name]) / count / 1e3
    spent["all"] = sum(spent.values())
    return spent


def steps(pg: PostgresSignIns, count: int, redis_pid: int) -> dict[str, dict[str, float]]:
    """Each step's CPU (script's thread time, backend's and Redis's after it), per call."""
    names = (
        "redis EVALSHA (nonce + session)",
        "BEGIN + subject lookup (2 round trips)",
        "writes, one WITH statement",
        "COMMIT",
    )
    totals = {name: [0, 0, 0] for name in names}
    backend = pg.backend_pid
    for _ in range(count):
        wallet = pg.setup.wallets[pg.count % WALLETS]
        pg.count += 1
        for name, work in zip(
            names,
            (
                functools.partial(pg.redis_step, wallet),
                functools.partial(pg.lookup, wallet),
                functools.partial(pg.write, wallet),
                pg.db.commit,
            ),
            strict=True,
        ):
            b0, r0, s0 = schedstat_ns(backend), schedstat_ns(redis_pid), time.thread_time_ns()
            work()
            s1 = time.thread_time_ns()
            totals[name][0] += s1 - s0
            totals[name][1] += schedstat_ns(backend) - b0
            totals[name][2] += schedstat_ns(redis_pid) - r0
    return {
        name: {"script": s / count / 1e3, "backend": b / count / 1e3, "redis": r / count / 1e3}
        for name, (s, b, r) in totals.items()
    }


def round_trip_floor(pg: PostgresSignIns, count: int, redis_pid: int) -> dict[str, dict]:
    """What an empty round trip costs: ``SELECT 1`` in autocommit, Redis ``PING``."""
    pg.db.autocommit = True
    try:
        select = timed(
            lambda: pg.db.execute("SELECT 1").fetchone(), count, {"backend": pg.backend_pid}
        )
    finally:
        pg.db.autocommit = False
    ping = timed(pg.redis.ping, count, {"redis": redis_pid})
    return {"PostgreSQL SELECT 1 (one round trip)": select, "Redis PING": ping}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--signins", type=int, default=2000, help="sign-ins per timed block")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument(
        "--rate-limit",
        action="store_true",
        help="also count a per-IP rate hit in Redis per sign-in",
    )
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp())
    load = os.getloadavg()
    with postgres_database() as (pg_url, _name), own_redis() as (redis_url, redis_pid):
        lite = SqliteSignIns(opened(f"sqlite:///{scratch}/walletauth.db", scratch, "lite"), scratch)
        pg = PostgresSignIns(
            opened(pg_url, scratch, "pg"), pg_url, redis_url, rate_limit=args.rate_limit
        )
        paths: dict[str, tuple[Callable[[], None], dict[str, int], int]] = {
            "SQLite, alone": (lambda: lite.batch(1), {}, 1),
            f"SQLite, {BATCH} per transaction": (lambda: lite.batch(BATCH), {}, BATCH),
            "PostgreSQL + Redis": (pg.one, {"backend": pg.backend_pid, "redis": redis_pid}, 1),
            "PostgreSQL + Redis, commit not waiting": (
                pg.one_async_commit,
                {"backend": pg.backend_pid, "redis": redis_pid},
                1,
            ),
            f"PostgreSQL + Redis, {BATCH} at once": (
                lambda: pg.batch(BATCH),
                {"backend": pg.backend_pid, "redis": redis_pid},
                BATCH,
            ),
            f"PostgreSQL + Redis, {BATCH} at once, commit not waiting": (
                lambda: pg.batch_async_commit(BATCH),
                {"backend": pg.backend_pid, "redis": redis_pid},
                BATCH,
            ),
        }
        for work, _pids, _size in paths.values():  # warm: caches, psycopg's prepared plans
            for _ in range(200):
                work()
        results: dict[str, list[dict[str, float]]] = {name: [] for name in paths}
        for number in range(args.rounds):
            order = list(paths) if number % 2 == 0 else list(reversed(paths))
            for name in order:
                work, pids, size = paths[name]
                spent = timed(work, args.signins // size, pids)
                results[name].append({key: value / size for key, value in spent.items()})
        breakdown = steps(pg, args.signins, redis_pid)
        empty = round_trip_floor(pg, args.signins, redis_pid)
    print(
        f"load average at start {load[0]:.1f}, at end {os.getloadavg()[0]:.1f};"
        f" {args.rounds} rounds of {args.signins} sign-ins per path, interleaved"
    )
    print(
        f"\n{'CPU per sign-in, us (median of rounds)':<40}{'script':>8}{'PG backend':>12}"
        f"{'Redis':>8}{'all':>8}   rounds' all"
    )
    medians = {}
    for name, rows in results.items():
        median = {
            key: statistics.median(row.get(key, 0.0) for row in rows)
            for key in ("script", "backend", "redis", "all")
        }
        medians[name] = median
        spread = " / ".join(f"{row['all']:.0f}" for row in rows)
        print(
            f"{name:<40}{median['script']:>8.0f}{median['backend']:>12.0f}"
            f"{median['redis']:>8.0f}{median['all']:>8.0f}   {spread}"
        )
    pg_all = medians["PostgreSQL + Redis"]["all"]
    for name in list(paths)[:2]:
        print(
            f"PostgreSQL + Redis against {name}: {pg_all / medians[name]['all']:.2f}x,"
            f" {pg_all - medians[name]['all']:+.0f} us"
        )
    pg_batch = medians[f"PostgreSQL + Redis, {BATCH} at once"]["all"]
    lite_batch = medians[f"SQLite, {BATCH} per transaction"]["all"]
    print(
        f"PostgreSQL + Redis, {BATCH} at once, against SQLite {BATCH} per transaction:"
        f" {pg_batch / lite_batch:.2f}x, {pg_batch - lite_batch:+.0f} us"
    )
    print(f"\n{'PostgreSQL + Redis, by step, us':<40}{'script':>8}{'PG backend':>12}{'Redis':>8}")
    for name, row in {**breakdown, **empty}.items():
        print(
            f"{name:<40}{row.get('script', 0):>8.1f}{row.get('backend', 0):>12.1f}"
            f"{row.get('redis', 0):>8.1f}"
        )


if __name__ == "__main__":
    main()
