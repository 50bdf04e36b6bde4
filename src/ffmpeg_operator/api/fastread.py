"""``GET /api/v3/process/{id}`` answered ahead of the framework.

The single read is the API's most frequent request (UIs poll it) and its own work is a dict
lookup and a cached JSON fragment; FastAPI's middleware stack, routing, request object and
dependency solving cost several times that (bench/README.md). :class:`FastReads` answers it
from the raw ASGI scope, exactly as the route would (same body, same headers, gzip under the
same rule, the same access-token check), and hands everything else to the application:
unknown processes (the route writes the 404), requests without a valid token (the middleware
writes the 401), requests with an ``Origin`` header where CORS is on (the CORS middleware
answers those), every other path and method.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from urllib.parse import parse_qsl, unquote

from starlette.datastructures import Headers
from starlette.types import Scope, Send

from ffmpeg_operator.api.auth import Authenticator
from ffmpeg_operator.api.backend import ProcessBackend
from ffmpeg_operator.api.memfs_progress import StateOverlay, overlay_process
from ffmpeg_operator.api.routes.process import process_item
from ffmpeg_operator.api.wire import GZIP_LEVEL, GZIP_MINIMUM_SIZE, dumps
from ffmpeg_operator.core.listing import parse_filter, query_value

_PREFIX = b"/api/v3/process/"
_JSON = (b"content-type", b"application/json")


class FastReads:
    def __init__(
        self,
        backend: ProcessBackend,
        authenticator: Authenticator | None,
        *,
        overlay: StateOverlay | None = None,
        cors: bool = False,
        ready: Callable[[], str | None] | None = None,
    ) -> None:
        self.backend = backend
        self.authenticator = authenticator
        #: Completes the state as the route does (memfs output figures).
        self.overlay = overlay
        #: With CORS on, every /api answer varies by Origin; cross-origin reads go the long way.
        self.cors = cors
        #: While the backend is not ready, the application answers 503 with the reason.
        self.ready = ready

    async def handle(self, scope: Scope, send: Send) -> bool:
        """Answer ``scope`` when it is a single-process read; ``False`` leaves it to the app."""
        if scope["type"] != "http" or scope["method"] != "GET":
            return False
        if self.ready is not None and self.ready() is not None:
            return False
        raw: bytes = scope.get("raw_path") or scope["path"].encode()
        raw = raw.split(b"?", 1)[0]
        if not raw.startswith(_PREFIX) or b"/" in raw[len(_PREFIX) :] or raw == _PREFIX:
            return False
        headers = Headers(scope=scope)
        if self.cors and "origin" in headers:
            return False
        client = scope.get("client")
        if self.authenticator is not None and not self.authenticator.allows(
            headers, str(client[0]) if client else None
        ):
            return False
        # As RawPathMiddleware and path_param decode it: the segment, percent-decoded once.
        pid = unquote(raw[len(_PREFIX) :].decode("latin-1"))
        # As the route reads it: the first `filter` parameter (Go's url.Values.Get).
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        aspects = parse_filter(query_value(next((v for k, v in query if k == "filter"), "")))
        found = await self.backend.get_processes([pid], aspects)
        if not found:
            return False
        process = found[0]
        if self.overlay is not None and "state" in aspects:
            process = overlay_process(process, self.overlay)
        body = dumps(process_item(process, aspects))
        vary: list[bytes] = []
        extra: list[tuple[bytes, bytes]] = []
        # The rule of ApiGZipMiddleware (Starlette's GZipMiddleware at GZIP_LEVEL): a body of
        # the minimum size varies by Accept-Encoding also where the client takes it plain.
        if len(body) >= GZIP_MINIMUM_SIZE:
            vary.append(b"Accept-Encoding")
            if "gzip" in headers.get("accept-encoding", ""):
                body = gzip.compress(body, compresslevel=GZIP_LEVEL)
                extra = [(b"content-encoding", b"gzip")]
        if self.cors:
            vary.append(b"Origin")
        if vary:
            extra.insert(0, (b"vary", b", ".join(vary)))
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(body)).encode()), _JSON, *extra],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return True
