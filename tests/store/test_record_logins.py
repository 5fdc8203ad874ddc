"""Several sign-ins' records written together (Store.record_logins, the Redis path's batch):
each ends as it would alone (record_login), on PostgreSQL the returning wallets in one
transaction, and a batch whose transaction fails loses nothing: each then runs alone."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

import psycopg
import pytest

from tests.store.conftest import ALICE, BOB, CAROL, NOW, table_counts
from walletauth.store import logins as logins_module
from walletauth.store.login_sql import LoginsTogether
from walletauth.store.logins import SignIn
from walletauth.store.schema import nonces, sessions
from walletauth.store.subject_state import suspend

DAVE = "0x" + "d" * 40
ERIN = "0x" + "e" * 40


def sign_in(address: str, name: str, *, days_ago: int = 0) -> SignIn:
    now = NOW - timedelta(days=days_ago)
    return SignIn(
        address=address,
        chain_id=1,
        now=now,
        nonce=f"nonce-{name}",
        nonce_issued_at=now,
        nonce_remember_until=now + timedelta(minutes=10),
        session_id=f"session-{name}-0123456789abcdef",
        session_expires_at=now + timedelta(days=14),
        ip="192.0.2.1",
        user_agent="Mozilla/5.0 Firefox/128.0",
    )


def pairs(store, address) -> list[tuple[str, str]]:
    return sorted((r.category, r.purpose) for r in store.subject_records(address, now=NOW))


@pytest.fixture
def run_alone(monkeypatch) -> list[str]:
    """The addresses of the sign-ins that ran in a transaction of their own, in order."""
    ran: list[str] = []
    logins_alone = logins_module._logins

    def spied(store, logins):
        ran.extend(login.checksum for login in logins if not isinstance(login, Exception))
        return logins_alone(store, logins)

    monkeypatch.setattr(logins_module, "_logins", spied)
    return ran


def returning(store, *addresses: str) -> None:
    """Wallets that signed in yesterday."""
    for address in addresses:
        (outcome,) = store.record_logins([sign_in(address, f"{address}-y", days_ago=1)])
        assert outcome.result() is True


def test_each_sign_in_of_the_batch_ends_as_it_would_alone(store, run_alone):
    returning(store, BOB, DAVE)
    suspend(store, CAROL, "service_provision", now=NOW)
    before = table_counts(store)
    run_alone.clear()
    batch = [
        sign_in(ALICE, "alice-1"),  # a first sign-in: creates its subject
        sign_in(BOB, "bob"),  # returning
        sign_in(ALICE, "alice-2"),  # the same wallet again, after the first
        sign_in(CAROL, "carol"),  # refused by the policy
        sign_in(DAVE, "dave"),  # returning
        replace(sign_in(ERIN, "naive"), now=NOW.replace(tzinfo=None)),  # a bad argument
    ]

    outcomes = store.record_logins(batch)

    assert [outcome.written for outcome in outcomes] == [True, True, True, False, True, False]
    assert outcomes[3].error.code == "purpose_suspended"
    assert outcomes[5].error.code == "naive_datetime"
    assert [outcome.error for index, outcome in enumerate(outcomes) if index not in (3, 5)] == (
        [None] * 4
    )
    # Alice's two and nothing else ran alone on PostgreSQL; SQLite ran the batch as one.
    if store.engine.dialect.name == "postgresql":
        assert run_alone == [ALICE, ALICE]
    else:
        assert len(run_alone) == 5
    for address in (BOB, DAVE):
        (wallet,) = store.records(address, "service_provision", now=NOW, category="wallet_address")
        assert wallet.data == {
            "chain_id": 1,
            "first_sign_in": (NOW - timedelta(days=1)).isoformat(),
            "last_sign_in": NOW.isoformat(),
        }
        (log,) = [
            record.data
            for record in store.subject_records(address, now=NOW)
            if record.category == "access_log" and record.collected_at == NOW
        ]
        assert log == {"ip": "192.0.2.0/24", "browser": "Firefox 128", "at": NOW.isoformat()}
        assert pairs(store, address) == [
            ("access_log", "service_provision"),
            ("access_log", "service_provision"),
            ("wallet_address", "service_provision"),
        ]
    assert pairs(store, ALICE) == [
        ("access_log", "service_provision"),
        ("access_log", "service_provision"),
        ("wallet_address", "service_provision"),
    ]
    assert pairs(store, CAROL) == []
    assert store.subject_records(ERIN, now=NOW) == []
    after = table_counts(store)
    # Nonces and sessions are kept elsewhere (Redis): none written here.
    assert after[nonces.name] == before[nonces.name]
    assert after[sessions.name] == before[sessions.name]


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_batch_whose_transaction_fails_runs_each_alone_and_loses_nothing(
    store, run_alone, monkeypatch
):
    returning(store, BOB, CAROL, DAVE)
    run_alone.clear()
    write = LoginsTogether.write

    def deadlocked(self) -> None:
        write(self)  # the statement ran: the rollback must undo it
        raise psycopg.errors.DeadlockDetected("deadlock detected (test)")

    monkeypatch.setattr(LoginsTogether, "write", deadlocked)

    outcomes = store.record_logins(
        [sign_in(BOB, "bob"), sign_in(CAROL, "carol"), sign_in(DAVE, "dave")]
    )

    assert [outcome.result() for outcome in outcomes] == [True, True, True]
    assert len(run_alone) == 3
    for address in (BOB, CAROL, DAVE):  # yesterday's and today's, each once
        assert pairs(store, address) == [
            ("access_log", "service_provision"),
            ("access_log", "service_provision"),
            ("wallet_address", "service_provision"),
        ]


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_two_workers_batches_of_the_same_wallets_all_commit_and_lose_no_write(store, run_alone):
    """Two threads (as two workers) sign the same wallets in, listed in opposite orders,
    over and over: each batch waits for the other's locks and commits whole (none falls
    back to running alone, as a deadlocked one would), and every sign-in's access log is
    there once."""
    wallets = [BOB, CAROL, DAVE, ERIN]
    returning(store, *wallets)
    run_alone.clear()
    rounds = 15
    failures: list[BaseException] = []

    def sign_in_rounds(order: list[str], name: str) -> None:
        try:
            for number in range(rounds):
                outcomes = store.record_logins(
                    [sign_in(address, f"{name}-{number}-{address}") for address in order]
                )
                assert all(outcome.result() for outcome in outcomes)
        except BaseException as error:  # reported by the test's thread
            failures.append(error)

    threads = [
        threading.Thread(target=sign_in_rounds, args=(wallets, "a")),
        threading.Thread(target=sign_in_rounds, args=(wallets[::-1], "b")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert failures == []
    assert run_alone == []
    for address in wallets:
        logs = store.records(address, "service_provision", now=NOW, category="access_log")
        assert len(logs) == 1 + 2 * rounds
