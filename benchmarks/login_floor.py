"""What one sign-in costs, piece by piece, on one core (no HTTP): the floor under
``login.py``'s figure.

    .venv/bin/python benchmarks/login_floor.py

Times, best of 5 rounds: the plain-key parse + verify (ecrecover), the ES256 access
token, the session cookie, a stateless nonce's issue + check, ``Store.sign_in`` on
SQLite (nonce use, subject lookup, key read, wallet and access-log records, session: one
transaction), ``Store.sign_in_many`` with batches of 8 and 16 returning wallets (group
commit: one transaction, a savepoint each; per sign-in), and the same statements as one
sign-in through the bare ``sqlite3`` module, which is what no Python store can go below.
"""

from __future__ import annotations

import secrets
import sqlite3
import tempfile
import timeit
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from coincurve import PrivateKey
from eth_account import Account

from walletauth.policy.loader import load_policy
from walletauth.server.config.keys import KeyRing
from walletauth.server.signin.nonces import NonceMinter
from walletauth.server.signin.session_cookie import SessionCookies
from walletauth.server.signin.tokens import TokenIssuer
from walletauth.siwe import SiweMessage, eip191_digest, verify_message
from walletauth.store import Secrets, Store
from walletauth.store.logins import SignIn

DOMAIN = "localhost:8000"
BATCH_SIZES = (8, 16)
NOW = datetime.now(UTC)


def best_us(work: Callable[[], object], number: int = 300) -> float:
    return min(timeit.repeat(work, number=number, repeat=5)) / number * 1e6


def signed_message(secret: bytes, nonce: str) -> tuple[str, str]:
    text = SiweMessage(
        domain=DOMAIN, address=Account.from_key(secret).address, statement="Sign in",
        uri=f"https://{DOMAIN}/login", version="1", chain_id=1, nonce=nonce, issued_at=NOW,
    ).to_text()
    signature = PrivateKey(secret).sign_recoverable(eip191_digest(text), hasher=None)
    return text, "0x" + (signature[:64] + bytes([signature[64] + 27])).hex()


def open_store(scratch: Path, name: str) -> Store:
    return Store.open(f"sqlite:///{scratch}/{name}.db", policy=load_policy("abcrecords"),
                      secrets=Secrets.load_or_create(scratch / "secrets"))


def new_sign_in(address: str, count: Iterator[int]) -> SignIn:
    return SignIn(
        address=address, chain_id=1, now=NOW, nonce=f"nonce{next(count):012d}",
        nonce_issued_at=NOW, nonce_remember_until=NOW + timedelta(minutes=10),
        session_id=secrets.token_urlsafe(32),
        session_expires_at=NOW + timedelta(days=14), ip="127.0.0.1", user_agent="wrk",
    )


def store_sign_in(scratch: Path, address: str) -> Callable[[], object]:
    store = open_store(scratch, "walletauth")
    count = iter(range(10**9))

    def sign_in() -> object:
        (outcome,) = store.sign_in_many([new_sign_in(address, count)])
        return outcome.result()

    sign_in()  # the subject exists from now on, as for a returning wallet
    return sign_in


def store_sign_in_batch(scratch: Path, size: int) -> Callable[[], object]:
    """A batch of ``size`` returning wallets, each signing in once."""
    store = open_store(scratch, f"batch{size}")
    addresses = [Account.create().address for _ in range(size)]
    count = iter(range(10**9))

    def sign_in_batch() -> object:
        outcomes = store.sign_in_many([new_sign_in(address, count) for address in addresses])
        if not all(outcome.result() for outcome in outcomes):
            raise RuntimeError("a sign-in of the batch was not written")
        return outcomes

    sign_in_batch()  # the subjects exist from now on
    return sign_in_batch


def raw_sqlite_sign_in(scratch: Path) -> Callable[[], object]:
    db = sqlite3.connect(scratch / "raw.db", isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.executescript(
        "CREATE TABLE nonces (nonce TEXT PRIMARY KEY, expires TEXT);"
        "CREATE TABLE subjects (id INTEGER PRIMARY KEY, ref TEXT UNIQUE, until TEXT);"
        "CREATE TABLE records (id INTEGER PRIMARY KEY, subject INT, data BLOB, expires TEXT);"
        "CREATE TABLE sessions (hash TEXT PRIMARY KEY, subject INT, expires TEXT);"
        "INSERT INTO subjects (ref, until) VALUES ('ref', '0');"
        "INSERT INTO records (subject, data, expires) VALUES (1, x'00', '0');"
    )
    count = iter(range(10**9))

    def sign_in() -> object:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO nonces VALUES (?, ?)", (f"n{next(count)}", "e"))
        db.execute("SELECT id, ref FROM subjects WHERE ref = ?", ("ref",)).fetchall()
        db.execute("SELECT id, data FROM records WHERE subject = 1 LIMIT 1").fetchall()
        db.execute("UPDATE records SET data = ?, expires = ? WHERE id = 1", (b"1" * 80, "e"))
        db.execute("INSERT INTO records (subject, data, expires) VALUES (1, ?, ?)",
                   (b"2" * 80, "e"))
        db.execute("UPDATE subjects SET until = ? WHERE id = 1", ("z",))
        db.execute("INSERT INTO sessions VALUES (?, ?, ?)", (secrets.token_hex(16), 1, "e"))
        return db.execute("COMMIT")

    return sign_in


def main() -> None:
    scratch = Path(tempfile.mkdtemp())
    secret = secrets.token_bytes(32)
    minter = NonceMinter({1: secrets.token_bytes(32)}, ttl=timedelta(minutes=5))
    nonce = minter.issue(now=NOW)
    text, signature = signed_message(secret, nonce)
    keyring = KeyRing.load_or_create(scratch, token_ttl=timedelta(minutes=15), now=NOW)
    tokens = TokenIssuer(keyring, issuer="http://x", audience="http://x",
                         leeway=timedelta(seconds=60))
    cookies = SessionCookies([secrets.token_bytes(32)])
    address = Account.from_key(secret).address
    rows = {
        "parse + verify (ecrecover)": best_us(
            lambda: verify_message(text, signature, domain=DOMAIN, nonce=nonce, now=NOW)),
        "ES256 access token": best_us(
            lambda: tokens.issue(address=address, chain_id=1, session_id="s" * 43, now=NOW)),
        "session cookie (AES-GCM)": best_us(lambda: cookies.issue(address, 1)),
        "nonce issue + check (HMAC)": best_us(
            lambda: minter.check(minter.issue(now=NOW), now=NOW)),
        "Store.sign_in, SQLite": best_us(store_sign_in(scratch, address), number=100),
        **{
            f"Store.sign_in_many, {size} at once (each)":
                best_us(store_sign_in_batch(scratch, size), number=100 // size + 1) / size
            for size in BATCH_SIZES
        },
        "same statements, bare sqlite3": best_us(raw_sqlite_sign_in(scratch), number=100),
    }
    for name, micros in rows.items():
        print(f"{name:<36}{micros:>9.1f} us")


if __name__ == "__main__":
    main()
