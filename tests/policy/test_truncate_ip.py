"""IP truncation agrees with ``ipaddress`` on every input, whichever parser reads it.

Plain address text is read by ``inet_pton`` on the sign-in path; these properties hold
it to the ``ipaddress`` definition: the same network text for every address, the same
refusal for everything else.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from walletauth.policy import PolicyError
from walletauth.policy.minimise import truncate_ip

REFUSED = "refused"


def by_ipaddress(text: str) -> str:
    """The definition: the /24 or /48 network ``ipaddress`` makes of ``text``."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return REFUSED
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv4Address):
        return str(ipaddress.IPv4Network((address, 24), strict=False))
    return str(ipaddress.IPv6Network((int(address), 48), strict=False))


def truncated(text: str) -> str:
    try:
        return truncate_ip("ip", text)
    except PolicyError as error:
        assert error.code == "invalid_ip"
        return REFUSED


def ipv6_of(groups: list[int]) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(b"".join(group.to_bytes(2, "big") for group in groups))


# IPv6 addresses whose groups are often zero, so that every place a "::" can go occurs.
sparse_ipv6 = st.lists(
    st.one_of(st.just(0), st.integers(min_value=0, max_value=0xFFFF)), min_size=8, max_size=8
).map(ipv6_of)
ipv4_text = st.ip_addresses(v=4).map(str)
address_text = st.one_of(
    ipv4_text,
    st.ip_addresses(v=6).map(str),
    st.ip_addresses(v=6).map(lambda address: address.exploded.upper()),
    sparse_ipv6.map(str),
    sparse_ipv6.map(lambda address: address.exploded),
    ipv4_text.map(lambda text: "::ffff:" + text),  # IPv4-mapped, dotted
    ipv4_text.map(lambda text: "::" + text),  # IPv4-compatible (deprecated), dotted
    st.tuples(sparse_ipv6, st.sampled_from(["eth0", "1", "en0"])).map(
        lambda pair: f"{pair[0]}%{pair[1]}"
    ),
)


@given(text=address_text)
@example(text="2001:db8:0:1::")
@example(text="0:0:1::")
@example(text="::ffff:0:0")
@example(text="::")
def test_every_address_truncates_as_ipaddress_truncates_it(text):
    assert truncated(text) == by_ipaddress(text) != REFUSED


@given(text=st.text(alphabet="0123456789abcdefABCDEF:.% x\x00", max_size=45))
@example(text="01.2.3.4")
@example(text="1.2.3.04")
@example(text="::ffff:01.2.3.4")
@example(text="1:2:3:4:5:6:7:1.2.3.4")
@example(text="1.2.3.4\x00")
def test_address_like_text_is_taken_or_refused_exactly_as_ipaddress_does(text):
    assert truncated(text) == by_ipaddress(text)


@given(text=st.text(max_size=45))
def test_any_text_is_taken_or_refused_exactly_as_ipaddress_does(text):
    assert truncated(text) == by_ipaddress(text)


@pytest.mark.parametrize(
    "text", ["\ud800", "1.2.3.4\ud800", "\uff11.2.3.4", "::\u0661", "1.2.3.4\n", "1.2.3.4 "]
)
def test_text_the_c_parser_cannot_encode_or_read_is_refused_by_ipaddress(text):
    assert truncated(text) == by_ipaddress(text) == REFUSED
