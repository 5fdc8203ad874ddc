"""Field rules: what of a record's values is stored, before anything is stored.

``keep`` stores the value as given; ``ip_truncate`` keeps the network of an IP address
(IPv4 /24, IPv6 /48, written with the prefix length so that it never reads as a host);
``ip_keyed_hash`` and ``keyed_hash`` store HMAC-SHA256 (hex) under the operator's key, so
equal values can still be matched without being readable; ``user_agent_family`` keeps
browser family and major version. ``None`` stands for "not known" and is kept as it is.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Callable, Mapping
from typing import Final

from walletauth.policy.errors import PolicyError
from walletauth.policy.model import FieldRule, Policy
from walletauth.policy.useragent import browser_family

MIN_HASH_KEY_BYTES: Final = 16
IPV4_PREFIX: Final = 24
IPV6_PREFIX: Final = 48

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def minimise(
    policy: Policy, category: str, data: Mapping[str, object], *, hash_key: bytes
) -> dict[str, object]:
    """``data`` as it may be stored for ``category``: each field by its rule.

    A field the category does not declare is refused (``field_not_allowed``) rather than
    dropped, so that a caller learns at once that it collects more than the policy says.
    """
    rules = policy.category(category).fields
    undeclared = sorted(set(data) - set(rules))
    if undeclared:
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
