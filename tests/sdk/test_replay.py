"""Replay guards: in process, and shared through a real Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.sdk.conftest import refused
from walletauth.sdk import InMemoryReplayGuard, RedisReplayGuard

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


def test_an_id_is_claimed_once_until_it_expires():
    guard = InMemoryReplayGuard()
    assert guard.claim("ntc_1", now=NOW, until=LATER)
    assert not guard.claim("ntc_1", now=NOW + timedelta(minutes=4), until=LATER)
    assert guard.claim("ntc_1", now=LATER, until=LATER + timedelta(minutes=5))


def test_a_released_id_may_be_claimed_again():
    guard = InMemoryReplayGuard()
    guard.claim("ntc_1", now=NOW, until=LATER)
    guard.release("ntc_1")
    assert guard.claim("ntc_1", now=NOW, until=LATER)


def test_the_in_memory_guard_is_bounded():
    guard = InMemoryReplayGuard(max_entries=3)
    for number in range(10):
        guard.claim(f"ntc_{number}", now=NOW, until=LATER)
    assert len(guard) == 3
    assert not guard.claim("ntc_9", now=NOW, until=LATER)  # the newest are kept


def test_expired_claims_are_forgotten():
    guard = InMemoryReplayGuard()
    for number in range(5):
        guard.claim(f"ntc_{number}", now=NOW, until=LATER)
    guard.claim("ntc_late", now=LATER, until=LATER + timedelta(minutes=5))
    assert len(guard) == 1


@pytest.mark.redis
def test_the_redis_guard_is_shared_between_clients(redis_url):
    first = redis.Redis.from_url(redis_url)
    second = redis.Redis.from_url(redis_url)
    try:
        now = datetime.now(UTC)
        until = now + timedelta(minutes=5)
        assert RedisReplayGuard(first).claim("ntc_1", now=now, until=until)
        assert not RedisReplayGuard(second).claim("ntc_1", now=now, until=until)
        assert 0 < second.ttl("walletauth:notice:ntc_1") <= 301
        RedisReplayGuard(second).release("ntc_1")
        assert RedisReplayGuard(first).claim("ntc_1", now=now, until=until)
    finally:
        first.close()
        second.close()


def test_an_unreachable_redis_is_replay_guard_unavailable():
    client = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    guard = RedisReplayGuard(client)
    with refused("replay_guard_unavailable"):
        guard.claim("ntc_1", now=NOW, until=LATER)
    with refused("replay_guard_unavailable"):
        guard.release("ntc_1")
