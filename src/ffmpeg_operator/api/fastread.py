"""``GET /api/v3/process/{id}`` answered ahead of the framework.

The single read is the API's most frequent request (UIs poll it) and its own work is a dict
lookup and a cached JSON fragment; the framework's middleware stack, routing and request object
cost several times that (bench/README.md, measured on FastAPI; on Starlette the read still took
2-3x as long without this path). :class:`FastReads` answers it from the raw ASGI scope,
exactly as the route would (same body, same headers, gzip under the same rule, the same
access-token check), and hands everything else to the application:
unknown processes (the route writes the 404), requests without a valid token (the middleware
writes the 401), requests with an ``Origin`` header where CORS is on (the CORS middleware
answers those), every other path and method.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Collection, Sequence
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote

from starlette.datastructures import Headers
from starlette.types import Message, Scope, Send

from ffmpeg_operator.api.auth import Authenticator
from ffmpeg_operator.api.backend import ProcessBackend
from ffmpeg_operator.api.memfs_progress import StateOverlay, overlay_process
from ffmpeg_operator.api.routes.process import process_item
from ffmpeg_operator.api.wire import GZIP_LEVEL, GZIP_MINIMUM_SIZE, dumps
from ffmpeg_operator.core.listing import parse_filter, query_value
from ffmpeg_operator.core.models import Process

_PREFIX = b"/api/v3/process/"
_JSON = (b"content-type", b"application/json")


class Answer(NamedTuple):
    """A whole answer: status, headers and body, as the two ASGI messages carry them."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def messages(self) -> tuple[Message, Message]:
        return (
            {"type": "http.response.start", "status": self.status, "headers": self.headers},
            {"type": "http.response.body", "body": self.body},
        )

    async def send(self, send: Send) -> None:
        for message in self.messages():
            await send(message)


class FastGate:
    """What lets a request past the framework: the conditions every fast answer shares, and
    the answer itself written as the application's stack would write it."""

    def __init__(
        self,
        authenticator: Authenticator | None,
        *,
        cors: bool = False,
        ready: Callable[[], str | None] | None = None,
    ) -> None:
        self.authenticator = authenticator
        #: With CORS on, every /api answer varies by Origin; cross-origin requests go the long
        #: way (the CORS middleware answers those).
        self.cors = cors
        #: While the backend is not ready, the application answers 503 with the reason.
        self.ready = ready

    def admit(self, scope: Scope) -> Headers | None:
        """The request's headers when it may be answered here; None leaves it to the app
        (not ready, cross-origin with CORS on, no valid access token: the app writes that
        401)."""
        if self.ready is not None and self.ready() is not None:
            return None
        headers = Headers(scope=scope)
        if self.cors and "origin" in headers:
            return None
        client = scope.get("client")
        if self.authenticator is not None and not self.authenticator.allows(
            headers, str(client[0]) if client else None
        ):
            return None
        return headers

    def respond(
        self,
        headers: Headers,
        body: bytes,
        status: int = 200,
        more: Sequence[tuple[bytes, bytes]] = (),
    ) -> Answer:
        """A JSON answer with the headers the application would add (gzip, Vary)."""
        vary: list[bytes] = []
        extra: list[tuple[bytes, bytes]] = list(more)
        # The rule of ApiGZipMiddleware (Starlette's GZipMiddleware at GZIP_LEVEL): a body of
        # the minimum size varies by Accept-Encoding also where the client takes it plain.
        if len(body) >= GZIP_MINIMUM_SIZE:
            vary.append(b"Accept-Encoding")
            if "gzip" in headers.get("accept-encoding", ""):
                body = gzip.compress(body, compresslevel=GZIP_LEVEL)
                extra.append((b"content-encoding", b"gzip"))
        if self.cors:
            vary.append(b"Origin")
        if vary:
            extra.insert(0, (b"vary", b", ".join(vary)))
        return Answer(status, [(b"content-length", str(len(body)).encode()), _JSON, *extra], body)

    async def answer(
        self,
        send: Send,
        headers: Headers,
        body: bytes,
        status: int = 200,
        more: Sequence[tuple[bytes, bytes]] = (),
    ) -> None:
        await self.respond(headers, body, status, more).send(send)


