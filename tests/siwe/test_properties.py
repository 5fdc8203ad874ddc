"""Properties: generated messages round-trip; nothing else ever escapes but SiweError."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta, timezone

from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.siwe.helpers import FIELD_NAMES, NOW, make_message
from walletauth.siwe import SiweError, SiweMessage, verify_message

PROPERTY_SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

UNRESERVED = string.ascii_letters + string.digits + "-._~"
SUB_DELIMS = "!$&'()*+,;="
HEX = "0123456789abcdefABCDEF"

pct_encoded = st.tuples(st.sampled_from(HEX), st.sampled_from(HEX)).map(lambda p: "%" + "".join(p))


def chars(alphabet: str, *, min_size: int = 0, max_size: int = 12) -> st.SearchStrategy[str]:
    piece = st.one_of(st.sampled_from(alphabet), pct_encoded)
    return st.lists(piece, min_size=min_size, max_size=max_size).map("".join)


reg_name = chars(UNRESERVED + SUB_DELIMS, min_size=1)
host = st.one_of(
    reg_name,
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda ip: f"[{ip}]"),
)
port = st.one_of(st.none(), st.integers(0, 65535).map(str), st.just(""))
userinfo = st.one_of(st.none(), chars(UNRESERVED + SUB_DELIMS + ":"))


@st.composite
def authorities(draw, *, host_strategy=host):
    user, name, number = draw(userinfo), draw(host_strategy), draw(port)
    return (
        (f"{user}@" if user is not None else "")
        + name
        + (f":{number}" if number is not None else "")
    )


scheme = st.from_regex(r"[A-Za-z][A-Za-z0-9+.\-]{0,8}", fullmatch=True)
pchar = UNRESERVED + SUB_DELIMS + ":@"
path_segments = st.lists(chars(pchar, max_size=6), max_size=4).map(
    lambda s: "".join("/" + x for x in s)
)


@st.composite
def uris(draw):
    text = draw(scheme) + ":"
    if draw(st.booleans()):
        text += (
            "//"
            + draw(authorities(host_strategy=st.one_of(host, st.just(""))))
            + draw(path_segments)
        )
    else:
        text += draw(chars(pchar, min_size=1)) + draw(path_segments)
    if draw(st.booleans()):
        text += "?" + draw(chars(pchar + "/?"))
    if draw(st.booleans()):
        text += "#" + draw(chars(pchar + "/?"))
    return text


@st.composite
def rfc3339_texts(draw):
    moment = draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
    separator = draw(st.sampled_from("Tt"))
    # isoformat pads the year to four digits, which strftime("%Y") does not do on Linux.
    text = moment.date().isoformat() + separator + moment.strftime("%H:%M:%S")
    digits = draw(st.integers(0, 12))
    if digits:
        text += "." + draw(st.text(string.digits, min_size=digits, max_size=digits))
    offset_minutes = draw(st.one_of(st.none(), st.integers(-(23 * 60 + 59), 23 * 60 + 59)))
    if offset_minutes is None:
        return text + draw(st.sampled_from("Zz"))
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


aware_datetimes = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
    ),
)
times = st.one_of(rfc3339_texts(), aware_datetimes)
optional_times = st.one_of(st.none(), times)


@st.composite
def messages(draw):
    return SiweMessage(
        scheme=draw(st.one_of(st.none(), scheme)),
        domain=draw(authorities()),
        address=to_checksum_address(draw(st.binary(min_size=20, max_size=20))),
        statement=draw(
            st.one_of(st.none(), st.text(UNRESERVED + SUB_DELIMS + ":/?#[]@ ", max_size=60))
        ),
        uri=draw(uris()),
        version="1",
        chain_id=draw(st.integers(0, 2**256 - 1)),
        nonce=draw(st.text(string.ascii_letters + string.digits, min_size=8, max_size=24)),
        issued_at=draw(times),
        expiration_time=draw(optional_times),
        not_before=draw(optional_times),
        request_id=draw(st.one_of(st.none(), chars(pchar))),
        resources=draw(st.one_of(st.none(), st.lists(uris(), max_size=4))),
    )


@PROPERTY_SETTINGS
@given(messages())
def test_generated_messages_round_trip(message):
    text = message.to_text()
    parsed = SiweMessage.parse(text)
    assert parsed == message
    assert parsed.to_text() == text
    assert parsed.issued_at_datetime == message.issued_at_datetime


def _parse_or_refuse(text: str) -> None:
    """Either a SiweError, or a message that writes back exactly the text it came from."""
    try:
        message = SiweMessage.parse(text)
    except SiweError as error:
        assert error.code == "malformed_message"
        return
    assert message.to_text() == text


@PROPERTY_SETTINGS
@given(st.text(max_size=400))
def test_arbitrary_text_only_ever_raises_siwe_error(text):
    _parse_or_refuse(text)


MESSAGE_LIKE = "\n :-/.@[]%#?0123456789aAfFzZtT" + "".join(
    "\n" + tag for tag in ("URI: ", "Version: ", "Chain ID: ", "Nonce: ", "Resources:", "- ")
)


@st.composite
def mutated_texts(draw):
    lines = draw(messages()).to_text().split("\n")
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.integers(0, len(lines) - 1))
        line = lines[index]
        position = draw(st.integers(0, len(line)))
        mutation = draw(st.sampled_from(["insert", "delete", "replace", "drop", "repeat", "swap"]))
        if mutation == "insert":
            lines[index] = line[:position] + draw(st.sampled_from(MESSAGE_LIKE)) + line[position:]
        elif mutation == "delete":
            lines[index] = line[:position] + line[position + 1 :]
        elif mutation == "replace":
            lines[index] = line[:position] + draw(st.characters()) + line[position + 1 :]
        elif mutation == "drop" and len(lines) > 1:
            del lines[index]
        elif mutation == "repeat":
            lines.insert(index, line)
        elif mutation == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[index], lines[other] = lines[other], lines[index]
    return "\n".join(lines)


@PROPERTY_SETTINGS
@given(mutated_texts())
def test_near_valid_mutations_only_ever_raise_siwe_error(text):
    _parse_or_refuse(text)


field_values = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.integers(),
    st.booleans(),
    st.floats(),
    st.binary(max_size=8),
    st.datetimes(),
    aware_datetimes,
    st.lists(st.text(max_size=10), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@PROPERTY_SETTINGS
@given(st.sampled_from(FIELD_NAMES), field_values)
def test_any_field_value_is_accepted_or_malformed(field, value):
    try:
        message = make_message(**{field: value})
    except SiweError as error:
        assert error.code == "malformed_message"
        return
    assert SiweMessage.parse(message.to_text()) == message


@PROPERTY_SETTINGS
@given(st.one_of(st.binary(max_size=200), st.text(max_size=140)))
def test_any_signature_is_refused_with_siwe_error(signature):
    text = make_message().to_text()
    try:
        verify_message(text, signature, domain="example.com", now=NOW)
    except SiweError as error:
        assert error.code == "invalid_signature"
    else:
        raise AssertionError("a random signature verified")
