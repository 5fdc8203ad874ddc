"""walletauth.encoding: unpadded base64url (RFC 4648 §5) with one spelling per value."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walletauth.encoding import b64url_decode, b64url_encode
from walletauth.server.signin.session_cookie import SessionCookies
from walletauth.siwe.message import to_checksum_address


@given(st.binary(max_size=96))
def test_every_byte_string_round_trips(data: bytes) -> None:
    text = b64url_encode(data)
    assert "=" not in text and "+" not in text and "/" not in text
    assert b64url_decode(text) == data


def test_the_rfc_4648_vectors_unpadded() -> None:
    # RFC 4648 §10, padding dropped; "-" and "_" where base64 has "+" and "/".
    for plain, text in [(b"", ""), (b"f", "Zg"), (b"fo", "Zm8"), (b"foo", "Zm9v"),
                        (b"foob", "Zm9vYg"), (b"fooba", "Zm9vYmE"), (b"foobar", "Zm9vYmFy"),
                        (b"\xfb\xff", "-_8")]:
        assert b64url_encode(plain) == text
        assert b64url_decode(text) == plain


@pytest.mark.parametrize("text", [
    "Zg==",     # padded
    "Zm9v\n",   # a stray character the standard library would skip
    "Zm 9v",
    "+/8",      # plain base64's alphabet
    "Zh",       # spare bits set: "Zg" is the one spelling of b"f"
    "Z",        # a length no byte string has
    "Zmé9v",    # outside ASCII
])
def test_other_spellings_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        b64url_decode(text)


def test_a_session_cookie_with_a_stray_character_does_not_open() -> None:
    cookies = SessionCookies([bytes(32)])
    cookie, credential = cookies.issue(to_checksum_address("0x" + "ab" * 20), 1)
    assert cookies.open(cookie) == credential
    secret, sealed = cookie.split(".")
    assert cookies.open(f"{secret}.{sealed[:5]}!{sealed[5:]}") is None
    assert cookies.open(f"{secret}=.{sealed}") is None
