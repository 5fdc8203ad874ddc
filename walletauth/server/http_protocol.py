"""uvicorn's httptools protocol, writing each answer to the socket in one go.

uvicorn writes a response's head when the app sends ``http.response.start`` and its
body when the app sends ``http.response.body``: two ``write`` calls, two TCP segments,
often two wake-ups of the client, for every small JSON answer. On this service's hot
path (two small answers per sign-in) the second write cost about as much as the whole
framework's routing. Here the transport holds what is written during one turn of the
event loop and writes it at the end of that turn, so a head and a body sent together go
out together; nothing waits longer than the turn that wrote it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


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


class TurnBufferedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's ``httptools`` protocol over a :class:`_TurnBufferedTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        buffered = _TurnBufferedTransport(transport, self.loop)
        super().connection_made(buffered)  # type: ignore[arg-type]


UVICORN_HTTP = f"{__name__}:{TurnBufferedHttpToolsProtocol.__name__}"
"""What ``walletauth serve`` passes to uvicorn as ``http``."""
