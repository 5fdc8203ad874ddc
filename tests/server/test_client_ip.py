"""The client IP: the socket peer, or X-Forwarded-For only behind trusted proxies."""

from ipaddress import ip_address, ip_network

from hypothesis import given
from hypothesis import strategies as st

from walletauth.server.web.client_ip import UNKNOWN_IP, client_ip

PROXIES = (ip_network("10.0.0.0/8"),)


def request_from(peer, forwarded=None):
    """The arguments of a request from ``peer`` with one X-Forwarded-For header, if any."""
    return peer, [forwarded] if forwarded else []


def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says():
    assert client_ip(*request_from("203.0.113.9", "198.51.100.1"), ()) == "203.0.113.9"


def test_a_peer_that_is_not_a_trusted_proxy_cannot_forward():
    assert client_ip(*request_from("203.0.113.9", "198.51.100.1"), PROXIES) == "203.0.113.9"


def test_behind_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client():
    request = request_from("10.0.0.2", "1.1.1.1, 198.51.100.7, 10.0.0.5")
    assert client_ip(*request, PROXIES) == "198.51.100.7"


def test_garbage_in_the_header_stops_the_walk_at_the_proxy():
    assert client_ip(*request_from("10.0.0.2", "bogus"), PROXIES) == "10.0.0.2"


IP_LIKE_TEXT = st.text(alphabet="0123456789.:abcdefx% ", max_size=40)


@given(st.one_of(st.ip_addresses().map(str), IP_LIKE_TEXT))
def test_the_client_ip_is_written_as_ipaddress_writes_it_or_unknown(text):
    try:
        expected = str(ip_address(text.strip()))
    except ValueError:
        expected = UNKNOWN_IP
    assert client_ip(text, [], ()) == expected
    assert client_ip(text, [], PROXIES) == expected


def test_no_peer_is_the_unknown_ip():
    assert client_ip(None, ["198.51.100.1"], ()) == UNKNOWN_IP
