"""uvicorn's httptools protocol, writing each answer to the socket in one go.

uvicorn writes a response's head when the app sends ``http.response.start`` and its
body when the app sends ``http.response.body``: two ``write`` calls, two TCP segments,
often two wake-ups of the client, for every small JSON answer. On this service's hot
path (two small answers per sign-in) the second write cost about as much as the whole
framework's routing. Here the transport holds what is written during one turn of the
event loop and writes it at the end of that turn, so a head and a body sent together go
out together; nothing waits longer than the turn that wrote it.

It also bounds request heads, which neither uvicorn nor httptools does: httptools
buffers a header of any size until it ends (an 8 MB header was answered; ten unfinished
16 MB heads grew a worker by 180 MB), and a client that sends a head slowly, or nothing,
held its connection for ever. A head larger than ``max_head_bytes`` is answered 431 and
the connection closed; a head not complete ``head_timeout`` seconds after its first
byte (or after the connection opened) is answered 408 and closed. Bodies are bounded in
time too: uvicorn waits for a body as long as its client takes, so a client that sends a
``Content-Length`` and then trickles the body, or nothing, held the connection and the
request's task for ever. A body not complete ``body_timeout`` seconds after its head is
answered 408 and closed (or just closed, if the app answered already). These answers, and
the 400 for a request that is not HTTP, are problem details with the table's codes.
"""

from __future__ import annotations

import asyncio
import json
from functools import partial
from typing import Any, Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from walletauth.server.web.errors import ServerErrorCode
from walletauth.server.web.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_PREFIX, outcome_of

DEFAULT_MAX_HEAD_BYTES: Final = 16 * 1024
DEFAULT_HEAD_TIMEOUT_SECONDS: Final = 10.0
DEFAULT_BODY_TIMEOUT_SECONDS: Final = 10.0


class _TurnBufferedTransport:
    """A transport whose writes in one event-loop turn reach the socket as one write.

    Everything else is the wrapped transport's; closing writes what is held first.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._held:
            self._loop.call_soon(self._write_held)
        self._held.append(data)

    def _write_held(self) -> None:
        if not self._held:
            return
        data = b"".join(self._held)
        self._held.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def close(self) -> None:
        self._write_held()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _refusal(code: ServerErrorCode, detail: str) -> bytes:
    """A whole HTTP/1.1 answer closing the connection: a problem detail for ``code``."""
    status, title = outcome_of(code)
    body = json.dumps({
        "type": PROBLEM_TYPE_PREFIX + code, "title": title, "status": status,
        "detail": detail, "code": code,
    }).encode()
    head = (
        f"HTTP/1.1 {status} {title}\r\ncontent-type: {PROBLEM_MEDIA_TYPE}\r\n"
        f"content-length: {len(body)}\r\nx-content-type-options: nosniff\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class _HeadTooLarge(Exception):
    """Raised from a parser callback; httptools stops parsing and reports it."""


class TurnBufferedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's ``httptools`` protocol over a :class:`_TurnBufferedTransport`, with
    request heads bounded in size and time, and bodies in time."""

    def __init__(
        self,
        *args: Any,
        max_head_bytes: int = DEFAULT_MAX_HEAD_BYTES,
        head_timeout: float = DEFAULT_HEAD_TIMEOUT_SECONDS,
        body_timeout: float = DEFAULT_BODY_TIMEOUT_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._max_head_bytes = max_head_bytes
        self._head_timeout = head_timeout
        self._body_timeout = body_timeout
        self._body_pending = False
        """Whether a request's head has arrived and its body (if any) not all of it."""
        self._body_timer: asyncio.TimerHandle | None = None
        self._head_pending = True
        """Whether the bytes arriving now belong to a head (not to a body)."""
        self._head_received = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_too_large = False

    # uvicorn types its parameter asyncio.Transport while asyncio's base says BaseTransport
    # (hence override); the buffered wrapper is a Transport by duck typing, not by class.
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        buffered = _TurnBufferedTransport(transport, self.loop)
        super().connection_made(buffered)  # type: ignore[arg-type]
        # A connection that never sends a byte is a head that never ends.
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        self._disarm_body_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._head_pending:
            self._head_received += len(data)
            if self._head_timer is None:
                self._arm_head_timer()
        super().data_received(data)
        # Still in the head after this read: every byte counted since it began is head.
        if self._head_pending and self._head_received > self._max_head_bytes:
            self._refuse_head_size()
        # A body that did not come whole with its head: from now on it is timed. (Armed
        # here, not per head: most requests end within the read that brought their head.)
        elif self._body_pending and self._body_timer is None:
            self._body_timer = self.loop.call_later(self._body_timeout, self._body_timed_out)

    def on_headers_complete(self) -> None:
        # A head that arrived within one read is only seen whole here.
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self._max_head_bytes:
            self._head_too_large = True
            raise _HeadTooLarge  # httptools stops and uvicorn calls send_400_response
        self._head_pending = False
        self._body_pending = True
        self._disarm_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._head_pending, self._head_received = True, 0
        self._body_pending = False
        self._disarm_body_timer()
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to what httptools could not parse (including a head that
        :meth:`on_headers_complete` found too large), as a problem detail."""
        if self._head_too_large:
            self._refuse_head_size()
        else:
            self._close_with(_refusal("malformed_request", "the request is not valid HTTP/1.1"))

    def _refuse_head_size(self) -> None:
        detail = f"the request head is larger than {self._max_head_bytes} bytes"
        self._close_with(_refusal("request_head_too_large", detail))

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._head_pending and not self.transport.is_closing():
            detail = f"the request head did not arrive within {self._head_timeout:g} s"
            self._close_with(_refusal("request_head_timeout", detail))

    def _body_timed_out(self) -> None:
        self._body_timer = None
        if not self._body_pending or self.transport.is_closing():
            return
        if self.flow.read_paused:  # we stopped reading (flow control, pipelining), not it
            self._body_timer = self.loop.call_later(self._body_timeout, self._body_timed_out)
            return
        cycle = self.cycle
        if cycle is not None and cycle.response_started:
            # The app answered without the body; the connection can carry nothing more.
            self.transport.close()
            return
        if cycle is not None:  # the app's wait for the body ends: it answers nobody
            cycle.disconnected = True
            cycle.message_event.set()
        detail = f"the request body did not arrive within {self._body_timeout:g} s"
        self._close_with(_refusal("request_body_timeout", detail))

    def _close_with(self, answer: bytes) -> None:
        self._disarm_head_timer()
        self._disarm_body_timer()
        self._head_pending = self._body_pending = False  # nothing more is read
        if not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self._head_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _disarm_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None


UVICORN_HTTP = f"{__name__}:{TurnBufferedHttpToolsProtocol.__name__}"
"""The protocol with its default limits, by name (what test servers pass to uvicorn)."""


def http_protocol(
    *, max_head_bytes: int = DEFAULT_MAX_HEAD_BYTES,
    head_timeout: float = DEFAULT_HEAD_TIMEOUT_SECONDS,
    body_timeout: float = DEFAULT_BODY_TIMEOUT_SECONDS,
) -> partial[TurnBufferedHttpToolsProtocol]:
    """What ``walletauth serve`` passes to uvicorn as ``http``: the protocol with the
    configured limits (a ``partial`` of a module-level class, so it reaches worker
    processes intact)."""
    return partial(
        TurnBufferedHttpToolsProtocol, max_head_bytes=max_head_bytes, head_timeout=head_timeout,
        body_timeout=body_timeout,
    )
