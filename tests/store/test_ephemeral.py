"""Short-lived state for the HTTP service: nonces, sessions, rate-limit counters."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.store.conftest import ALICE, BOB, NOW
from walletauth.store import StoreError
from walletauth.store.schema import rate_counters, sessions

SESSION = "sess-" + "0123456789abcdef" * 2


def run_together(count: int, work) -> list:
    """Run ``work`` in ``count`` threads released at the same instant; their results."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work()
        except BaseException as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_a_nonce_is_consumed_exactly_once_by_50_concurrent_consumers(store):
    store.issue_nonce("nonce-under-contention", expires_at=NOW + timedelta(minutes=5))

    results = run_together(50, lambda: store.consume_nonce("nonce-under-contention", now=NOW))

    assert results.count(True) == 1
    assert results.count(False) == 49


def test_an_expired_or_unknown_nonce_is_never_accepted(store):
    store.issue_nonce("short-lived-nonce", expires_at=NOW + timedelta(minutes=5))

    assert store.consume_nonce("short-lived-nonce", now=NOW + timedelta(minutes=5)) is False
    assert store.consume_nonce("never-issued-nonce", now=NOW) is False


def test_issuing_an_outstanding_nonce_again_is_refused(store):
    store.issue_nonce("one-nonce-only", expires_at=NOW + timedelta(minutes=5))

    with pytest.raises(StoreError) as duplicate:
        store.issue_nonce("one-nonce-only", expires_at=NOW + timedelta(minutes=9))
    with pytest.raises(StoreError) as short:
        store.issue_nonce("short", expires_at=NOW)

    assert duplicate.value.code == "duplicate_nonce"
    assert short.value.code == "invalid_argument"
    assert store.consume_nonce("one-nonce-only", now=NOW + timedelta(minutes=6)) is False


def test_a_session_is_active_until_it_expires_or_is_revoked(store):
    store.create_session(SESSION, ALICE, expires_at=NOW + timedelta(hours=1))

    assert store.session_active(SESSION, now=NOW)
    assert not store.session_active(SESSION, now=NOW + timedelta(hours=1))
    store.revoke_session(SESSION)
    assert not store.session_active(SESSION, now=NOW)
    assert not store.session_active("unknown-session-id-000", now=NOW)


def test_revoking_an_address_ends_all_its_sessions_and_no_one_elses(store):
    for index in range(3):
        store.create_session(f"{SESSION}-alice-{index}", ALICE, expires_at=NOW + timedelta(hours=1))
    store.create_session(f"{SESSION}-bob", BOB.lower(), expires_at=NOW + timedelta(hours=1))

    assert store.revoke_sessions_of(ALICE.upper().replace("0X", "0x")) == 3

    assert not any(store.session_active(f"{SESSION}-alice-{i}", now=NOW) for i in range(3))
    assert store.session_active(f"{SESSION}-bob", now=NOW)
    assert store.revoke_sessions_of("0x" + "1" * 40) == 0


def test_session_ids_are_stored_only_as_hashes(store):
    store.create_session(SESSION, ALICE, expires_at=NOW + timedelta(hours=1))

    with store.engine.connect() as connection:
        [stored] = connection.execute(sa.select(sessions.c.id_hash)).scalars().all()

    assert SESSION not in stored


def test_the_rate_counter_counts_hits_per_key_and_window(store):
    counts = [store.count_hit("ip:192.0.2.1", window=60, now=NOW + timedelta(seconds=s))
              for s in (0, 10, 59)]
    other_key = store.count_hit("ip:192.0.2.2", window=60, now=NOW)
    next_window = store.count_hit("ip:192.0.2.1", window=60, now=NOW + timedelta(seconds=60))

    assert counts == [1, 2, 3]
    assert other_key == 1
    assert next_window == 1


def test_concurrent_hits_are_all_counted(store):
    results = run_together(20, lambda: store.count_hit("login:burst", window=300, now=NOW))

    assert sorted(results) == list(range(1, 21))


def test_rate_limit_keys_are_stored_only_as_keyed_hashes(store):
    store.count_hit("ip:192.0.2.1", window=60, now=NOW)

    with store.engine.connect() as connection:
        [stored] = connection.execute(sa.select(rate_counters.c.key_hash)).scalars().all()

    assert "192.0.2.1" not in stored


@pytest.mark.parametrize("window", [0, -60, 10**30, 1.5, True], ids=repr)
def test_bad_windows_are_refused(store, window):
    with pytest.raises(StoreError) as refused:
        store.count_hit("k", window=window, now=NOW)

    assert refused.value.code == "invalid_argument"


def test_bad_session_ids_are_refused(store):
    with pytest.raises(StoreError) as session:
        store.create_session("short", ALICE, expires_at=NOW)

    assert session.value.code == "invalid_argument"
