"""Rate limits per client IP (nonce, verify) and per address and client network (failed
verifies), over a sliding window (:class:`~walletauth.server.state.base.Hits`: no double
burst at a fixed window's edge); per address (rights requests, counted per day) over an
exact log of the requests taken (``take_slot``), so a refusal's Retry-After is never
longer than the window.

Counter keys name the subject only by a keyed hash, so neither Redis nor this worker's
memory (:mod:`walletauth.server.web.local_hits`, without Redis) ever holds an IP or an
address in the clear. An IPv6 client counts by its /64: one host usually holds a whole
/64, and counting per address would give it 2**64 allowances.
"""

from __future__ import annotations

import hashlib
import hmac
import socket
from datetime import datetime, timedelta

from walletauth.server.config.settings import RateLimits
from walletauth.server.state.base import HitCounter
from walletauth.server.web.errors import ServerError


class RateLimiter:
    def __init__(self, counter: HitCounter, limits: RateLimits, *, key: bytes) -> None:
        self._counter = counter
        self._limits = limits
        # Keyed once: each counter key continues a copy, which skips OpenSSL's per-call
        # digest lookup and key setup (as the nonces' tags do).
        self._keyed_mac = hmac.new(key, digestmod=hashlib.sha256)
        self._window = timedelta(seconds=limits.window_seconds)

    @property
    def enabled(self) -> bool:
        return self._limits.enabled

    async def rights_requested(self, address: str, *, now: datetime) -> None:
        """Count a rights request of ``address``'s wallet; raise once over its limit."""
        await self._subject_hit("rights", address, now)

    async def request_forwarded(self, address: str, *, now: datetime) -> None:
        """Count a rights request a service hands over about ``address``, apart from the
        wallet's own, so that no service can use up the wallet's allowance."""
        await self._subject_hit("forwarded", address, now)

    async def _subject_hit(self, kind: str, address: str, now: datetime) -> None:
        """A slot of the wallet's allowance, from an exact log: a refusal takes none, and
        its Retry-After is when the oldest request leaves the window, never later."""
        if not self._limits.enabled:
            return
        limit = self._limits.rights_per_subject
        window = timedelta(seconds=self._limits.rights_window_seconds)
        retry_after = await self._counter.take_slot(
            self._counter_key(kind, address.lower()), limit=limit, window=window, now=now
        )
        if retry_after is not None:
            raise self._limited(
                f"more than {limit} {kind} requests of this wallet", retry_after, window
            )

    async def registration_requested(self, client_ip: str, *, now: datetime) -> None:
        """Count an OpenID Connect client registration (RFC 7591) from ``client_ip``'s
        network; raise once over its limit. From an exact log, as rights requests: each
        registration is a row kept for good, so a refusal takes no slot and its
        Retry-After is when the oldest registration leaves the window."""
        if not self._limits.enabled:
            return
        limit = self._limits.registrations_per_ip
        window = timedelta(seconds=self._limits.registrations_window_seconds)
        retry_after = await self._counter.take_slot(
            self._counter_key("register", client_network(client_ip)), limit=limit,
            window=window, now=now,
        )
        if retry_after is not None:
            raise self._limited(f"more than {limit} client registrations", retry_after, window)

    async def nonce_requested(self, client_ip: str, *, now: datetime) -> None:
        await self._hit("nonce", client_network(client_ip), self._limits.nonce_per_ip, now)

    async def verify_requested(self, client_ip: str, *, now: datetime) -> None:
        await self._hit("verify", client_network(client_ip), self._limits.verify_per_ip, now)

    async def failures_allowed(self, address: str, client_ip: str, *, now: datetime) -> None:
        """Raise ``rate_limited`` if the network of ``client_ip`` has used up its failed
        verifies for ``address`` in this window, counting nothing.

        Checked only before the work a failure costs us (a contract wallet's check on
        chain), never before a plain-key signature, which is checked at once and is final:
        so a valid signature is never refused for failures, and failures from one network
        never hold the address back on another (the owner's), however many there are."""
        if not self._limits.enabled:
            return
        limit = self._limits.failed_verify_per_address
        hits = await self._counter.peek_hits(
            self._counter_key("failed", _failure_subject(address, client_ip)),
            window=self._window, now=now,
        )
        if hits.count >= limit:
            raise self._limited(f"{limit} failed verifies", hits.retry_after(limit))

    async def verify_failed(self, address: str, client_ip: str, *, now: datetime) -> None:
        """Count a failed verify for ``address`` from the network of ``client_ip``; raise
        once that is over its limit."""
        await self._hit(
            "failed", _failure_subject(address, client_ip),
            self._limits.failed_verify_per_address, now,
        )

    async def _hit(self, kind: str, subject: str, limit: int, now: datetime) -> None:
        if not self._limits.enabled:
            return
        hits = await self._counter.count_hit(
            self._counter_key(kind, subject), window=self._window, now=now
        )
        if hits.count > limit:
            raise self._limited(f"more than {limit} {kind} requests", hits.retry_after(limit))

    def _limited(
        self, what: str, retry_after: int, window: timedelta | None = None
    ) -> ServerError:
        seconds = int((window or self._window).total_seconds())
        return ServerError(
            "rate_limited",
            f"{what} in {seconds} s; retry after {retry_after} s",
            retry_after=retry_after,
        )

    def _counter_key(self, kind: str, subject: str) -> str:
        mac = self._keyed_mac.copy()
        mac.update(f"{kind}\0{subject}".encode())
        return f"{kind}:{mac.hexdigest()[:32]}"


_IPV4_MAPPED = bytes(10) + b"\xff\xff"


def client_network(ip: str, *, ipv4_by_24: bool = False) -> str:
    """What a client's requests count under: an IPv6 address's /64 network; an IPv4
    address itself (also when written IPv4-mapped), or its /24 with ``ipv4_by_24`` (the
    network one party usually holds whole, for failed verifies). Anything that is no IP
    (a test client's name) counts as itself."""
    if ":" in ip:
        try:
            # inet_pton, not ipaddress: a twentieth of the time, on the sign-in's path.
            packed = socket.inet_pton(socket.AF_INET6, ip)
        except OSError:
            return ip
        if packed[:12] != _IPV4_MAPPED:
            return packed[:8].hex() + "::/64"
        ip = socket.inet_ntop(socket.AF_INET, packed[12:])
    if not ipv4_by_24:
        return ip
    try:
        packed = socket.inet_pton(socket.AF_INET, ip)
    except OSError:
        return ip
    return socket.inet_ntop(socket.AF_INET, packed[:3] + b"\0") + "/24"


def _failure_subject(address: str, client_ip: str) -> str:
    """Failed verifies count per address and client network (IPv4 /24, IPv6 /64)."""
    return f"{address.lower()}\0{client_network(client_ip, ipv4_by_24=True)}"
