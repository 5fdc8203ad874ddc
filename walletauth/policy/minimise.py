"""Field rules: what of a record's values is stored, before anything is stored.

``keep`` stores the value as given; ``ip_truncate`` keeps the network of an IP address
(IPv4 /24, IPv6 /48, written with the prefix length so that it never reads as a host);
``ip_keyed_hash`` and ``keyed_hash`` store HMAC-SHA256 (hex) under the operator's key, so
equal values can still be matched without being readable; ``user_agent_family`` keeps
browser family and major version. ``None`` stands for "not known" and is kept as it is.

Truncation runs on every sign-in, so plain address text is parsed by the C
``inet_pton`` and the network written directly; anything it does not take (a zone id
such as ``%eth0``, address objects, bad input) goes through ``ipaddress``, which
therefore decides every refusal. Both give the same network for every address
``inet_pton`` takes (tests compare them).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import struct
from collections.abc import Callable, Mapping
from typing import Final

from walletauth.policy.errors import PolicyError
from walletauth.policy.model import FieldRule, Policy
from walletauth.policy.useragent import browser_family

MIN_HASH_KEY_BYTES: Final = 16
IPV4_PREFIX: Final = 24
IPV6_PREFIX: Final = 48

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_IPV4_MAPPED_PREFIX: Final = bytes(10) + b"\xff\xff"
_IPV6_PREFIX_GROUPS: Final = struct.Struct(">3H")
"""The three 16-bit groups of an IPv6 /48 prefix."""


def minimise(
    policy: Policy, category: str, data: Mapping[str, object], *, hash_key: bytes
) -> dict[str, object]:
    """``data`` as it may be stored for ``category``: each field by its rule.

    A field the category does not declare is refused (``field_not_allowed``) rather than
    dropped, so that a caller learns at once that it collects more than the policy says.
    """
    rules = policy.category(category).fields
    # Key views compare as sets without copying; the sorted list only for the message.
    if not data.keys() <= rules.keys():
        undeclared = sorted(set(data) - set(rules))
        raise PolicyError(
            "field_not_allowed",
            f"category {category!r} of policy {policy.id!r} may not hold {undeclared}"
            f" (allowed: {sorted(rules)})",
        )
    if len(hash_key) < MIN_HASH_KEY_BYTES and any(
        rules[name] in ("ip_keyed_hash", "keyed_hash") for name in data
    ):
        raise PolicyError(
            "invalid_hash_key", f"the keyed-hash key must be at least {MIN_HASH_KEY_BYTES} bytes"
        )
    return {name: _apply(rules[name], name, value, hash_key) for name, value in data.items()}


def _apply(rule: FieldRule, name: str, value: object, hash_key: bytes) -> object:
    if value is None or rule == "keep":
        return value
    return _RULES[rule](name, value, hash_key)


def truncate_ip(name: str, value: object, _hash_key: bytes = b"") -> str:
    """The /24 (IPv4) or /48 (IPv6) network of an address, e.g. ``"192.0.2.0/24"``."""
    if isinstance(value, str):
        network = _network_of_plain_address(value)
        if network is not None:
            return network
    address = _parse_ip(name, value)
    if isinstance(address, ipaddress.IPv4Address):
        return str(ipaddress.IPv4Network((address, IPV4_PREFIX), strict=False))
    return str(ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False))


def keyed_hash_ip(name: str, value: object, hash_key: bytes) -> str:
    """HMAC-SHA256 of the address's canonical text, so spellings of one address agree."""
    return _hmac_hex(hash_key, str(_parse_ip(name, value)))


def keyed_hash(name: str, value: object, hash_key: bytes) -> str:
    return _hmac_hex(hash_key, _text(name, value))


def reduce_user_agent(name: str, value: object, _hash_key: bytes = b"") -> str:
    return browser_family(_text(name, value))


_RULES: Final[dict[FieldRule, Callable[[str, object, bytes], object]]] = {
    "ip_truncate": truncate_ip,
    "ip_keyed_hash": keyed_hash_ip,
    "keyed_hash": keyed_hash,
    "user_agent_family": reduce_user_agent,
}


def _network_of_plain_address(text: str) -> str | None:
    """What :func:`truncate_ip` gives for ``text``, if ``inet_pton`` reads it; else None.

    ``inet_pton`` takes a strict subset of what ``ipaddress`` takes (no zone ids; like
    it, no leading zeros in IPv4), with the same meaning. Networks are written as
    ``ipaddress`` writes them: dotted quad; for IPv6 the trailing zero groups of a /48
    are always the longest run, so they are the ones shortened to ``::``.
    """
    try:
        packed = socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)
    except (OSError, ValueError):  # ValueError: an embedded NUL or a lone surrogate
        return None
    if len(packed) == 4:
        return _ipv4_network(packed)
    if packed.startswith(_IPV4_MAPPED_PREFIX):
        return _ipv4_network(packed[12:])
    first, second, third = _IPV6_PREFIX_GROUPS.unpack_from(packed)
    if third:
        return f"{first:x}:{second:x}:{third:x}::/{IPV6_PREFIX}"
    if second:
        return f"{first:x}:{second:x}::/{IPV6_PREFIX}"
    if first:
        return f"{first:x}::/{IPV6_PREFIX}"
    return f"::/{IPV6_PREFIX}"


def _ipv4_network(packed: bytes) -> str:
    return f"{packed[0]}.{packed[1]}.{packed[2]}.0/{IPV4_PREFIX}"


def _parse_ip(name: str, value: object) -> IPAddress:
    """An address without zone, IPv4-mapped IPv6 as the IPv4 address it carries."""
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        address: IPAddress = value
    elif isinstance(value, str):
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            raise PolicyError(
                "invalid_ip", f"field {name!r}: {value[:64]!r} is not an IP address"
            ) from None
    else:
        raise PolicyError(
            "invalid_ip", f"field {name!r}: expected an IP address, got {type(value).__name__}"
        )
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        return ipaddress.IPv6Address(int(address))  # drops a zone id such as %eth0
    return address


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise PolicyError(
            "invalid_field_value", f"field {name!r}: expected text, got {type(value).__name__}"
        )
    return value


def _hmac_hex(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()
