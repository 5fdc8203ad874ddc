"""``GET /auth/nonce`` and ``POST /auth/verify`` as plain ASGI, answered ahead of FastAPI.

A sign-in is these two requests, and on one worker their cost is the service's sign-in
rate (``benchmarks/login.py``). As FastAPI routes each paid for Starlette's middleware
stack, routing over every route, dependency solving and the request and response model
layers: more than the signature check and the store's transaction together. Here they
do the same work by hand, once, with the parts FastAPI's side uses: the body limit
(:class:`~walletauth.server.web.middleware.BodyLimit`), the same pydantic model for the
body, problem answers from the one table (:mod:`walletauth.server.web.problems`), the
request metrics (:func:`~walletauth.server.web.middleware.observe_request`), the token
body and the session cookie (:mod:`walletauth.server.signin.answers`), and CORS for the
configured origins through Starlette's own middleware. Both are declared as FastAPI
routes too (:mod:`walletauth.server.routes.auth`): the OpenAPI schema comes from there,
FastAPI serves the CORS preflight, and ``tests/server/test_sign_in_paths.py`` checks
that both paths answer alike. Other methods get their 405 here.

A JSON body is only read with ``Content-Type: application/json`` (or ``+json``): a
cross-site form cannot send that without a preflight, so no other site can sign a
browser in.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Final

from pydantic import ValidationError
from starlette.datastructures import State
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from walletauth.server.config.settings import Settings
from walletauth.server.runtime import Runtime
from walletauth.server.signin.answers import NO_STORE, SessionCookie, token_body
from walletauth.server.signin.login import Client, SignedIn
from walletauth.server.web.client_ip import client_ip
from walletauth.server.web.deps import MAX_USER_AGENT_CHARS
from walletauth.server.web.errors import ServerError
from walletauth.server.web.handlers import problem_for, validation_problem
from walletauth.server.web.metrics import Metrics
from walletauth.server.web.middleware import BodyLimit, observe_request
from walletauth.server.web.problems import problem_response
from walletauth.server.web.schemas import VerifyRequest

NONCE_PATH: Final = "/auth/nonce"
VERIFY_PATH: Final = "/auth/verify"
METHOD_OF: Final = {NONCE_PATH: "GET", VERIFY_PATH: "POST"}

_JSON_HEADERS: Final = [
    (b"content-type", b"application/json"),
    *((name.lower().encode(), value.encode()) for name, value in NO_STORE.items()),
]


@dataclass(frozen=True)
class _Request:
    """What the endpoints read of a request's head, in one pass over its headers."""

    client: Client
    content_type: str | None
    content_length: int | None


