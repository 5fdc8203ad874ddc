"""Minimisation before storage: IPs truncated or keyed-hashed, user agents reduced to
family and major version, undeclared fields refused."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from walletauth.policy import PolicyError, browser_family, load_policy, minimise

KEY = b"k" * 32
ABC = load_policy("abcrecords")
METALIVE = load_policy("metalive")


def test_an_access_log_record_is_stored_minimised():
    stored = minimise(
        ABC,
        "access_log",
        {
            "ip": "203.0.113.77",
            "browser": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) "
            "Gecko/20100101 Firefox/121.0",
            "at": "2026-01-02T03:04:05Z",
        },
        hash_key=KEY,
    )
    assert stored == {
        "ip": "203.0.113.0/24",
        "browser": "Firefox 121",
        "at": "2026-01-02T03:04:05Z",
    }


@pytest.mark.parametrize(
    ("ip", "truncated"),
    [
        ("192.0.2.1", "192.0.2.0/24"),
        ("192.0.2.255", "192.0.2.0/24"),
        ("10.0.0.0", "10.0.0.0/24"),
        ("2001:db8:abcd:12::1", "2001:db8:abcd::/48"),
        ("2001:0db8:abcd:ffff:ffff:ffff:ffff:ffff", "2001:db8:abcd::/48"),
        ("::1", "::/48"),
        ("fe80::1%eth0", "fe80::/48"),
        ("::ffff:198.51.100.9", "198.51.100.0/24"),  # an IPv4 client seen through IPv6
        (ipaddress.ip_address("198.51.100.9"), "198.51.100.0/24"),
    ],
)
def test_ips_are_truncated_to_their_network(ip, truncated):
    assert minimise(ABC, "access_log", {"ip": ip}, hash_key=KEY) == {"ip": truncated}


@pytest.mark.parametrize(
    "bad",
    ["", "not an ip", "256.1.1.1", "192.0.2", "192.0.2.1/24", " 192.0.2.1", "::g", 3232235777],
)
def test_an_invalid_ip_is_refused_with_a_code(bad):
    with pytest.raises(PolicyError) as caught:
        minimise(ABC, "access_log", {"ip": bad}, hash_key=KEY)
    assert caught.value.code == "invalid_ip"
    assert "'ip'" in caught.value.message


def test_an_ip_keyed_hash_is_hmac_sha256_of_the_canonical_address():
    stored = minimise(METALIVE, "posting_log", {"ip": "2001:DB8::0001"}, hash_key=KEY)
    expected = hmac.new(KEY, b"2001:db8::1", hashlib.sha256).hexdigest()
    assert stored == {"ip": expected}
    again = minimise(METALIVE, "posting_log", {"ip": "2001:db8:0:0::1"}, hash_key=KEY)
    assert again == stored, "spellings of one address hash alike"


def test_keyed_hashes_depend_on_the_key():
    one = minimise(METALIVE, "posting_log", {"ip": "192.0.2.1"}, hash_key=KEY)
    other = minimise(METALIVE, "posting_log", {"ip": "192.0.2.1"}, hash_key=b"x" * 32)
    assert one != other


def test_an_identifier_is_stored_as_a_keyed_hash():
    stored = minimise(ABC, "cookie_id", {"cookie_id": "session-abc"}, hash_key=KEY)
    assert stored["cookie_id"] == hmac.new(KEY, b"session-abc", hashlib.sha256).hexdigest()


@pytest.mark.parametrize("key", [b"", b"short"])
def test_hashing_with_a_short_key_is_refused(key):
    with pytest.raises(PolicyError) as caught:
        minimise(ABC, "cookie_id", {"cookie_id": "session-abc"}, hash_key=key)
    assert caught.value.code == "invalid_hash_key"


def test_no_key_is_needed_when_nothing_is_hashed():
    assert minimise(ABC, "browser_language", {"language": "ja"}, hash_key=b"") == {"language": "ja"}


def test_a_field_the_category_does_not_declare_is_refused():
    with pytest.raises(PolicyError) as caught:
        minimise(ABC, "access_log", {"ip": "192.0.2.1", "referrer": "https://x"}, hash_key=KEY)
    assert caught.value.code == "field_not_allowed"
    assert "['referrer']" in caught.value.message and "access_log" in caught.value.message


def test_an_unknown_category_is_refused():
    with pytest.raises(PolicyError) as caught:
        minimise(ABC, "biometrics", {}, hash_key=KEY)
    assert caught.value.code == "unknown_category"


@pytest.mark.parametrize(
    ("category", "field"), [("access_log", "browser"), ("cookie_id", "cookie_id")]
)
def test_a_value_that_is_not_text_is_refused(category, field):
    with pytest.raises(PolicyError) as caught:
        minimise(ABC, category, {field: 42}, hash_key=KEY)
    assert caught.value.code == "invalid_field_value"


def test_unknown_values_stay_unknown():
    assert minimise(ABC, "access_log", {"ip": None, "browser": None}, hash_key=KEY) == {
        "ip": None,
        "browser": None,
    }


USER_AGENTS = [
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.6099.71 Safari/537.36",
        "Chrome 120",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) CriOS/119.0.6045.169 Mobile/15E148 Safari/604.1",
        "Chrome 119",
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Mobile Safari/537.36",
        "Chrome 120",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.61",
        "Edge 120",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/70.0.3538.102 Safari/537.36 Edge/18.19045",
        "Edge 18",
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; HD1913) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.6099.43 Mobile Safari/537.36 EdgA/119.0.2151.78",
        "Edge 119",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:121.0) Gecko/20100101 Firefox/121.0",
        "Firefox 121",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) FxiOS/120.0 Mobile/15E148 Safari/605.1.15",
        "Firefox 120",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.1 Safari/605.1.15",
        "Safari 17",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
        "Safari 16",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0",
        "Opera 105",
    ),
    ("Opera/9.80 (Windows NT 6.1; WOW64) Presto/2.12.388 Version/12.18", "Opera 12"),
    (
        "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S918B) AppleWebKit/537.36 "
        "(KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
        "Samsung Internet 23",
    ),
    # everything else is "other"
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/118.0.0.0 YaBrowser/23.11.0.0 Safari/537.36",
        "other",
    ),
    (
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html) "
        "Chrome/120.0.6099.71 Safari/537.36",
        "other",
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/120.0.0.0 Safari/537.36",
        "other",
    ),
    (
        "Mozilla/5.0 (Linux; U; Android 4.0.3; ko-kr; LG-L160L Build/IML74K) "
        "AppleWebkit/534.30 (KHTML, like Gecko) Version/4.0 Mobile Safari/534.30",
        "other",
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/440.0.0.0]",
        "other",
    ),
    ("Mozilla/5.0 (Macintosh) Safari/605.1.15 Version/17.1", "other"),  # Version after Safari
    ("curl/8.4.0", "other"),
    ("python-httpx/0.28.1", "other"),
    ("", "other"),
    ("Chrome/" + "9" * 5000, "other"),  # absurd lengths: bounded work, no version kept
]


@pytest.mark.parametrize(("user_agent", "family"), USER_AGENTS, ids=[f for _, f in USER_AGENTS])
def test_user_agents_are_reduced_to_family_and_major_version(user_agent, family):
    assert browser_family(user_agent) == family
    stored = minimise(ABC, "access_log", {"browser": user_agent}, hash_key=KEY)
    assert stored == {"browser": family}


@given(
    data=st.dictionaries(
        st.sampled_from(["ip", "browser", "at", "referrer", "email", "wallet"]),
        st.one_of(st.none(), st.text(max_size=40), st.ip_addresses().map(str)),
    )
)
def test_minimise_never_returns_a_field_the_category_does_not_declare(data):
    declared = ABC.category("access_log").fields
    try:
        stored = minimise(ABC, "access_log", data, hash_key=KEY)
    except PolicyError as error:
        assert error.code in {"field_not_allowed", "invalid_ip"}
        return
    assert set(stored) <= set(declared)
    assert set(stored) == set(data)


@given(address=st.ip_addresses(v=4))
def test_minimise_never_returns_a_full_ipv4_address(address):
    stored = minimise(ABC, "access_log", {"ip": str(address)}, hash_key=KEY)["ip"]
    network = ipaddress.ip_network(stored)
    assert network.prefixlen == 24
    assert address in network
    assert str(address) not in stored or str(address).endswith(".0")
    assert stored.endswith(".0/24")


@given(address=st.ip_addresses(v=6))
def test_minimise_keeps_no_more_than_48_bits_of_an_ipv6_address(address):
    stored = minimise(ABC, "access_log", {"ip": str(address)}, hash_key=KEY)["ip"]
    network = ipaddress.ip_network(stored)
    assert network.prefixlen in (24, 48)  # 24: an IPv4-mapped address
    if network.version == 6:
        assert address in network
