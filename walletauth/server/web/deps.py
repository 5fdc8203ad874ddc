"""Request-scoped dependencies: the runtime and who is signed in.

All are ``async def`` although none awaits: FastAPI runs a plain ``def`` dependency in a
worker thread, and the hop there and back (waiting for the GIL on the way back) cost
more than the dependency itself on every request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Cookie, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from walletauth.server.runtime import Runtime
from walletauth.server.signin.answers import SESSION_COOKIE as SESSION_COOKIE  # re-exported
from walletauth.server.signin.login import Client, Principal
from walletauth.server.web.client_ip import client_ip

MAX_USER_AGENT_CHARS = 512

CREDENTIAL_PRECEDENCE = (
    "When a request sends both, the Bearer access token decides and the session cookie is"
    " ignored: the token is what the caller chose to send, the cookie what a browser sends"
    " on its own."
)

bearer = HTTPBearer(
    auto_error=False,
    description=f"Access token from /auth/verify or refresh. {CREDENTIAL_PRECEDENCE}",
)


async def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(runtime_of)]


SessionCookieDep = Annotated[
    str | None,
    Cookie(
        alias=SESSION_COOKIE,
        description=f"Opaque refresh credential set by /auth/verify. {CREDENTIAL_PRECEDENCE}",
    ),
]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def principal_of(
    runtime: RuntimeDep, credentials: BearerDep, cookie: SessionCookieDep = None
) -> Principal:
    """Who is signed in: by the Bearer access token if one is sent, else by the cookie."""
    if credentials is not None:
        return await runtime.login.by_token(credentials.credentials)
    return await runtime.login.by_cookie(cookie)


PrincipalDep = Annotated[Principal, Depends(principal_of)]


async def client_ip_of(request: Request, runtime: RuntimeDep) -> str:
    """The request's client IP, as the sign-in endpoints read it (trusted proxies)."""
    peer = request.client.host if request.client else None
    forwarded_for = request.headers.getlist("x-forwarded-for")
    return client_ip(peer, forwarded_for, runtime.settings.trusted_proxies)


ClientIpDep = Annotated[str, Depends(client_ip_of)]


async def client_of(request: Request, ip: ClientIpDep) -> Client:
    """Where a sign-in request comes from, as the fast path reads it."""
    user_agent = request.headers.get("user-agent")
    return Client(ip=ip, user_agent=None if user_agent is None
                  else user_agent[:MAX_USER_AGENT_CHARS])


ClientDep = Annotated[Client, Depends(client_of)]