class LoginEndpoints:
    """The two sign-in requests of one app, answered without the framework."""

    def __init__(self, state: State, settings: Settings, metrics: Metrics) -> None:
        self._state = state  # the app's: its runtime is there once the app has started
        self._settings = settings
        self._metrics = metrics
        self._body_limit = BodyLimit(settings.max_body_bytes)
        self._cookie = SessionCookie(secure=settings.cookie_secure)
        self._cookie_max_age = int(settings.session_ttl.total_seconds())
        self._answer: ASGIApp = self._answer_bare
        if settings.cors_origins:
            self._answer = CORSMiddleware(self._answer_bare, **cors_options(settings))

    @staticmethod
    def handles(scope: Scope) -> bool:
        """Whether a request is these endpoints' (a CORS preflight is FastAPI's)."""
        return scope["type"] == "http" and scope["path"] in METHOD_OF and (
            scope["method"] != "OPTIONS"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._answer(scope, receive, send)

    async def _answer_bare(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        path, method = scope["path"], scope["method"]
        try:
            status = await self._route(path, method, scope, receive, send)
        except Exception as error:  # every failure is a problem answer, never a bare 500
            if isinstance(error, _RefusedBody):
                response = validation_problem(error.problems)
            else:
                response = problem_for(error, method, path)
            await response(scope, receive, send)
            status = response.status_code
        observe_request(self._metrics, path, method, status, time.perf_counter() - started)

    async def _route(
        self, path: str, method: str, scope: Scope, receive: Receive, send: Send
    ) -> int:
        if method != METHOD_OF[path]:
            response = problem_response(
                "method_not_allowed", "Method Not Allowed", headers={"Allow": METHOD_OF[path]}
            )
            await response(scope, receive, send)
            return response.status_code
        runtime = self._runtime()
        request = self._read_head(scope)
        if path == NONCE_PATH:
            nonce = await runtime.login.new_nonce(request.client)
            await _send_json(send, {"nonce": nonce}, _JSON_HEADERS)
            return 200
        body = await self._read_body(request, receive)
        signed_in = await runtime.login.verify(body.message, body.signature, request.client)
        await _send_json(send, token_body(signed_in), self._verify_headers(signed_in))
        return 200

    def _runtime(self) -> Runtime:
        runtime: Runtime | None = getattr(self._state, "runtime", None)
        if runtime is None:
            raise ServerError("service_unavailable", "the service is starting or stopping")
        return runtime

    def _read_head(self, scope: Scope) -> _Request:
        user_agent = content_type = content_length = None
        forwarded_for: list[str] = []
        for name, value in scope["headers"]:
            if name == b"user-agent":
                user_agent = value.decode("latin-1")[:MAX_USER_AGENT_CHARS]
            elif name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"content-length":
                content_length = int(value) if value.isdigit() else None
            elif name == b"x-forwarded-for":
                forwarded_for.append(value.decode("latin-1"))
        peer = scope["client"][0] if scope.get("client") else None
        ip = client_ip(peer, forwarded_for, self._settings.trusted_proxies)
        return _Request(Client(ip=ip, user_agent=user_agent), content_type, content_length)

    async def _read_body(self, request: _Request, receive: Receive) -> VerifyRequest:
        require_json(request.content_type)
        if self._body_limit.declared_over(request.content_length):
            raise self._body_limit.refusal()
        return _verify_request(await self._body_limit.read(receive))

    def _verify_headers(self, signed_in: SignedIn) -> list[tuple[bytes, bytes]]:
        if signed_in.cookie is None:
            return _JSON_HEADERS
        cookie = self._cookie.set(signed_in.cookie, max_age=self._cookie_max_age)
        return [*_JSON_HEADERS, (b"set-cookie", cookie.encode("latin-1"))]


def _verify_request(body: bytes) -> VerifyRequest:
    if not body:
        raise ServerError("invalid_request", "body: Field required")
    try:
        return VerifyRequest.model_validate_json(body)
    except ValidationError as error:
        problems = error.errors(include_url=False, include_input=False)
        raise _RefusedBody([{**p, "loc": ("body", *p["loc"])} for p in problems]) from None


class _RefusedBody(Exception):
    """A body the model refused; answered as FastAPI's validation errors are."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__("request body refused")
        self.problems = problems


def require_json(content_type: str | None) -> None:
    """Refuse a verify body not sent as JSON (see the module's docstring: no cross-site
    form can send one without a preflight)."""
    if not _is_json(content_type):
        raise ServerError(
            "invalid_request", "body: send a JSON object with Content-Type: application/json"
        )


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return False
    media_type = content_type.partition(";")[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


async def _send_json(
    send: Send, content: dict[str, object], headers: list[tuple[bytes, bytes]]
) -> None:
    body = json.dumps(content, separators=(",", ":")).encode()
    await send({
        "type": "http.response.start",
        "status": 200,
        "headers": [*headers, (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})


def cors_options(settings: Settings) -> dict[str, Any]:
    """One CORS configuration for FastAPI's routes and these endpoints."""
    return {
        "allow_origins": list(settings.cors_origins),
        "allow_credentials": True,
        "allow_methods": ["GET", "POST", "PUT"],
        "allow_headers": ["Authorization", "Content-Type"],
    }
