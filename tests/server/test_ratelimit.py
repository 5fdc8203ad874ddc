"""RateLimiter's counter keys: a keyed hash of kind and subject, never the subject."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from walletauth.server.errors import ServerError
from walletauth.server.local_hits import LocalHits
from walletauth.server.ratelimit import RateLimiter
from walletauth.server.settings import RateLimits

KEY = b"rate-limit key for tests".ljust(32, b"\0")
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


class RecordingCounter(LocalHits):
    """Counts in memory like LocalHits, and remembers every key it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str] = []

    async def count_hit(self, key, *, window, now):
        self.keys.append(key)
        return await super().count_hit(key, window=window, now=now)

    async def peek_hits(self, key, *, window, now):
        self.keys.append(key)
        return await super().peek_hits(key, window=window, now=now)


def defined_key(kind: str, subject: str) -> str:
    digest = hmac.new(KEY, f"{kind}\0{subject}".encode(), hashlib.sha256).hexdigest()
    return f"{kind}:{digest[:32]}"


async def test_counter_keys_are_the_keyed_hash_of_kind_and_subject_on_every_call():
    counter = RecordingCounter()
    limiter = RateLimiter(counter, RateLimits(), key=KEY)
    for _ in range(2):  # the second round shows that no call changed the keyed hash
        await limiter.nonce_requested("198.51.100.7", now=NOW)
        await limiter.verify_requested("198.51.100.7", now=NOW)
        await limiter.address_allowed("0xAbC0000000000000000000000000000000000001", now=NOW)
        await limiter.verify_failed("0xAbC0000000000000000000000000000000000001", now=NOW)
    address = "0xabc0000000000000000000000000000000000001"
    expected = [
        defined_key("nonce", "198.51.100.7"),
        defined_key("verify", "198.51.100.7"),
        defined_key("failed", address),
        defined_key("failed", address),
    ]
    assert counter.keys == expected * 2
    assert not any("198.51.100.7" in key or address in key for key in counter.keys)


async def test_over_the_limit_is_rate_limited():
    limiter = RateLimiter(LocalHits(), RateLimits(verify_per_ip=2), key=KEY)
    await limiter.verify_requested("198.51.100.7", now=NOW)
    await limiter.verify_requested("198.51.100.7", now=NOW)
    with pytest.raises(ServerError) as caught:
        await limiter.verify_requested("198.51.100.7", now=NOW)
    assert caught.value.code == "rate_limited"
    await limiter.verify_requested("198.51.100.8", now=NOW)  # another client is its own
