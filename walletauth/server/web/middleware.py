"""Plain ASGI middleware (cheaper than Starlette's BaseHTTPMiddleware on every request):
a request body limit, request timing for metrics and a log line without IPs, and the
security headers every answer carries."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Final

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from walletauth.server.web.errors import ServerError
from walletauth.server.web.metrics import Metrics
from walletauth.server.web.problems import error_response

log = logging.getLogger("walletauth.server")

NOSNIFF: Final = (b"x-content-type-options", b"nosniff")
HTML_DEFAULT_CSP: Final = (
    b"content-security-policy",
    b"default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
)
"""For an HTML answer that brings no policy of its own: it may load and run nothing."""


def with_security_headers(send: Send) -> Send:
    """``send``, adding ``X-Content-Type-Options: nosniff`` to every answer and the
    default CSP to an HTML answer without one (the pages that need more, the example
    dApp, the HTML export and the API docs, set their own)."""

    async def send_secured(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": _secured(message.get("headers", ()))}
        await send(message)

    return send_secured


def _secured(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    secured = list(headers)
    nosniff = html = has_policy = False
    for name, value in secured:
        lowered = name.lower()
        if lowered == b"x-content-type-options":
            nosniff = True
        elif lowered == b"content-type":
            html = value[:9].lower() == b"text/html"
        elif lowered == b"content-security-policy":
            has_policy = True
    if not nosniff:
        secured.append(NOSNIFF)
    if html and not has_policy:
        secured.append(HTML_DEFAULT_CSP)
    return secured


class BodyTooLarge(HTTPException):
    """Raised while the body streams in; an HTTPException so FastAPI's body parsing
    passes it through to the problem handler instead of wrapping it into a 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, BodyLimit.detail(limit))


class BodyLimit:
    """The request body limit, for the middleware and the sign-in's fast path alike: a
    declared ``Content-Length`` over it is refused before anything is read, and a body
    streaming past it is cut off where it crosses."""

    def __init__(self, max_body_bytes: int) -> None:
        self.max_body_bytes = max_body_bytes

    @staticmethod
    def detail(limit: int) -> str:
        return f"request body is larger than {limit} bytes"

    def refusal(self) -> ServerError:
        """The ``request_too_large`` (413) problem."""
        return ServerError("request_too_large", self.detail(self.max_body_bytes))

    def declared_over(self, content_length: int | None) -> bool:
        return content_length is not None and content_length > self.max_body_bytes

    def limited(self, receive: Receive, refuse: Callable[[], Exception]) -> Receive:
        """``receive``, raising ``refuse()`` once the body's bytes pass the limit."""
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise refuse()
            return message

        return limited_receive

    async def read(self, receive: Receive) -> bytes:
        """The whole body, within the limit (``request_too_large`` past it)."""
        limited = self.limited(receive, self.refusal)
        chunks: list[bytes] = []
        more = True
        while more:
            message = await limited()
            if message["type"] == "http.disconnect":
                raise ServerError("invalid_request", "the client went away before the body ended")
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        return b"".join(chunks)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.limit = BodyLimit(max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.limit.declared_over(_content_length(scope)):
            await error_response(self.limit.refusal())(scope, receive, send)
            return
        limit = self.limit.max_body_bytes
        await self.app(scope, self.limit.limited(receive, lambda: BodyTooLarge(limit)), send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def observe_request(metrics: Metrics, template: str, method: str, status: int,
                    seconds: float) -> None:
    """Count one answered request, by its route template (never the raw path: a path
    could carry anything a client typed), and log it at debug level, without IPs."""
    metrics.observe_request(template, method, status, seconds)
    if log.isEnabledFor(logging.DEBUG):
        log.debug("%s %s -> %d in %.1f ms", method, template, status, seconds * 1000)


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            self._observe(scope, status, time.perf_counter() - started)

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        template = getattr(scope.get("route"), "path", None) or "unmatched"
        observe_request(self.metrics, template, scope["method"], status, seconds)
