"""The Redis implementation of the short-lived state."""

from datetime import UTC, datetime, timedelta

import pytest

from walletauth.server.state.redis_state import RedisState
from walletauth.store.logins import SignIn

pytestmark = pytest.mark.redis

NOW = datetime.now(UTC)


@pytest.fixture
async def state(redis_url):
    state = RedisState.from_url(redis_url)
    await state.start(now=NOW)  # as a worker does when it starts
    yield state
    await state.close()


async def test_a_nonce_is_used_once(state):
    times = {"issued_at": NOW, "remember_until": NOW + timedelta(minutes=10), "now": NOW}
    assert await state.use_nonce("abcdefgh12345678", **times)
    assert not await state.use_nonce("abcdefgh12345678", **times)
    assert await state.use_nonce("another-nonce-000", **times)


async def test_nonces_issued_before_the_epoch_of_used_nonces_are_refused(state):
    until = NOW + timedelta(minutes=10)
    earlier = NOW - timedelta(seconds=1)
    assert not await state.use_nonce("issued-before-1", issued_at=earlier, remember_until=until,
                                     now=NOW)
    assert await state.use_nonce("issued-at-start", issued_at=NOW, remember_until=until, now=NOW)
    # Another worker: the epoch stays, and it learns the epoch it must date nonces from.
    assert await state.start(now=NOW + timedelta(minutes=1)) == NOW.replace(microsecond=0)
    assert await state.use_nonce("issued-at-start-2", issued_at=NOW, remember_until=until,
                                 now=NOW)


async def test_when_redis_lost_its_data_nothing_issued_before_the_loss_is_accepted(state):
    until = NOW + timedelta(minutes=10)
    assert await state.use_nonce("used-then-lost", issued_at=NOW, remember_until=until, now=NOW)
    await state._client.flushdb()  # what a restart without persistence leaves
    later = NOW + timedelta(seconds=30)

    assert not await state.use_nonce("used-then-lost", issued_at=NOW, remember_until=until,
                                     now=later)
    assert not await state.use_nonce("never-used", issued_at=later, remember_until=until,
                                     now=later)  # its second may predate the loss
    next_second = later + timedelta(seconds=1)
    assert await state.use_nonce("issued-after", issued_at=next_second, remember_until=until,
                                 now=next_second)


async def test_a_used_nonce_is_forgotten_after_its_time(state, redis_url):
    await state.use_nonce(
        "abcdefgh12345678", issued_at=NOW, remember_until=NOW + timedelta(minutes=10), now=NOW
    )
    ttl = await state._client.pttl("walletauth:used-nonce:abcdefgh12345678")
    assert 9 * 60_000 < ttl <= 10 * 60_000


async def test_a_session_lives_until_revoked(state):
    await state.create_session(
        "sid-0123456789abcdef", "0xabc", expires_at=NOW + timedelta(days=1), now=NOW
    )
    assert await state.session_active("sid-0123456789abcdef", now=NOW)
    await state.revoke_session("sid-0123456789abcdef")
    assert not await state.session_active("sid-0123456789abcdef", now=NOW)


async def test_hits_count_per_fixed_window_and_carry_into_the_next(state):
    start = datetime.fromtimestamp(1_800_000_000 - 1_800_000_000 % 60 + 50, UTC)
    window = timedelta(seconds=60)
    counts = [(await state.count_hit("k", window=window, now=start)).count for _ in range(3)]
    assert counts == [1, 2, 3]
    hits = await state.count_hit("k", window=window, now=start)
    assert (hits.current, hits.previous, hits.elapsed) == (4, 0, pytest.approx(50 / 60))
    next_window = await state.count_hit("k", window=window, now=start + timedelta(seconds=10))
    assert (next_window.current, next_window.previous, next_window.count) == (1, 4, 5)


