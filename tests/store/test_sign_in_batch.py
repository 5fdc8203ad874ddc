"""Sign-ins written together (Store.sign_in_many, group commit): each ends as it would
alone, in one transaction, and a failing commit fails them all with nothing left behind."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import timedelta

import psycopg
import pytest
import sqlalchemy as sa

from tests.store.conftest import ALICE, BOB, CAROL, NOW, table_counts
from walletauth.store import StoreError
from walletauth.store.ephemeral import session_hash
from walletauth.store.keyschema import subject_keys
from walletauth.store.login_sql import TransactionLost
from walletauth.store.logins import SignIn
from walletauth.store.schema import nonces, sessions, subjects
from walletauth.store.subject_state import suspend

DAVE = "0x" + "d" * 40
ERIN = "0x" + "e" * 40
REMEMBER = NOW + timedelta(minutes=10)


def sign_in(address: str, name: str) -> SignIn:
    """A sign-in whose nonce and session are named after ``name``."""
    return SignIn(
        address=address,
        chain_id=1,
        now=NOW,
        nonce=f"nonce-{name}",
        nonce_issued_at=NOW,
        nonce_remember_until=REMEMBER,
        session_id=f"session-{name}-0123456789abcdef",
        session_expires_at=NOW + timedelta(days=14),
        ip="192.0.2.1",
        user_agent="Mozilla/5.0 Firefox/128.0",
    )


def column(store, table, name) -> set:
    with store.engine.connect() as connection:
        return set(connection.execute(sa.select(table.c[name])).scalars())


def key_count(store) -> int:
    with store.keys.engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(subject_keys)).scalar_one()


def record_pairs(store, address) -> list[tuple[str, str]]:
    return sorted((r.category, r.purpose) for r in store.subject_records(address, now=NOW))


def run_ddl(store, sqlite: list[str], postgresql: list[str]) -> None:
    statements = sqlite if store.engine.dialect.name == "sqlite" else postgresql
    with store.engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)


def fail_the_session_insert_of(store, name: str) -> None:
    """Make the database refuse the session of sign-in ``name``: its last statement, after
    it created its subject, key and records."""
    id_hash = session_hash(sign_in(ALICE, name).session_id)
    run_ddl(
        store,
        sqlite=[
            f"CREATE TRIGGER fail_one BEFORE INSERT ON sessions WHEN NEW.id_hash = '{id_hash}'"
            " BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
        ],
        postgresql=[
            "CREATE FUNCTION fail_one() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            f" IF NEW.id_hash = '{id_hash}' THEN RAISE EXCEPTION 'injected failure'; END IF;"
            " RETURN NEW; END $$",
            "CREATE TRIGGER fail_one BEFORE INSERT ON sessions"
            " FOR EACH ROW EXECUTE FUNCTION fail_one()",
        ],
    )


def fail_every_commit_with_a_session(store) -> None:
    """A deferred foreign key that every session insert violates: checked at COMMIT."""
    run_ddl(
        store,
        sqlite=[
            "CREATE TABLE commit_fails (subject_id INTEGER REFERENCES subjects (id)"
            " DEFERRABLE INITIALLY DEFERRED)",
            "CREATE TRIGGER commit_fails AFTER INSERT ON sessions"
            " BEGIN INSERT INTO commit_fails VALUES (-1); END",
        ],
        postgresql=[
            "CREATE TABLE commit_fails (subject_id INTEGER REFERENCES subjects (id)"
            " DEFERRABLE INITIALLY DEFERRED)",
            "CREATE FUNCTION commit_fails() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " INSERT INTO commit_fails VALUES (-1); RETURN NULL; END $$",
            "CREATE TRIGGER commit_fails AFTER INSERT ON sessions"
            " FOR EACH ROW EXECUTE FUNCTION commit_fails()",
        ],
    )


def test_each_sign_in_of_a_batch_ends_as_it_would_alone(store):
    yesterday = replace(
        sign_in(BOB, "bob-yesterday"),
        now=NOW - timedelta(days=1),
        session_expires_at=NOW + timedelta(days=1),
    )
    assert store.sign_in_many([yesterday])[0].result()
    suspend(store, CAROL, "service_provision", now=NOW)
    assert store.use_nonce("nonce-used-before", remember_until=REMEMBER)
    fail_the_session_insert_of(store, "dave")
    batch = [
        sign_in(ALICE, "alice-1"),  # a fresh wallet
        sign_in(BOB, "bob"),  # a returning one
        sign_in(ALICE, "alice-2"),  # the same wallet again, now returning
        replace(sign_in(ERIN, "replay"), nonce="nonce-used-before"),
        sign_in(ERIN, "twice"),  # one nonce twice in the batch: the first wins
        replace(sign_in(ALICE, "twice-again"), nonce="nonce-twice"),
        sign_in(CAROL, "carol"),  # refused by the policy
        sign_in(DAVE, "dave"),  # fails in the database after writing most of it
        replace(sign_in(ERIN, "naive"), now=NOW.replace(tzinfo=None)),  # a bad argument
    ]

    outcomes = store.sign_in_many(batch)

    assert [outcome.written for outcome in outcomes] == [
        True,
        True,
        True,
        False,
        True,
        False,
        False,
        False,
        False,
    ]
    assert [outcome.error for outcome in outcomes[:6]] == [None] * 6
    assert outcomes[6].error.code == "purpose_suspended"
    assert "injected failure" in str(outcomes[7].error)
    assert outcomes[8].error.code == "naive_datetime"
    with pytest.raises(StoreError):
        outcomes[6].result()

    assert column(store, sessions, "id_hash") == {
        session_hash(batch[index].session_id) for index in (1, 0, 2, 4)
    } | {session_hash(yesterday.session_id)}
    assert column(store, nonces, "nonce") == {
        "nonce-bob-yesterday",
        "nonce-used-before",
        "nonce-alice-1",
        "nonce-bob",
        "nonce-alice-2",
        "nonce-twice",
        "nonce-carol",  # a refusal keeps its nonce used
    }
    assert len(column(store, subjects, "id")) == key_count(store) == 4  # not Dave's
    assert record_pairs(store, ALICE) == [
        ("access_log", "service_provision"),
        ("access_log", "service_provision"),
        ("wallet_address", "service_provision"),
    ]
    (wallet,) = store.records(ALICE, "service_provision", now=NOW, category="wallet_address")
    assert wallet.data["first_sign_in"] == wallet.data["last_sign_in"] == NOW.isoformat()
    (bob_wallet,) = store.records(BOB, "service_provision", now=NOW, category="wallet_address")
    assert bob_wallet.data["first_sign_in"] == (NOW - timedelta(days=1)).isoformat()
    assert bob_wallet.data["last_sign_in"] == NOW.isoformat()
    assert record_pairs(store, ERIN) == [
        ("access_log", "service_provision"),
        ("wallet_address", "service_provision"),
    ]
    assert record_pairs(store, CAROL) == []
    assert store.subject_records(DAVE, now=NOW) == []
    assert store.use_nonce("nonce-dave", remember_until=REMEMBER)  # undone with the rest


def test_a_lone_sign_in_that_fails_leaves_nothing_not_even_its_nonce(store):
    fail_the_session_insert_of(store, "dave")
    before = table_counts(store)

    (outcome,) = store.sign_in_many([sign_in(DAVE, "dave")])

    assert "injected failure" in str(outcome.error)
    assert table_counts(store) == before
    assert store.use_nonce("nonce-dave", remember_until=REMEMBER)


def test_a_returning_wallet_whose_key_is_gone_fails_alone(store):
    assert store.sign_in_many([sign_in(BOB, "bob-first")])[0].result()
    (key_id,) = column(store, subjects, "key_id")
    store.keys.destroy([key_id])

    outcomes = store.sign_in_many([sign_in(ALICE, "alice"), sign_in(BOB, "bob")])

    assert outcomes[0].result() is True
    assert outcomes[1].error.code == "subject_key_missing"
    assert store.use_nonce("nonce-bob", remember_until=REMEMBER)
    assert store.session_active(sign_in(ALICE, "alice").session_id, now=NOW)
    assert not store.session_active(sign_in(BOB, "bob").session_id, now=NOW)


def test_a_failing_commit_fails_every_sign_in_and_destroys_the_keys_it_made(store):
    before_it = replace(sign_in(BOB, "bob-before"), session_expires_at=NOW + timedelta(days=1))
    assert store.sign_in_many([before_it])[0].result()
    fail_every_commit_with_a_session(store)
    before = table_counts(store)

    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)) as failed:
        store.sign_in_many([sign_in(ALICE, "alice"), sign_in(BOB, "bob"), sign_in(CAROL, "carol")])

    assert "foreign key" in str(failed.value).lower()
    assert table_counts(store) == before
    assert key_count(store) == 1  # Bob's, from before; none of Alice's or Carol's


def test_a_batch_checks_out_one_connection_of_each_database(store):
    wallets = [ALICE, BOB, CAROL]
    assert all(
        outcome.result()
        for outcome in store.sign_in_many(
            [sign_in(address, f"first-{index}") for index, address in enumerate(wallets)]
        )
    )
    checkouts = {store.engine: 0, store.keys.engine: 0}
    for engine in checkouts:
        sa.event.listen(engine, "checkout", lambda *_args, engine=engine: count(engine))

    def count(engine) -> None:
        checkouts[engine] += 1

    outcomes = store.sign_in_many(
        [sign_in(address, f"again-{index}") for index, address in enumerate(wallets)]
    )

    assert [outcome.result() for outcome in outcomes] == [True] * 3  # each read its key
    # On PostgreSQL with the key store in the records' database, the subject lookup reads
    # each key along: no key-store connection at all.
    keys_along = store.engine.dialect.name == "postgresql" and (
        store.engine.url == store.keys.engine.url
    )
    assert list(checkouts.values()) == [1, 0 if keys_along else 1]


# Only SQLite rolls a whole transaction back from inside a statement (RAISE(ROLLBACK)).
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_sign_in_whose_error_takes_the_whole_transaction_fails_the_batch(store):
    id_hash = session_hash(sign_in(BOB, "bob").session_id)
    run_ddl(
        store,
        sqlite=[
            f"CREATE TRIGGER lose_all BEFORE INSERT ON sessions WHEN NEW.id_hash = '{id_hash}'"
            " BEGIN SELECT RAISE(ROLLBACK, 'the whole transaction is gone'); END",
        ],
        postgresql=[],
    )
    before = table_counts(store)

    with pytest.raises(TransactionLost):
        store.sign_in_many([sign_in(ALICE, "alice"), sign_in(BOB, "bob"), sign_in(CAROL, "carol")])

    assert table_counts(store) == before  # Alice's and Carol's too: none is answered True


def test_a_sign_ins_records_hold_its_chain_address_and_browser(store):
    """What _checked carries from the SignIn to the records, field by field (the batch
    test above checks which records are written, not what they hold)."""
    signed = replace(sign_in(ALICE, "fields"), chain_id=137)

    (outcome,) = store.sign_in_many([signed])

    assert outcome.result() is True
    (wallet,) = store.records(ALICE, "service_provision", now=NOW, category="wallet_address")
    assert wallet.data == {
        "chain_id": 137,
        "first_sign_in": NOW.isoformat(),
        "last_sign_in": NOW.isoformat(),
    }
    (log,) = store.records(ALICE, "service_provision", now=NOW, category="access_log")
    assert log.data == {"ip": "192.0.2.0/24", "browser": "Firefox 128", "at": NOW.isoformat()}
