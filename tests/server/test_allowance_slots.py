"""A per-day allowance (rights requests per wallet) as an exact sliding log, in one
worker's memory and in Redis: N slots in any window, a refusal takes none, and its
Retry-After is when the oldest slot frees — never longer than the window, wherever in a
fixed window the slots were taken."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.server.test_sliding_limits import counter
from walletauth.server.state.base import HitCounter
from walletauth.server.state.redis_state import RedisState
from walletauth.server.web.local_hits import LocalHits

__all__ = ["counter"]  # the memory and Redis counters, as the sliding limits' tests use

DAY = timedelta(days=1)
# Just after a fixed day window begins: where the two-window estimate told a refused
# wallet to come back in 36 hours.
MIDNIGHT = datetime(2027, 1, 5, 0, 0, 5, tzinfo=UTC)


async def take(counter: HitCounter, at: datetime, key: str = "wallet") -> int | None:
    return await counter.take_slot(key, limit=3, window=DAY, now=at)


async def test_the_limit_holds_in_any_window_and_the_wait_ends_when_the_oldest_frees(counter):
    taken = [await take(counter, MIDNIGHT + timedelta(hours=hour)) for hour in (0, 1, 2)]
    refused = await take(counter, MIDNIGHT + timedelta(hours=3))

    assert taken == [None, None, None]
    assert refused == 21 * 3600  # the first slot, taken at 00:00:05, frees at 00:00:05 next day
    assert await take(counter, MIDNIGHT + DAY - timedelta(seconds=1)) == 1
    assert await take(counter, MIDNIGHT + DAY) is None
    assert await take(counter, MIDNIGHT + DAY + timedelta(minutes=1)) == 3600 - 60


async def test_a_refusal_takes_no_slot(counter):
    for _ in range(3):
        await take(counter, MIDNIGHT)
    for minute in range(1, 100):
        assert await take(counter, MIDNIGHT + timedelta(minutes=minute)) is not None

    assert await take(counter, MIDNIGHT + DAY) is None


async def test_keys_have_their_own_slots(counter):
    for _ in range(3):
        await take(counter, MIDNIGHT, "wallet")

    assert await take(counter, MIDNIGHT, "another wallet") is None
    assert await take(counter, MIDNIGHT, "wallet") == DAY.total_seconds()


def test_memory_forgets_keys_whose_slots_have_all_freed():
    hits = LocalHits()
    for index in range(3000):
        hits.take(f"early-{index}", limit=3, window=DAY, now=MIDNIGHT)
    for index in range(3000):
        hits.take(f"late-{index}", limit=3, window=DAY, now=MIDNIGHT + 2 * DAY)

    assert sorted(hits._slots) == sorted(f"late-{index}" for index in range(3000))


@pytest.mark.redis
async def test_a_redis_log_expires_with_its_last_slot(redis_url):
    state = RedisState.from_url(redis_url)
    try:
        await take(state, MIDNIGHT)
        (log,) = await state._client.keys("walletauth:slots:*")
        assert 0 < await state._client.pttl(log) <= DAY.total_seconds() * 1000
    finally:
        await state.close()