async def test_a_counter_lives_through_its_window_and_the_next(state):
    start = datetime.fromtimestamp(1_800_000_000 - 1_800_000_000 % 60, UTC)
    await state.count_hit("k", window=timedelta(seconds=60), now=start)
    (counter,) = await state._client.keys("walletauth:hits:k:*")
    assert 119_000 < await state._client.pttl(counter) <= 120_000


async def test_ping_answers(state):
    await state.ping()


async def test_peeking_at_a_counter_reads_its_window_without_adding_a_hit(state):
    window = timedelta(seconds=60)
    start = datetime.fromtimestamp(1_800_000_000 - 1_800_000_000 % 60 + 50, UTC)
    never_hit = await state.peek_hits("k", window=window, now=start)
    for _ in range(2):
        await state.count_hit("k", window=window, now=start)

    peeks = [(await state.peek_hits("k", window=window, now=start)).count for _ in range(3)]
    later = await state.peek_hits("k", window=window, now=start + timedelta(seconds=10))

    assert never_hit.count == 0
    assert peeks == [2, 2, 2]
    assert (await state.count_hit("k", window=window, now=start)).count == 3
    assert (later.current, later.previous) == (0, 2)


ALICE = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def generations(name: str) -> list[str]:
    return [f"sid-{name}-{generation}-0123456789abcdef" for generation in range(4)]


async def test_a_refresh_rotates_a_session_within_its_family_keeping_its_ttl(state):
    first, second, third, _ = generations("a")
    await state.create_session(first, ALICE, expires_at=NOW + timedelta(days=1), now=NOW)

    rotated = await state.rotate_session(first, second, ALICE, now=NOW)
    again = await state.rotate_session(second, third, ALICE, now=NOW)

    for rotation in (rotated, again):
        assert not rotation.reused
        assert NOW + timedelta(hours=23) < rotation.expires_at <= NOW + timedelta(days=1)
    assert [await state.session_active(s, now=NOW) for s in (first, second, third)] == [
        False, False, True
    ]
    assert 23 * 3600_000 < await state._client.pttl(f"walletauth:session:{third}") <= 86400_000
    # Erasure finds the successors too, and counts one session: the others were replaced.
    assert await state.revoke_sessions_of(ALICE) == 1
    assert not await state.session_active(third, now=NOW)


async def test_a_rotated_session_used_again_ends_its_family_and_nothing_else(state):
    first, second, third, fourth = generations("a")
    other = generations("other")[0]
    for session_id in (first, other):
        await state.create_session(session_id, ALICE, expires_at=NOW + timedelta(days=1), now=NOW)
    await state.rotate_session(first, second, ALICE, now=NOW)
    await state.rotate_session(second, third, ALICE, now=NOW)

    reused = await state.rotate_session(first, fourth, ALICE, now=NOW)

    assert reused.expires_at is None and reused.reused
    for session_id in (first, second, third, fourth):
        assert not await state.session_active(session_id, now=NOW)
        assert not await state._client.exists(f"walletauth:session:{session_id}")
    assert await state.session_active(other, now=NOW)
    unknown = await state.rotate_session(second, fourth, ALICE, now=NOW)
    assert (unknown.expires_at, unknown.reused) == (None, False)


async def test_only_a_rotated_session_ends_its_family_when_seen_elsewhere(state):
    first, second, _, _ = generations("a")
    await state.create_session(first, ALICE, expires_at=NOW + timedelta(days=1), now=NOW)
    assert not await state.end_family_if_rotated(first)
    await state.rotate_session(first, second, ALICE, now=NOW)
    assert not await state.end_family_if_rotated(second)
    assert await state.session_active(second, now=NOW)

    assert await state.end_family_if_rotated(first)

    assert not await state.session_active(second, now=NOW)


SIGN_IN_TIMES = {
    "issued_at": NOW, "remember_until": NOW + timedelta(minutes=10),
    "session_expires_at": NOW + timedelta(days=14), "now": NOW,
}
ADDRESS = "0x" + "ab" * 20


