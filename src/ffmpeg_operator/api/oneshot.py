"""uvicorn's HTTP protocol with each response's head and body on the wire in one write.

An ASGI answer is two messages, ``http.response.start`` and ``http.response.body``, and
uvicorn writes each to the socket as it comes: two ``send`` calls and two TCP segments for a
JSON answer of a few hundred bytes, so the client wakes up for the head and again for the
body. Profiled (py-spy of the served loop), those writes were a third of the server's time on
a mutation. :class:`OneWriteProtocol` gives uvicorn a transport that holds what is written
until the event loop's next turn: a head and a body sent back to back (every JSON answer of
this API, the routes' and the fast paths' alike) leave in one ``send``, like Go's buffered
response writer does. Nothing waits longer than that turn; ``close`` sends what is held first.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class OneWriteTransport:
    """A transport whose writes of one loop turn reach the wrapped transport as one write."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        """Write what is held now (the loop does so on its next turn)."""
        if self._held:
            data = b"".join(self._held)
            self._held.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._held.clear()
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(c) for c in self._held)

    def __getattr__(self, name: str) -> Any:
        # Everything else (is_closing, get_extra_info, pause_reading, set_protocol, ...) is
        # the wrapped transport's.
        return getattr(self._transport, name)


class OneWriteProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a :class:`OneWriteTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        wrapped = OneWriteTransport(transport, asyncio.get_running_loop())
        super().connection_made(wrapped)  # type: ignore[arg-type]
