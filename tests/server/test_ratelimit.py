"""RateLimiter's counter keys: a keyed hash of kind and subject, never the subject."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from walletauth.server.config.settings import RateLimits
from walletauth.server.web.errors import ServerError
from walletauth.server.web.local_hits import LocalHits
from walletauth.server.web.ratelimit import RateLimiter

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
        await limiter.failures_allowed(
            "0xAbC0000000000000000000000000000000000001", "198.51.100.7", now=NOW
        )
        await limiter.verify_failed(
            "0xAbC0000000000000000000000000000000000001", "198.51.100.7", now=NOW
        )
    address = "0xabc0000000000000000000000000000000000001"
    expected = [
        defined_key("nonce", "198.51.100.7"),
        defined_key("verify", "198.51.100.7"),
        defined_key("failed", f"{address}\x00198.51.100.0/24"),
        defined_key("failed", f"{address}\x00198.51.100.0/24"),
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


ADDRESS = "0xAbC0000000000000000000000000000000000001"


@pytest.mark.parametrize(
    ("failing", "same_network", "elsewhere"),
    [
        ("198.51.100.7", "198.51.100.200", "198.51.101.7"),
        ("2001:db8:1:2::7", "2001:db8:1:2:ffff::1", "2001:db8:1:3::7"),
    ],
)
async def test_failed_verifies_count_per_address_and_client_network(
    failing, same_network, elsewhere
):
    limiter = RateLimiter(LocalHits(), RateLimits(failed_verify_per_address=2), key=KEY)
    await limiter.verify_failed(ADDRESS, failing, now=NOW)
    await limiter.verify_failed(ADDRESS, failing, now=NOW)
    for held_back in (failing, same_network):  # the network's other addresses share its count
        with pytest.raises(ServerError) as caught:
            await limiter.failures_allowed(ADDRESS, held_back, now=NOW)
        assert caught.value.code == "rate_limited"
    await limiter.failures_allowed(ADDRESS, elsewhere, now=NOW)  # another network: not held
    await limiter.failures_allowed(  # nor another address from the same network
        "0xAbC0000000000000000000000000000000000002", failing, now=NOW
    )


async def test_registrations_count_per_network_over_their_own_window():
    from datetime import timedelta

    limits = RateLimits(registrations_per_ip=2, registrations_window_seconds=3600)
    limiter = RateLimiter(LocalHits(), limits, key=KEY)
    for minute in range(2):
        await limiter.registration_requested("2001:db8::1", now=NOW + timedelta(minutes=minute))

    with pytest.raises(ServerError) as refused:  # another address of the same /64
        await limiter.registration_requested("2001:db8::2", now=NOW + timedelta(minutes=30))

    assert refused.value.code == "rate_limited"
    assert refused.value.retry_after == 1800  # when the first one leaves the hour
    await limiter.registration_requested("2001:db8:0:1::1", now=NOW)  # another /64
    await limiter.registration_requested("2001:db8::2", now=NOW + timedelta(minutes=61))
