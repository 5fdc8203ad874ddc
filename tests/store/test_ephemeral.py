"""Short-lived state for the HTTP service: nonces and sessions."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.store.conftest import ALICE, BOB, NOW
from walletauth.store import StoreError
from walletauth.store.logins import SignIn
from walletauth.store.schema import nonces, sessions
from walletauth.store.subject_state import lift_suspension, suspend

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


def test_a_nonce_is_used_exactly_once_by_50_concurrent_users(store):
    remember_until = NOW + timedelta(minutes=10)

    results = run_together(
        50, lambda: store.use_nonce("nonce-under-contention", remember_until=remember_until)
    )

    assert results.count(True) == 1
    assert results.count(False) == 49


def test_a_used_nonce_stays_used_until_the_purge_after_its_time(store):
    assert store.use_nonce("once-only-nonce", remember_until=NOW + timedelta(minutes=10))
    assert not store.use_nonce("once-only-nonce", remember_until=NOW + timedelta(minutes=20))

    store.purge(now=NOW + timedelta(minutes=10))

    with store.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(nonces)).scalar() == 0


def test_a_nonce_of_the_wrong_length_or_type_is_refused(store):
    for nonce in ("short", "n" * 129, None, 12345678):
        with pytest.raises(StoreError) as refused:
            store.use_nonce(nonce, remember_until=NOW + timedelta(minutes=5))
        assert refused.value.code == "invalid_argument"


def test_nonces_and_session_ids_at_their_length_bounds_are_taken_and_one_past_refused(store):
    """8 to 128 characters for a nonce, 16 to 512 for a session id, both ends included."""
    remember_until = NOW + timedelta(minutes=5)
    for nonce in ("n" * 8, "m" * 128):
        assert store.use_nonce(nonce, remember_until=remember_until)
    for session_id in ("s" * 16, "t" * 512):
        store.create_session(session_id, ALICE, expires_at=NOW + timedelta(hours=1))
        assert store.session_active(session_id, now=NOW)
    for refused in (
        lambda: store.use_nonce("n" * 7, remember_until=remember_until),
        lambda: store.create_session("s" * 15, ALICE, expires_at=NOW),
        lambda: store.create_session("t" * 513, ALICE, expires_at=NOW),
    ):
        with pytest.raises(StoreError) as error:
            refused()
        assert error.value.code == "invalid_argument"


def sign_in(store, nonce, session_id, address=ALICE):
    (outcome,) = store.sign_in_many(
        [
            SignIn(
                address=address,
                chain_id=1,
                now=NOW,
                nonce=nonce,
                nonce_issued_at=NOW,
                nonce_remember_until=NOW + timedelta(minutes=10),
                session_id=session_id,
                session_expires_at=NOW + timedelta(days=14),
                ip="192.0.2.1",
                user_agent="Mozilla/5.0 Firefox/128.0",
            )
        ]
    )
    return outcome.result()


def test_a_sign_in_uses_its_nonce_stores_the_login_and_starts_the_session_at_once(store):
    assert sign_in(store, "nonce-of-the-sign-in", f"{SESSION}-first")

    assert store.session_active(f"{SESSION}-first", now=NOW)
    assert store.records(ALICE, "service_provision", now=NOW)
    assert not store.use_nonce("nonce-of-the-sign-in", remember_until=NOW + timedelta(hours=1))


def test_a_sign_in_with_a_used_nonce_writes_nothing(store):
    assert sign_in(store, "nonce-of-the-sign-in", f"{SESSION}-first")
    before = store.records(ALICE, "service_provision", now=NOW)

    assert sign_in(store, "nonce-of-the-sign-in", f"{SESSION}-replay", address=BOB) is False

    assert not store.session_active(f"{SESSION}-replay", now=NOW)
    assert store.records(ALICE, "service_provision", now=NOW) == before
    assert store.subject_records(BOB, now=NOW) == []


def test_concurrent_sign_ins_with_one_nonce_let_exactly_one_in(store):
    results = run_together(
        20, lambda: sign_in(store, "nonce-under-contention", f"{SESSION}-{threading.get_ident()}")
    )

    assert results.count(True) == 1
    assert results.count(False) == 19
    with store.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(sessions)).scalar() == 1


def test_a_refused_sign_in_stores_nothing_but_keeps_its_nonce_used(store):
    suspend(store, ALICE, "service_provision", now=NOW)
    before = store.subject_records(ALICE, now=NOW)

    with pytest.raises(StoreError) as refused:
        sign_in(store, "nonce-of-a-refused-one", f"{SESSION}-refused")

    assert refused.value.code == "purpose_suspended"
    assert not store.session_active(f"{SESSION}-refused", now=NOW)
    assert store.subject_records(ALICE, now=NOW) == before
    lift_suspension(store, ALICE, "service_provision", now=NOW)
    assert sign_in(store, "nonce-of-a-refused-one", f"{SESSION}-replayed") is False


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


def test_bad_session_ids_are_refused(store):
    with pytest.raises(StoreError) as session:
        store.create_session("short", ALICE, expires_at=NOW)

    assert session.value.code == "invalid_argument"


def family(name: str) -> list[str]:
    return [f"{SESSION}-{name}-{generation}" for generation in range(4)]


def test_a_refresh_rotates_a_session_within_its_family_keeping_its_expiry(store):
    first, second, third, _ = family("a")
    expires_at = NOW + timedelta(days=14)
    store.create_session(first, ALICE, expires_at=expires_at)

    rotated = store.rotate_session(first, second, now=NOW + timedelta(days=1))
    again = store.rotate_session(second, third, now=NOW + timedelta(days=2))

    assert rotated.expires_at == again.expires_at == expires_at
    assert not rotated.reused and not again.reused
    assert [store.session_active(s, now=NOW) for s in (first, second, third)] == [
        False,
        False,
        True,
    ]
    assert not store.session_active(third, now=expires_at)


def test_a_rotated_session_used_again_ends_its_family_and_nothing_else(store):
    first, second, third, fourth = family("a")
    other = f"{SESSION}-other-sign-in"
    for session_id in (first, other):
        store.create_session(session_id, ALICE, expires_at=NOW + timedelta(days=14))
    store.rotate_session(first, second, now=NOW)
    store.rotate_session(second, third, now=NOW)

    reused = store.rotate_session(first, fourth, now=NOW)

    assert reused.expires_at is None and reused.reused
    assert not any(store.session_active(s, now=NOW) for s in (first, second, third, fourth))
    assert store.session_active(other, now=NOW)  # another sign-in of the same wallet
    with store.engine.connect() as connection:
        left = connection.execute(sa.select(sa.func.count()).select_from(sessions)).scalar()
    assert left == 1  # the family's rows are gone, rotated ones included
    # Presented once more, the cookie finds nothing at all.
    assert store.rotate_session(second, fourth, now=NOW) == store.rotate_session(
        "never-a-session-000", fourth, now=NOW
    )
    assert not store.end_family_if_rotated(third)


def test_only_a_rotated_session_ends_its_family_when_seen_elsewhere(store):
    first, second, _, _ = family("a")
    store.create_session(first, ALICE, expires_at=NOW + timedelta(days=14))
    assert not store.end_family_if_rotated(first)  # active: nothing ended
    store.rotate_session(first, second, now=NOW)
    assert not store.end_family_if_rotated(second)
    assert store.session_active(second, now=NOW)

    assert store.end_family_if_rotated(first)

    assert not store.session_active(second, now=NOW)


def test_of_concurrent_refreshes_with_one_session_exactly_one_rotates(store):
    first = f"{SESSION}-contended"
    store.create_session(first, ALICE, expires_at=NOW + timedelta(days=14))

    results = run_together(
        8, lambda: store.rotate_session(first, f"{SESSION}-{threading.get_ident()}", now=NOW)
    )

    rotated = [r for r in results if getattr(r, "expires_at", None) is not None]
    others = [r for r in results if r not in rotated]
    assert len(rotated) == 1, results
    # The others came too late: the first of them found the session rotated and ended the
    # family (two copies of one cookie were used), any later one found nothing left.
    assert all(type(r).__name__ == "Rotation" and r.expires_at is None for r in others)
    assert any(r.reused for r in others)
    assert not store.session_active(f"{SESSION}-contended", now=NOW)
    with store.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(sessions)).scalar() == 0


def test_an_expired_or_unknown_session_does_not_rotate(store):
    first, second, _, _ = family("a")
    store.create_session(first, ALICE, expires_at=NOW + timedelta(hours=1))
    late = store.rotate_session(first, second, now=NOW + timedelta(hours=1))
    assert (late.expires_at, late.reused) == (None, False)
    assert not store.session_active(second, now=NOW)


def test_erasing_a_subject_ends_its_rotated_sessions_too(store):
    first, second, _, _ = family("a")
    store.create_session(first, ALICE, expires_at=NOW + timedelta(days=14))
    store.rotate_session(first, second, now=NOW)
    assert store.revoke_sessions_of(ALICE) == 1  # one session, though two rows
    assert not store.session_active(second, now=NOW)
    with store.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(sessions)).scalar() == 0
