"""``GET /auth/nonce`` and ``POST /auth/verify`` as plain ASGI, answered ahead of FastAPI.

A sign-in is these two requests, and on one worker their cost is the service's sign-in
rate (``benchmarks/login.py``). As FastAPI routes each paid for Starlette's middleware
stack, routing over every route, dependency solving and the request and response model
layers: more than the signature check and the store's transaction together. Here they
do the same work by hand, once: the body limit, the same pydantic model for the body,
problem answers from the one table (:mod:`walletauth.server.web.problems`), the request
metrics, and CORS for the configured origins through Starlette's own middleware.
FastAPI still serves every other request to these paths (the CORS preflight; other
methods get their 405 here) and documents both in the OpenAPI schema (:func:`document`).

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
from walletauth.server.signin.login import Client, SignedIn
from walletauth.server.web.client_ip import client_ip
from walletauth.server.web.deps import MAX_USER_AGENT_CHARS, SESSION_COOKIE
from walletauth.server.web.errors import ServerError
from walletauth.server.web.handlers import problem_for, validation_problem
from walletauth.server.web.metrics import Metrics
from walletauth.server.web.problems import problem_response, problem_responses
from walletauth.server.web.schemas import NonceResponse, TokenResponse, VerifyRequest

NONCE_PATH: Final = "/auth/nonce"
VERIFY_PATH: Final = "/auth/verify"
METHOD_OF: Final = {NONCE_PATH: "GET", VERIFY_PATH: "POST"}

_JSON_HEADERS: Final = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]


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
        self._max_body_bytes = settings.max_body_bytes
        self._cookie_attributes = _cookie_attributes(settings)
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
        self._metrics.observe_request(path, method, status, time.perf_counter() - started)

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
        await _send_json(send, _token_body(signed_in), self._verify_headers(signed_in))
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
        if not _is_json(request.content_type):
            raise ServerError(
                "invalid_request", "body: send a JSON object with Content-Type: application/json"
            )
        limit = self._max_body_bytes
        too_large = ServerError("request_too_large", f"request body is larger than {limit} bytes")
        if request.content_length is not None and request.content_length > limit:
            raise too_large
        chunks: list[bytes] = []
        received, more = 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ServerError("invalid_request", "the client went away before the body ended")
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > limit:
                raise too_large
            chunks.append(chunk)
            more = message.get("more_body", False)
        return _verify_request(b"".join(chunks))

    def _verify_headers(self, signed_in: SignedIn) -> list[tuple[bytes, bytes]]:
        if signed_in.cookie is None:
            return _JSON_HEADERS
        cookie = f"{SESSION_COOKIE}={signed_in.cookie}; {self._cookie_attributes}"
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


def _is_json(content_type: str | None) -> bool:
    if content_type is None:
        return False
    media_type = content_type.partition(";")[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def _token_body(signed_in: SignedIn) -> dict[str, object]:
    return {
        "address": signed_in.principal.address,
        "chain_id": signed_in.principal.chain_id,
        "access_token": signed_in.access.token,
        "token_type": "Bearer",
        "expires_in": signed_in.access.expires_in,
    }


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


def _cookie_attributes(settings: Settings) -> str:
    """The session cookie's attributes, as ``Response.set_cookie`` wrote them."""
    max_age = int(settings.session_ttl.total_seconds())
    secure = "; Secure" if settings.cookie_secure else ""
    return f"HttpOnly; Max-Age={max_age}; Path=/; SameSite=lax{secure}"


def cors_options(settings: Settings) -> dict[str, Any]:
    """One CORS configuration for FastAPI's routes and these endpoints."""
    return {
        "allow_origins": list(settings.cors_origins),
        "allow_credentials": True,
        "allow_methods": ["GET", "POST", "PUT"],
        "allow_headers": ["Authorization", "Content-Type"],
    }


# --- the OpenAPI description -------------------------------------------------------------

def document(schema: dict[str, Any]) -> None:
    """Describe both endpoints in an OpenAPI ``schema`` that FastAPI built without them."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (NonceResponse, VerifyRequest, TokenResponse):
        components.setdefault(
            model.__name__, model.model_json_schema(ref_template="#/components/schemas/{model}")
        )
    ours = {
        NONCE_PATH: {"get": _operation(
            "nonce", "A fresh single-use nonce for the next sign-in message",
            NonceResponse, problem_responses(429, 500, 503),
        )},
        VERIFY_PATH: {"post": {
            **_operation(
                "verify", "Sign in with a signed EIP-4361 message; sets the session cookie",
                TokenResponse, problem_responses(400, 401, 403, 413, 422, 429, 500, 503),
                description=(
                    "The message's nonce must come from GET /auth/nonce and is consumed: a"
                    " second verify with it answers 401 with code `nonce_unknown`, as does"
                    " an expired or unknown nonce. The body must be sent as"
                    " `Content-Type: application/json`."
                ),
            ),
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref(VerifyRequest)}},
            },
        }},
    }
    schema["paths"] = {**ours, **schema.get("paths", {})}


def _operation(
    name: str, summary: str, model: type, problems: dict[int | str, Any], description: str = ""
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "tags": ["auth"],
        "summary": summary,
        "operationId": f"{name}_auth_{name}_{METHOD_OF[f'/auth/{name}'].lower()}",
        "responses": {
            "200": {
                "description": "Successful Response",
                "content": {"application/json": {"schema": _ref(model)}},
            },
            **{str(status): answer for status, answer in problems.items()},
        },
    }
    if description:
        operation["description"] = description
    return operation


def _ref(model: type) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}
