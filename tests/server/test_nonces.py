"""Stateless sign-in nonces: made and checked by the server alone, without storage."""

import re
import string
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from walletauth.server.signin.nonces import (
    LENGTH,
    USED_NONCE_GRACE,
    NonceMinter,
    _base62,
    _from_base62,
)

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


def test_a_nonce_is_dated_no_earlier_than_the_epoch_of_used_nonces():
    """A clock behind the epoch (set back after the epoch began) still makes nonces the
    epoch check accepts: dated at the epoch, good for a whole lifetime from it."""
    epoch = NOW + timedelta(minutes=10)
    minter = NonceMinter({1: KEY_1}, ttl=TTL, not_before=epoch)

    behind = minter.check(minter.issue(now=NOW), now=NOW)
    after = minter.check(minter.issue(now=epoch + TTL), now=epoch + TTL)

    assert behind is not None and (behind.issued_at, behind.expires_at) == (epoch, epoch + TTL)
    assert after is not None and after.issued_at == epoch + TTL


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


def test_a_nonce_issued_by_the_first_implementation_still_checks():
    # Made by the digit-by-digit encoder with hmac.new, version 7, random bytes 1..12:
    # the wire format must not drift when the code that writes it changes.
    minter = NonceMinter({1: KEY_1, 7: b"7" * 32}, ttl=TTL)
    nonce = "007fZkt4GSG6S3NrfrWwShzeXvq6FhcN0NDHxLmtxeqh51"

    checked = minter.check(nonce, now=NOW)

    assert checked is not None and checked.expires_at == NOW + TTL
    assert NonceMinter({1: KEY_1}, ttl=TTL).check(nonce, now=NOW) is None


DIGITS = string.digits + string.ascii_letters
RAW_BYTES = 34


def reference_base62(number: int) -> str:
    """Base62 by definition: the most significant of LENGTH digits first."""
    return "".join(DIGITS[number // 62**place % 62] for place in range(LENGTH - 1, -1, -1))


@given(raw=st.binary(min_size=RAW_BYTES, max_size=RAW_BYTES))
def test_base62_is_the_fixed_width_base62_numeral_and_round_trips(raw):
    text = _base62(raw)

    assert text == reference_base62(int.from_bytes(raw, "big"))
    assert _from_base62(text) == raw


@given(text=st.text(alphabet=DIGITS, min_size=LENGTH, max_size=LENGTH))
def test_any_numeral_of_the_right_length_decodes_exactly_when_it_fits_the_raw_bytes(text):
    number = sum(DIGITS.index(char) * 62**place for place, char in enumerate(reversed(text)))

    decoded = _from_base62(text)

    if number < 2 ** (8 * RAW_BYTES):
        assert decoded == number.to_bytes(RAW_BYTES, "big")
    else:
        assert decoded is None


@given(
    text=st.text(min_size=LENGTH, max_size=LENGTH).filter(
        lambda text: any(char not in DIGITS for char in text)
    )
)
def test_a_string_with_a_character_outside_the_alphabet_never_decodes(text):
    assert _from_base62(text) is None


@given(
    seconds=st.integers(min_value=0, max_value=2**31),
    version=st.integers(min_value=1, max_value=2**16 - 1),
    key=st.binary(min_size=16, max_size=64),
)
def test_every_issued_nonce_checks_until_it_expires(seconds, version, key):
    minter = NonceMinter({version: key}, ttl=TTL)
    now = datetime.fromtimestamp(seconds, UTC)

    nonce = minter.issue(now=now)

    assert re.fullmatch(rf"[0-9A-Za-z]{{{LENGTH}}}", nonce)
    checked = minter.check(nonce, now=now)
    assert checked is not None and checked.expires_at == now + TTL
    assert minter.check(nonce, now=now + TTL) is None
