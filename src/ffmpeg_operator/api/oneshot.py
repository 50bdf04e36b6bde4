"""uvicorn's HTTP protocol with each response's head and body on the wire in one write.

An ASGI answer is two messages, ``http.response.start`` and ``http.response.body``, and
uvicorn writes each to the socket as it comes: two ``send`` calls and two TCP segments for a
JSON answer of a few hundred bytes, so the client wakes up for the head and again for the
body. Profiled (py-spy of the served loop), those writes were a third of the server's time on
a mutation. :class:`OneWriteProtocol` gives uvicorn a transport that holds what is written
until the event loop's next turn: a head and a body sent back to back (every JSON answer of
this API, the routes' and the fast paths' alike) leave in one ``send``, like Go's buffered
response writer does. Nothing waits longer than that turn; ``close`` sends what is held first.

Some requests need no wait at all: the single read of a process the engine holds in memory,
or of its state or config (``FastReads.answer_now``). uvicorn would start a task for it, and
the answer would leave two turns of the loop later; :class:`OneWriteProtocol` answers it
within the turn that read it, through the same request cycle (headers, access log,
keep-alive, pipelining are uvicorn's).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, cast

from starlette.types import Scope
from uvicorn._types import ASGI3Application
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

if TYPE_CHECKING:
    from ffmpeg_operator.api.fastread import Answer


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


log = logging.getLogger(__name__)

#: Answers a request from its scope alone, at once, or leaves it to the app (None).
AnswerNow = Callable[[Scope], "Answer | None"]

#: Headers uvicorn's proxy-headers middleware reads: a request carrying them goes to the app,
#: which sees the scope that middleware rewrites.
_PROXY_HEADERS = frozenset((b"x-forwarded-for", b"x-forwarded-proto"))


class OneWriteProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a :class:`OneWriteTransport`; requests that
    ``answer_now`` answers from their head alone are answered without a task."""

    def __init__(self, *args: Any, answer_now: AnswerNow | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answer_now = answer_now
        self._answering = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        wrapped = OneWriteTransport(transport, asyncio.get_running_loop())
        super().connection_made(wrapped)  # type: ignore[arg-type]

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        if not self._answered_now(cycle, app):
            super()._start_asgi_task(cycle, app)

    def _answered_now(self, cycle: RequestResponseCycle, app: ASGI3Application) -> bool:
        # A task and two more turns of the loop for an answer that needs no wait: the single
        # read answered from memory (bench/README.md).
        if (
            self.answer_now is None
            # An answer's completion starts the next pipelined request: that one takes a task,
            # or a pipeline of thousands would answer each inside the one before it.
            or self._answering
            or app is not self.app  # uvicorn's 503 over its concurrency limit
            or self.flow.write_paused
            or any(name in _PROXY_HEADERS for name, _ in cycle.scope["headers"])
        ):
            return False
        try:
            answer = self.answer_now(cast(Scope, cycle.scope))
        except Exception:
            # The app answers it the long way, with its error handling, and logs what failed.
            log.exception("answering %s at once failed", cycle.scope["path"])
            return False
        if answer is None:
            return False
        self._answering = True
        try:
            for message in answer.messages():
                _run_now(cycle.send(message))  # type: ignore[arg-type]
        finally:
            self._answering = False
        return True

    def on_response_complete(self) -> None:
        # The answer is whole: nothing else will join it, so it leaves now rather than at the
        # loop's next turn.
        self.transport.flush()  # type: ignore[attr-defined]
        super().on_response_complete()


def answering(answer_now: AnswerNow | None) -> type[OneWriteProtocol]:
    """:class:`OneWriteProtocol` answering at once with ``answer_now`` (uvicorn takes a class)."""

    class Answering(OneWriteProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, answer_now=answer_now, **kwargs)

    return Answering


def _run_now(step: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine that does not suspend (uvicorn's ``send`` while writing is not
    paused) to its end."""
    try:
        step.send(None)
    except StopIteration:
        return
    step.close()
    raise RuntimeError("the write was paused")
