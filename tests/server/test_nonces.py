"""Stateless sign-in nonces: made and checked by the server alone, without storage."""

import re
from datetime import UTC, datetime, timedelta

from walletauth.server.nonces import LENGTH, USED_NONCE_GRACE, NonceMinter

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(minutes=5)
KEY_1, KEY_2 = b"1" * 32, b"2" * 32


def test_a_nonce_is_alphanumeric_as_eip_4361_requires_and_unique():
    minter = NonceMinter({1: KEY_1}, ttl=TTL)

    nonces = {minter.issue(now=NOW) for _ in range(1000)}

    assert len(nonces) == 1000
    assert all(re.fullmatch(rf"[0-9A-Za-z]{{{LENGTH}}}", nonce) for nonce in nonces)


def test_a_nonce_is_good_until_its_lifetime_ends_and_is_remembered_past_it():
    minter = NonceMinter({1: KEY_1}, ttl=TTL)
    nonce = minter.issue(now=NOW)

    checked = minter.check(nonce, now=NOW + TTL - timedelta(seconds=1))

    assert checked is not None and checked.expires_at == NOW + TTL
    assert checked.remember_until == NOW + TTL + USED_NONCE_GRACE
    assert minter.check(nonce, now=NOW + TTL) is None


def test_a_nonce_made_with_another_key_or_altered_is_refused():
    mine, theirs = NonceMinter({1: KEY_1}, ttl=TTL), NonceMinter({1: KEY_2}, ttl=TTL)
    nonce = mine.issue(now=NOW)
    last = nonce[-1]
    altered = nonce[:-1] + ("a" if last != "a" else "b")

    assert mine.check(theirs.issue(now=NOW), now=NOW) is None
    assert mine.check(altered, now=NOW) is None


def test_anything_that_is_not_a_nonce_of_ours_is_refused_not_an_error():
    minter = NonceMinter({1: KEY_1}, ttl=TTL)

    for text in ("", "abcdefgh12345678", "z" * LENGTH, "!" * LENGTH, None, 42, "0" * 100):
        assert minter.check(text, now=NOW) is None


def test_a_nonce_made_before_a_secrets_rotation_still_checks_after_it():
    before = NonceMinter({1: KEY_1}, ttl=TTL)
    after = NonceMinter({1: KEY_1, 2: KEY_2}, ttl=TTL)
    retired = NonceMinter({2: KEY_2}, ttl=TTL)
    nonce = before.issue(now=NOW)

    assert after.check(nonce, now=NOW) is not None
    assert after.check(after.issue(now=NOW), now=NOW) is not None
    assert before.check(after.issue(now=NOW), now=NOW) is None
    assert retired.check(nonce, now=NOW) is None
