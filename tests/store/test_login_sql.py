"""The sign-in's statements on the DBAPI connection (walletauth.store.login_sql) write
rows that the rest of the store, on SQLAlchemy, reads back exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from tests.store.conftest import ALICE, NOW, table_counts
from walletauth.store import StoreError
from walletauth.store.ephemeral import session_hash
from walletauth.store.login_sql import sqlite_time
from walletauth.store.logins import SignIn
from walletauth.store.schema import nonces, records, sessions, subjects
from walletauth.store.subject_state import suspend
from walletauth.store.types import UTCDateTime

SESSION = "sess-" + "0123456789abcdef" * 2


def sign_in(store, *, now=NOW, nonce="nonce-of-a-sign-in", session=SESSION, days=14):
    return sign_in_of(store, ALICE, now=now, nonce=nonce, session=session, days=days)


def sign_in_of(store, address, *, now=NOW, nonce="nonce-of-a-sign-in", session=SESSION, days=14):
    (outcome,) = store.sign_in_many([SignIn(
        address=address, chain_id=1, now=now, nonce=nonce, nonce_issued_at=now,
        nonce_remember_until=now + timedelta(minutes=10), session_id=session,
        session_expires_at=now + timedelta(days=days), ip="192.0.2.1",
        user_agent="Mozilla/5.0 Firefox/128.0",
    )])
    return outcome.result()


def rows(store, table):
    with store.engine.connect() as connection:
        return connection.execute(sa.select(table)).all()


def test_times_written_by_a_sign_in_read_back_through_sqlalchemy_unchanged(store):
    assert sign_in(store)

    (nonce,) = rows(store, nonces)
    assert nonce.expires_at == NOW + timedelta(minutes=10)
    (session,) = rows(store, sessions)
    assert session.id_hash == session_hash(SESSION)
    assert session.expires_at == NOW + timedelta(days=14)
    for record in rows(store, records):
        assert record.collected_at == record.updated_at == NOW
        assert record.expires_at > NOW
        assert record.source == "login"
        assert record.policy_version == store.policy.version


_SQLITE = sa.create_engine("sqlite://").dialect
_SQLALCHEMY_SQLITE_TIME = UTCDateTime().dialect_impl(_SQLITE).bind_processor(_SQLITE)
_OFFSETS = st.integers(min_value=-23 * 60, max_value=23 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31),
                    timezones=st.just(UTC) | _OFFSETS))
def test_sqlite_times_are_bound_as_the_column_type_binds_them(moment):
    assert sqlite_time(moment) == _SQLALCHEMY_SQLITE_TIME(moment)


def test_a_naive_time_is_refused_as_the_column_type_refuses_it():
    naive = datetime(2026, 3, 1, 12, 0)
    with pytest.raises(StoreError) as direct:
        sqlite_time(naive)
    with pytest.raises(StoreError) as through_sqlalchemy:
        _SQLALCHEMY_SQLITE_TIME(naive)
    assert direct.value.code == through_sqlalchemy.value.code == "naive_datetime"
    assert str(direct.value) == str(through_sqlalchemy.value)


def test_the_subject_is_kept_until_the_latest_expiry_and_never_moved_back(store):
    assert sign_in(store, days=4000)
    (first,) = rows(store, subjects)
    assert first.retained_until == NOW + timedelta(days=4000)

    assert sign_in(store, now=NOW + timedelta(days=1), nonce="second-nonce", session=SESSION + "2",
                   days=1)

    (after,) = rows(store, subjects)
    assert after.retained_until == first.retained_until


def test_a_returning_sign_in_updates_the_wallet_record_in_place(store):
    assert sign_in(store)
    later = NOW + timedelta(days=3)
    assert sign_in(store, now=later, nonce="second-nonce", session=SESSION + "2")

    (wallet,) = store.records(ALICE, "service_provision", now=later, category="wallet_address")
    assert wallet.collected_at == NOW
    assert wallet.updated_at == later
    assert wallet.data["first_sign_in"] == NOW.isoformat()
    assert wallet.data["last_sign_in"] == later.isoformat()


def test_a_refused_login_without_a_nonce_writes_nothing(store):
    suspend(store, ALICE, "service_provision", now=NOW)
    before = table_counts(store)

    with pytest.raises(StoreError) as refused:
        store.record_login(ALICE, 1, now=NOW, ip="192.0.2.1")

    assert refused.value.code == "purpose_suspended"
    assert table_counts(store) == before


def test_a_sign_in_with_a_bad_address_is_refused_before_the_nonce_is_used(store):
    with pytest.raises(StoreError) as refused:
        sign_in_of(store, "0x1234", days=1)

    assert refused.value.code == "invalid_address"
    assert store.use_nonce("nonce-of-a-sign-in", remember_until=NOW + timedelta(minutes=10))


@pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_key_read_in_autocommit_returns_its_connection_as_it_found_it(store):
    # On PostgreSQL the key is read in autocommit (no BEGIN and COMMIT round trips): the
    # connection must go back to the pool in the mode the engine's other users expect.
    from psycopg.pq import TransactionStatus

    assert sign_in(store)  # a first sign-in creates the key
    (subject,) = rows(store, subjects)
    returned = []
    sa.event.listen(store.keys.engine, "checkin", lambda dbapi_connection, _record: (
        returned.append((dbapi_connection.autocommit, dbapi_connection.info.transaction_status))
    ))

    assert store.keys.get(subject.key_id) is not None  # outside a sign-in: a read of its own

    assert returned == [(False, TransactionStatus.IDLE)]


@pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_with_the_key_store_in_the_same_database_a_sign_in_reads_the_key_along(store):
    """One round trip: the subject lookup also reads the wallet record and the key row, so
    a returning sign-in checks out no key-store connection of its own."""
    assert sign_in(store)
    checkouts = []
    sa.event.listen(store.keys.engine, "checkout", lambda *_args: checkouts.append(1))

    later = NOW + timedelta(hours=1)
    assert sign_in(store, now=later, nonce="a-second-nonce", session="sess-" + "f" * 32)

    assert checkouts == []
    assert len(rows(store, sessions)) == 2
    wallet = store.subject_records(ALICE, now=later)
    assert {record.data.get("last_sign_in") for record in wallet} >= {later.isoformat()}
    assert len(rows(store, records)) == 3  # one wallet record, two access-log entries


@pytest.mark.parametrize(
    "backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_a_key_read_along_that_was_destroyed_refuses_the_sign_in_and_writes_nothing(store):
    assert sign_in(store)
    (subject,) = rows(store, subjects)
    store.keys.destroy([subject.key_id])  # as an erasure's crypto-shredding does first
    before = table_counts(store)

    with pytest.raises(StoreError) as refused:
        sign_in(store, nonce="a-second-nonce", session="sess-" + "f" * 32)

    assert refused.value.code == "subject_key_missing"
    assert table_counts(store) == before  # a lone sign-in that fails is rolled back whole
