"""The rate limiter over a sliding window, on both counters (this worker's memory and
Redis), with an injected clock: no double burst at a window's edge, an honest
Retry-After, and IPv6 clients counted by their /64."""

from datetime import UTC, datetime, timedelta

import pytest

from walletauth.server.config.settings import RateLimits
from walletauth.server.state.base import Hits
from walletauth.server.state.redis_state import RedisState
from walletauth.server.web.errors import ServerError
from walletauth.server.web.local_hits import LocalHits
from walletauth.server.web.ratelimit import RateLimiter, client_network

KEY = b"rate-limit key for tests".ljust(32, b"\0")
LIMIT = 10
WINDOW = timedelta(seconds=60)
# A window's start: 1_800_000_000 is not a multiple of 60.
EDGE = datetime.fromtimestamp(1_800_000_000 - 1_800_000_000 % 60 + 60, UTC)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def counter(request):
    if request.param == "memory":
        yield LocalHits()
        return
    state = RedisState.from_url(request.getfixturevalue("redis_url"))
    yield state
    await state.close()


def limiter_of(counter) -> RateLimiter:
    limits = RateLimits(window_seconds=60, nonce_per_ip=LIMIT)
    return RateLimiter(counter, limits, key=KEY)


async def allowed(limiter: RateLimiter, at: datetime, ip: str = "198.51.100.7") -> bool:
    try:
        await limiter.nonce_requested(ip, now=at)
    except ServerError as error:
        assert error.code == "rate_limited"
        return False
    return True


async def test_the_limit_spent_before_a_windows_edge_is_not_spent_again_after_it(counter):
    """Fixed windows allowed 2 x LIMIT within two seconds here: the whole limit at the
    end of one window, the whole limit again at the start of the next."""
    limiter = limiter_of(counter)
    before = [await allowed(limiter, EDGE - timedelta(seconds=1)) for _ in range(LIMIT)]
    after = [await allowed(limiter, EDGE + timedelta(seconds=1)) for _ in range(LIMIT)]
    assert before == [True] * LIMIT
    assert after == [False] * LIMIT


async def test_the_allowance_comes_back_as_the_last_window_slides_out(counter):
    limiter = limiter_of(counter)
    for _ in range(LIMIT):
        assert await allowed(limiter, EDGE - timedelta(seconds=1))
    # Half-way through the next window half of those hits still count.
    halfway = EDGE + timedelta(seconds=30)
    results = [await allowed(limiter, halfway) for _ in range(LIMIT)]
    assert results == [True] * (LIMIT // 2) + [False] * (LIMIT - LIMIT // 2)


async def test_no_sixty_seconds_hold_more_than_the_limit_at_a_steady_pace(counter):
    """A client asking every second, around two edges: any 60 s span it was answered in
    holds at most LIMIT + the previous window's rounding (one) answered requests."""
    limiter = limiter_of(counter)
    start = EDGE - timedelta(seconds=90)
    answered = [
        start + timedelta(seconds=second)
        for second in range(180)
        if await allowed(limiter, start + timedelta(seconds=second))
    ]
    for first in answered:
        in_span = [t for t in answered if first <= t < first + WINDOW]
        assert len(in_span) <= LIMIT + 1, first


async def test_retry_after_names_the_moment_a_request_is_allowed_again(counter):
    """Two clients with the same history (a refused request counts too, so each probes
    once): one asks 2 s before the named moment and is refused, one at it and is served."""
    limiter = limiter_of(counter)
    refused_at = EDGE + timedelta(seconds=1)
    waits = []
    for ip in ("198.51.100.7", "198.51.100.8"):
        for _ in range(LIMIT):
            await limiter.nonce_requested(ip, now=EDGE - timedelta(seconds=1))
    for ip in ("198.51.100.7", "198.51.100.8"):
        with pytest.raises(ServerError) as refused:
            await limiter.nonce_requested(ip, now=refused_at)
        waits.append(timedelta(seconds=refused.value.retry_after))
    assert waits[0] == waits[1] > timedelta(seconds=2)
    assert not await allowed(limiter, refused_at + waits[0] - timedelta(seconds=2), "198.51.100.7")
    assert await allowed(limiter, refused_at + waits[1], "198.51.100.8")


def test_retry_after_when_the_current_window_alone_is_over():
    hits = Hits(current=15, previous=0, elapsed=0.5, window_seconds=60)
    # 30 s to the window's end, then 15 hits fade to 9 at share 0.4 of the next: 24 s.
    assert hits.retry_after(10) == 54
    assert Hits(current=9, previous=0, elapsed=0.5, window_seconds=60).retry_after(10) == 1


async def test_an_ipv6_client_counts_by_its_64(counter):
    limiter = limiter_of(counter)
    for host in range(LIMIT):
        assert await allowed(limiter, EDGE, ip=f"2001:db8:1:2::{host + 1:x}")
    assert not await allowed(limiter, EDGE, ip="2001:db8:1:2:ffff:ffff:ffff:ffff")
    assert await allowed(limiter, EDGE, ip="2001:db8:1:3::1")  # the next /64 is another
    assert await allowed(limiter, EDGE, ip="198.51.100.7")


@pytest.mark.parametrize(("ip", "network"), [
    ("198.51.100.7", "198.51.100.7"),
    ("2001:db8:1:2::1", "20010db800010002::/64"),
    ("2001:0db8:0001:0002:ffff::9", "20010db800010002::/64"),
    ("::ffff:198.51.100.7", "198.51.100.7"),
    ("testclient", "testclient"),
])
def test_client_networks(ip, network):
    assert client_network(ip) == network
