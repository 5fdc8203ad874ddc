"""What the console needs from the server that mounts it, as one protocol: the console
sits below the server (import-linter), so it names what it uses instead of importing it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from fastapi import Request

from walletauth.policy import Policy
from walletauth.store import Store

T = TypeVar("T")


class ConsoleHost(Protocol):
    store: Store
    policy: Policy
    operators: frozenset[str]
    """EIP-55 addresses of the wallets that may use the console."""
    session_ttl: timedelta
    cookie_secure: bool
    origins: frozenset[str]
    """The service's own origins: a console POST must come from one of them."""
    key: bytes
    """32 bytes for the console alone: sealing its cookie, its CSRF tokens, operator refs."""
    requests_retention: timedelta
    notice_abandon_after: timedelta

    def now(self) -> datetime: ...

    async def run(self, call: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run a blocking store call off the event loop (the server's store queue)."""
        ...

    async def new_nonce(self, request: Request) -> str: ...

    def sign_in_origin(self, request: Request) -> tuple[str, str]:
        """The configured domain the request came to and its origin, for the message."""
        ...

    async def check_signed(self, request: Request, message: str, signature: str) -> str:
        """Check a signed EIP-4361 message as a sign-in does (using its nonce); the signer."""
        ...

    async def signed_in_address(self, request: Request) -> str | None:
        """The wallet of the service's own session (Bearer token or cookie), if any."""
        ...

    async def end_sessions_of(self, address: str) -> int: ...

    def notice_services(self) -> list[str]: ...