#: The parts of a process read on their own, as their routes answer them.
_PARTS = ("state", "config")


def read_target(raw: bytes) -> tuple[str, str] | None:
    """``(process ID, part)`` of ``/api/v3/process/<id>`` (part "") or of
    ``/api/v3/process/<id>/<part>`` (raw path, no query), the ID decoded as RawPathMiddleware
    and path_param decode it: the one segment, percent-decoded once. None for any other
    path."""
    if not raw.startswith(_PREFIX):
        return None
    segment, slash, part = raw[len(_PREFIX) :].partition(b"/")
    if not segment or (slash and (not part or b"/" in part)):
        return None
    return unquote(segment.decode("latin-1")), part.decode("latin-1")


def raw_path(scope: Scope) -> bytes:
    raw: bytes = scope.get("raw_path") or scope["path"].encode()
    return raw.split(b"?", 1)[0]


#: A backend's lookup that answers without suspending (the local engine's; the Kubernetes
#: backend's may have to wait for the API server).
LookupNow = Callable[[Sequence[str], frozenset[str]], list[Process]]


class FastReads:
    def __init__(
        self,
        backend: ProcessBackend,
        gate: FastGate,
        *,
        overlay: StateOverlay | None = None,
        lookup_now: LookupNow | None = None,
    ) -> None:
        self.backend = backend
        self.gate = gate
        #: Completes the state as the route does (memfs figures).
        self.overlay = overlay
        self.lookup_now = lookup_now

    async def handle(self, scope: Scope, send: Send) -> bool:
        """Answer ``scope`` when it is a single-process read; ``False`` leaves it to the app."""
        asked = self._asked(scope, parts=())
        if asked is None:
            return False
        pid, part, aspects, headers = asked
        found = await self.backend.get_processes([pid], aspects)
        if not found:
            return False
        await self._answer(found[0], part, aspects, headers).send(send)
        return True

    def answer_now(self, scope: Scope) -> Answer | None:
        """:meth:`handle`'s answer without a suspension, where the backend reads its own
        memory, also of a process's ``/state`` and ``/config``; None leaves the request to
        :meth:`handle` and the app."""
        if self.lookup_now is None:
            return None
        asked = self._asked(scope, parts=_PARTS)
        if asked is None:
            return None
        pid, part, aspects, headers = asked
        found = self.lookup_now([pid], aspects)
        return self._answer(found[0], part, aspects, headers) if found else None

    def _asked(
        self, scope: Scope, parts: Collection[str]
    ) -> tuple[str, str, frozenset[str], Headers] | None:
        if scope["type"] != "http" or scope["method"] != "GET":
            return None
        target = read_target(raw_path(scope))
        if target is None:
            return None
        pid, part = target
        if part and part not in parts:
            return None
        headers = self.gate.admit(scope)
        if headers is None:
            return None
        if part:
            # The route of a part ignores the query.
            return pid, part, frozenset((part,)), headers
        # As the route reads it: the first `filter` parameter (Go's url.Values.Get).
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        aspects = parse_filter(query_value(next((v for k, v in query if k == "filter"), "")))
        return pid, part, aspects, headers

    def _answer(
        self, process: Process, part: str, aspects: frozenset[str], headers: Headers
    ) -> Answer:
        content: Any
        if part == "config":
            content = process.config
        elif part == "state":
            state = process.state
            content = state if self.overlay is None or state is None else self.overlay(state)
        else:
            if self.overlay is not None and "state" in aspects:
                process = overlay_process(process, self.overlay)
            content = process_item(process, aspects)
        return self.gate.respond(headers, dumps(content))
