"""Which IP a request comes from: the socket peer, unless that peer is a trusted proxy."""

from __future__ import annotations

import socket
from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

Network = IPv4Network | IPv6Network
UNKNOWN_IP = "0.0.0.0"


def _parse(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text.strip())
    except ValueError:
        return None


def _canonical(text: str) -> str:
    """``text`` written as :mod:`ipaddress` writes it, or :data:`UNKNOWN_IP`.

    A socket's peer is an IPv4 address written so already, on every request: that is
    checked in C (an ``inet_pton``/``inet_ntop`` round trip, well under a microsecond)
    before parsing in Python (:func:`ip_address`, several).
    """
    try:
        if socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, text)) == text:
            return text
    except OSError:
        pass
    address = _parse(text)
    return str(address) if address else UNKNOWN_IP


def _trusted(address: IPv4Address | IPv6Address | None, proxies: Sequence[Network]) -> bool:
    return address is not None and any(address in network for network in proxies)


def client_ip(
    peer: str | None, forwarded_for: Iterable[str], trusted_proxies: Sequence[Network]
) -> str:
    """The socket ``peer``; behind trusted proxies, the right-most untrusted hop of the
    ``X-Forwarded-For`` headers' values (``forwarded_for``, in the order received).

    Walking X-Forwarded-For from the right and stopping at the first hop that is not a
    trusted proxy means a client cannot spoof its IP by sending the header itself.
    """
    if not trusted_proxies:
        return _canonical(peer) if peer else UNKNOWN_IP
    peer_address = _parse(peer) if peer else None
    if not _trusted(peer_address, trusted_proxies):
        return str(peer_address) if peer_address else UNKNOWN_IP
    hops = [hop for header in forwarded_for for hop in header.split(",")]
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            break
        if not _trusted(address, trusted_proxies):
            return str(address)
    return str(peer_address)
