"""The operator's console (:mod:`walletauth.console`) mounted at ``/console/``: the
runtime as the :class:`~walletauth.console.ConsoleHost` it asks for."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from fastapi import FastAPI, Request

from walletauth.console import console_router
from walletauth.errors import WalletAuthError
from walletauth.policy import Policy
from walletauth.server.runtime import Runtime
from walletauth.server.signin.login import Client
from walletauth.server.web.client_ip import client_ip
from walletauth.server.web.deps import SESSION_COOKIE
from walletauth.store import Store

T = TypeVar("T")


class RuntimeConsoleHost:
    """What the console uses of a running app; built once per worker at start-up."""

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self._runtime = runtime
        self.store: Store = runtime.store
        self.policy: Policy = runtime.policy
        self.operators = frozenset(settings.operators)
        self.session_ttl: timedelta = settings.console_session_ttl
        self.cookie_secure = settings.cookie_secure
        self.origins = frozenset(
            f"{scheme}://{domain.authority}".lower()
            for domain in settings.domains for scheme in settings.sign_in_schemes(domain))
        base = runtime.store.secrets.current.subject_hmac_key
        self.key = hmac.new(base, b"walletauth.server:console", hashlib.sha256).digest()
        self.requests_retention = settings.requests_log_retention
        self.notice_abandon_after = settings.notice_abandon_after

    def now(self) -> datetime:
        return self._runtime.clock()

    async def run(self, call: Callable[..., T], *args: object, **kwargs: object) -> T:
        return await self._runtime.store_calls.run(call, *args, **kwargs)

    def _client_ip(self, request: Request) -> str:
        peer = request.client.host if request.client else None
        return client_ip(peer, request.headers.getlist("x-forwarded-for"),
                         self._runtime.settings.trusted_proxies)

    async def new_nonce(self, request: Request) -> str:
        return await self._runtime.login.new_nonce(Client(self._client_ip(request), None))

    def sign_in_origin(self, request: Request) -> tuple[str, str]:
        asked = request.headers.get("host", "").lower()
        domains = self._runtime.settings.domains
        domain = next((d for d in domains if d.authority.lower() == asked), domains[0])
        return domain.authority, f"{domain.origin_scheme}://{domain.authority}"

    async def check_signed(self, request: Request, message: str, signature: str) -> str:
        login = await self._runtime.login.check_signed_message(
            message, signature, client_ip=self._client_ip(request), now=self.now())
        return login.address

    async def signed_in_address(self, request: Request) -> str | None:
        login = self._runtime.login
        authorization = request.headers.get("authorization", "")
        try:
            if authorization[:7].lower() == "bearer ":
                return (await login.by_token(authorization[7:].strip())).address
            cookie = request.cookies.get(SESSION_COOKIE)
            if cookie:
                return (await login.by_cookie(cookie)).address
        except WalletAuthError:  # an ended or foreign session is nobody's
            return None
        return None

    async def end_sessions_of(self, address: str) -> int:
        return await self._runtime.state.revoke_sessions_of(address)

    def notice_services(self) -> list[str]:
        return self._runtime.notice_services()


def install_console(app: FastAPI) -> None:
    app.include_router(console_router())


def start_console(app: FastAPI, runtime: Runtime) -> None:
    app.state.console_host = RuntimeConsoleHost(runtime)