async def test_a_sign_in_creates_its_session_only_with_the_nonce_s_use(state):
    assert await state.use_nonce_with_session(
        "sign-in-nonce-01", session_id="first", address=ADDRESS, **SIGN_IN_TIMES
    )
    assert await state.session_active("first", now=NOW)
    ttl = await state._client.pttl("walletauth:session:first")
    assert 14 * 86_400_000 - 60_000 < ttl <= 14 * 86_400_000

    # The nonce is used: a second sign-in with it creates no session.
    assert not await state.use_nonce_with_session(
        "sign-in-nonce-01", session_id="second", address=ADDRESS, **SIGN_IN_TIMES
    )
    assert not await state.session_active("second", now=NOW)
    assert not await state._client.exists("walletauth:session:second")
    # Nor does a nonce issued before the epoch, which stays unused.
    earlier = {**SIGN_IN_TIMES, "issued_at": NOW - timedelta(seconds=1)}
    assert not await state.use_nonce_with_session(
        "sign-in-nonce-02", session_id="third", address=ADDRESS, **earlier
    )
    assert not await state._client.exists("walletauth:session:third")
    assert not await state._client.exists("walletauth:used-nonce:sign-in-nonce-02")
    # Erasure finds the sign-in's session in the subject's index.
    assert await state.revoke_sessions_of(ADDRESS) == 1


async def test_a_sign_in_repeated_after_its_reply_was_lost_finds_its_own_win(state):
    """redis-py repeats a command on a new connection when the reply did not come: the
    script ran, so the nonce reads as used, but by this very sign-in (its session id)."""
    args = {"session_id": "the-session", "address": ADDRESS, **SIGN_IN_TIMES}
    assert await state.use_nonce_with_session("lost-reply-nonce", **args)
    assert await state.use_nonce_with_session("lost-reply-nonce", **args)
    assert await state.session_active("the-session", now=NOW)
    assert await state.revoke_sessions_of(ADDRESS) == 1


async def test_each_command_reports_how_long_it_waited_for_a_pooled_connection(redis_url):
    waits: list[float] = []
    state = RedisState.from_url(redis_url, max_connections=1, on_wait=waits.append)
    try:
        await state.start(now=NOW)
        await state.ping()
        assert len(waits) == 2
        assert all(0 <= wait < 2 for wait in waits)
    finally:
        await state.close()


def sign_in(nonce: str, session_id: str, *, issued_at: datetime = NOW) -> SignIn:
    return SignIn(address=ADDRESS, chain_id=1, now=NOW, nonce=nonce, nonce_issued_at=issued_at,
                  nonce_remember_until=NOW + timedelta(minutes=10), session_id=session_id,
                  session_expires_at=NOW + timedelta(days=14))


async def test_several_sign_ins_in_one_call_each_decide_as_alone(state):
    """use_nonces_with_sessions: each sign-in's answer is the one it would get alone, in
    order (a nonce used before, one twice in the call, one before the epoch), and the call
    repeated after a lost reply finds its own wins."""
    assert await state.use_nonce_with_session(
        "used-before", session_id="earlier", address=ADDRESS, **SIGN_IN_TIMES
    )
    batch = [
        sign_in("fresh-1", "s1"),
        sign_in("used-before", "s2"),
        sign_in("fresh-2", "s3"),
        sign_in("fresh-2", "s4"),  # the same nonce again: the first wins
        sign_in("too-old", "s5", issued_at=NOW - timedelta(seconds=1)),
    ]

    assert await state.use_nonces_with_sessions(batch) == [True, False, True, False, False]
    assert await state.use_nonces_with_sessions(batch) == [True, False, True, False, False]
    for session_id, live in (("s1", True), ("s2", False), ("s3", True), ("s4", False),
                             ("s5", False)):
        assert await state.session_active(session_id, now=NOW) is live
    assert not await state._client.exists("walletauth:used-nonce:too-old")
    assert await state.revoke_sessions_of(ADDRESS) == 3  # earlier, s1, s3
