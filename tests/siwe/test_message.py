"""SiweMessage: the grammar's corners, the value semantics, and the size bounds."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.siwe.helpers import ALICE, make_message
from walletauth.siwe import SiweError, SiweMessage
from walletauth.siwe.message import MAX_MESSAGE_CHARS, MAX_RESOURCES

FULL_TEXT = (
    "https://example.com:8443 wants you to sign in with your Ethereum account:\n"
    f"{ALICE.address}\n"
    "\n"
    "Sign in: terms at https://example.com/tos?v=2#top (all of them!)\n"
    "\n"
    "URI: https://example.com:8443/login?next=%2Fhome\n"
    "Version: 1\n"
    "Chain ID: 137\n"
    "Nonce: abcDEF123456\n"
    "Issued At: 2024-06-01T11:59:00.123456789+02:00\n"
    "Expiration Time: 2024-06-01T12:59:00Z\n"
    "Not Before: 2024-06-01t11:59:00z\n"
    "Request ID: req-1:@!$&'()*+,;=%20\n"
    "Resources:\n"
    "- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/\n"
    "- urn:isbn:0451450523\n"
    "- https://[2001:db8::1]:443/a/b"
)


def malformed(callable_, *args, **kwargs) -> SiweError:
    with pytest.raises(SiweError) as caught:
        callable_(*args, **kwargs)
    assert caught.value.code == "malformed_message"
    return caught.value


# --- round trip ------------------------------------------------------------------------


def test_every_field_round_trips_byte_exact():
    message = SiweMessage.parse(FULL_TEXT)
    assert message.to_text() == FULL_TEXT
    assert (message.scheme, message.domain, message.chain_id) == ("https", "example.com:8443", 137)
    assert message.request_id == "req-1:@!$&'()*+,;=%20"
    assert message.resources == (
        "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
        "urn:isbn:0451450523",
        "https://[2001:db8::1]:443/a/b",
    )


def test_times_keep_their_text_and_expose_their_instant():
    message = SiweMessage.parse(FULL_TEXT)
    assert message.issued_at == "2024-06-01T11:59:00.123456789+02:00"
    assert message.issued_at_datetime == datetime(
        2024, 6, 1, 9, 59, 0, 123456, tzinfo=UTC
    )  # nanoseconds past the microsecond are dropped from the instant, not the text
    assert message.not_before == "2024-06-01t11:59:00z"
    assert message.not_before_datetime == datetime(2024, 6, 1, 11, 59, tzinfo=UTC)
    assert message.expiration_datetime == datetime(2024, 6, 1, 12, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("statement", "between_address_and_uri"),
    [(None, "\n\n\n"), ("", "\n\n\n\n"), ("Hi", "\n\nHi\n\n")],
    ids=["absent", "empty", "present"],
)
def test_statement_absent_empty_and_present_are_three_texts(statement, between_address_and_uri):
    message = make_message(statement=statement)
    text = message.to_text()
    assert f"{ALICE.address}{between_address_and_uri}URI: " in text
    assert SiweMessage.parse(text) == message


def test_statement_that_looks_like_a_field_is_still_a_statement():
    message = make_message(statement="URI: https://evil.example")
    parsed = SiweMessage.parse(message.to_text())
    assert parsed.statement == "URI: https://evil.example"
    assert parsed.uri == "https://example.com/login"


@pytest.mark.parametrize("resources", [(), ("https://example.com/a",)], ids=["none", "one"])
def test_resources_list_may_be_empty_but_present(resources):
    message = make_message(resources=list(resources))
    assert message.resources == resources
    assert message.to_text().endswith("Resources:" + "".join(f"\n- {r}" for r in resources))
    assert SiweMessage.parse(message.to_text()) == message


def test_request_id_may_be_empty():
    message = make_message(request_id="")
    assert message.to_text().endswith("\nRequest ID: ")
    assert SiweMessage.parse(message.to_text()).request_id == ""


# --- building from datetimes -----------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2024, 6, 1, 12, 0, tzinfo=UTC), "2024-06-01T12:00:00Z"),
        (datetime(2024, 6, 1, 12, 0, 0, 250000, tzinfo=UTC), "2024-06-01T12:00:00.250Z"),
        (datetime(2024, 6, 1, 12, 0, 0, 1, tzinfo=UTC), "2024-06-01T12:00:00.000001Z"),
        (
            datetime(2024, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
            "2024-06-01T12:00:00-05:30",
        ),
    ],
    ids=["utc", "milliseconds", "microseconds", "offset"],
)
def test_aware_datetimes_are_written_as_rfc3339(moment, text):
    message = make_message(issued_at=moment, expiration_time=moment, not_before=moment)
    assert (message.issued_at, message.expiration_time, message.not_before) == (text,) * 3
    assert message.issued_at_datetime == moment


def test_naive_datetime_is_refused():
    error = malformed(make_message, issued_at=datetime(2024, 6, 1, 12, 0))
    assert "timezone-aware" in error.message


def test_offset_with_seconds_is_not_rfc3339():
    odd = timezone(timedelta(hours=1, seconds=5))
    malformed(make_message, issued_at=datetime(2024, 6, 1, tzinfo=odd))


# --- value semantics -------------------------------------------------------------------


def test_message_is_frozen_hashable_and_equal_by_fields():
    first, second = make_message(), make_message()
    assert first == second
    assert hash(first) == hash(second)
    assert len({first, second, make_message(chain_id=5)}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.nonce = "otherNonce1"  # type: ignore[misc]


def test_same_instant_written_differently_is_a_different_message():
    # The text is what gets signed, so the text is what identifies a message.
    assert make_message(issued_at="2024-06-01T12:00:00Z") != make_message(
        issued_at="2024-06-01T12:00:00.000Z"
    )


def test_resources_are_stored_as_a_tuple():
    assert make_message(resources=["https://a.example"]).resources == ("https://a.example",)


# --- field rules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("domain", "", "authority"),
        ("domain", "example.com/path", "authority"),
        ("domain", "user@:80", "authority"),
        ("domain", "[::g]", "authority"),
        ("domain", "[fe80::1%eth0]", "authority"),
        ("domain", "ex ample.com", "authority"),
        ("domain", 42, "string"),
        ("scheme", "", "scheme"),
        ("scheme", "1http", "scheme"),
        ("address", ALICE.address.lower(), "EIP-55"),
        ("address", ALICE.address[:-1], "40 hex"),
        ("statement", "100% sure", "statement"),
        ("statement", 'say "hi"', "statement"),
        ("statement", "caf\u00e9", "statement"),
        ("statement", "two\nlines", "statement"),
        ("uri", "https://exa mple.com", "URI"),
        ("uri", "https://example.com/%zz", "URI"),
        ("uri", "no-scheme.example.com", "URI"),
        ("version", 1, "string"),
        ("version", "2", "'1'"),
        ("chain_id", True, "integer"),
        ("chain_id", "1", "integer"),
        ("chain_id", -1, "between"),
        ("chain_id", 2**256, "between"),
        ("nonce", "short12", "8 letters"),
        ("nonce", "has-dash-1234", "8 letters"),
        ("issued_at", "2024-06-01 12:00:00Z", "RFC 3339"),
        ("issued_at", "2024-06-01T12:00:00", "RFC 3339"),
        ("issued_at", "2024-06-31T12:00:00Z", "RFC 3339"),
        ("issued_at", "2016-12-31T23:59:60Z", "RFC 3339"),
        ("issued_at", "2024-06-01T24:00:00Z", "RFC 3339"),
        ("issued_at", "2024-06-01T12:00:00+24:00", "RFC 3339"),
        ("issued_at", 1717243200, "RFC 3339 text or a datetime"),
        ("expiration_time", "tomorrow", "RFC 3339"),
        ("request_id", "has space", "pchars"),
        ("request_id", "a/b", "pchars"),
        ("resources", "https://example.com", "list"),
        ("resources", ["https://ok.example", "not a uri"], "resources[1]"),
    ],
)
def test_invalid_field_is_malformed_and_says_what_was_expected(field, value, says):
    error = malformed(make_message, **{field: value})
    assert says in error.message


@pytest.mark.parametrize(
    "domain",
    [
        "example.com",
        "EXAMPLE.com:",
        "user:pass@example.com:8080",
        "[::1]:3000",
        "[v1.fe:ed]",
        "127.0.0.1",
        "xn--bcher-kva.example",
        "%7Euser.example",
    ],
)
def test_valid_authorities_are_accepted_as_domain(domain):
    assert make_message(domain=domain).domain == domain


@pytest.mark.parametrize(
    "uri",
    [
        "urn:isbn:0451450523",
        "did:pkh:eip155:1:0xabc",
        "file:///etc/hosts",
        "https://[::cafe]",
        "http://example.com?",
        "mailto:user@example.com",
        "https://example.com/a/../b;c=d?e=f&g#h/i?j",
    ],
)
def test_valid_uris_are_accepted(uri):
    assert make_message(uri=uri).uri == uri


def test_chain_id_with_leading_zero_is_refused_in_text():
    text = make_message().to_text().replace("Chain ID: 1\n", "Chain ID: 01\n")
    assert "leading zeros" in malformed(SiweMessage.parse, text).message


def test_chain_id_with_too_many_digits_is_refused_without_int_conversion():
    text = make_message().to_text().replace("Chain ID: 1\n", f"Chain ID: {'9' * 5000}\n")
    malformed(SiweMessage.parse, text)


# --- text structure --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "says"),
    [
        (lambda t: t + "\n", "end of the message"),
        (lambda t: t.replace("\n", "\r\n"), ""),
        (lambda t: "\n" + t, "line 1"),
        (lambda t: t.replace("Version: 1", "version: 1"), "'Version: '"),
        (lambda t: t.replace("wants you", "wants  you"), "line 1"),
        (lambda t: t.replace("Issued At: ", "Issued At:"), "'Issued At: '"),
        (
            lambda t: (
                t + "\nResources:\n- https://a.example\nExpiration Time: 2030-01-01T00:00:00Z"
            ),
            "end of the message",
        ),
        (lambda t: t.replace("Sign in to Example\n\n", "Sign in to Example\n"), "empty line"),
        (lambda t: t.split("\nURI")[0], "end of message"),
        (lambda t: "", "line 1"),
    ],
    ids=[
        "trailing newline",
        "crlf",
        "leading newline",
        "tag case",
        "header changed",
        "tag without space",
        "optional field after its place",
        "missing blank line",
        "truncated",
        "empty",
    ],
)
def test_structural_errors_are_malformed_and_located(mutate, says):
    error = malformed(SiweMessage.parse, mutate(make_message().to_text()))
    assert says in error.message


def test_non_ascii_text_is_refused_with_its_position():
    text = make_message().to_text().replace("Example", "Ex\u00e4mple")
    assert "U+00E4" in malformed(SiweMessage.parse, text).message


@pytest.mark.parametrize("value", [None, b"bytes", 42])
def test_parse_refuses_non_text(value):
    malformed(SiweMessage.parse, value)


# --- bounds ----------------------------------------------------------------------------


class _UntouchableText(str):
    """A string that fails the test if the parser does anything but measure it."""

    __slots__ = ()

    def __getattribute__(self, name):
        raise AssertionError(f"parser touched an oversized text via .{name}")


def test_oversized_text_is_refused_before_any_other_work():
    huge = _UntouchableText("x" * (MAX_MESSAGE_CHARS + 1))
    assert str(MAX_MESSAGE_CHARS) in malformed(SiweMessage.parse, huge).message


def test_text_at_the_limit_is_parsed():
    base = make_message(request_id="").to_text()
    text = base + "a" * (MAX_MESSAGE_CHARS - len(base))
    assert len(text) == MAX_MESSAGE_CHARS
    assert len(SiweMessage.parse(text).request_id) == MAX_MESSAGE_CHARS - len(base)


def test_too_many_resources_are_refused_in_text_and_in_fields():
    resources = [f"https://r.example/{i}" for i in range(MAX_RESOURCES + 1)]
    text = make_message(resources=resources[:MAX_RESOURCES]).to_text() + "\n- https://x.example"
    assert "resources" in malformed(SiweMessage.parse, text).message
    malformed(make_message, resources=resources)
    assert len(make_message(resources=resources[:MAX_RESOURCES]).resources) == MAX_RESOURCES


def test_fields_whose_text_exceeds_the_limit_are_refused():
    error = malformed(make_message, statement="a" * MAX_MESSAGE_CHARS)
    assert str(MAX_MESSAGE_CHARS) in error.message


@pytest.mark.parametrize(
    "field_text",
    [
        "URI: https://" + "%" * 8000,
        "URI: https://" + "[" * 8000,
        "URI: a:" + "%a" * 4000,
        "URI: https://" + "a@" * 4000,
        "URI: https://" + ":" * 8000 + "x",
        "Request ID: " + "%2" * 4000,
        "Nonce: " + "a" * 8000 + "-",
        "Issued At: 2024-06-01T12:00:00." + "1" * 8000 + "x",
    ],
    ids=["percent", "brackets", "half-encoded", "userinfo", "colons", "request", "nonce", "frac"],
)
def test_adversarial_near_misses_fail_in_linear_time(field_text):
    # Catastrophic backtracking would take seconds to years here; linear work is ~1 ms.
    tag = field_text.split(": ", 1)[0] + ": "
    lines = make_message(request_id="x").to_text().split("\n")
    lines = [field_text if line.startswith(tag) else line for line in lines]
    text = "\n".join(lines)[:MAX_MESSAGE_CHARS]
    started = time.perf_counter()
    malformed(SiweMessage.parse, text)
    assert time.perf_counter() - started < 0.5
