"""The process mutations answered ahead of the framework.

``POST /api/v3/process``, ``PUT`` and ``DELETE /api/v3/process/{id}`` and ``PUT
/api/v3/process/{id}/command`` are what provisioning tools send by the hundred. The
framework's middleware stack, routing and request object cost about 60 us of each under FastAPI
(profiled: bench/README.md), tens of microseconds still under Starlette, more than the JSON
journal line that makes the change durable.
:class:`FastWrites` runs the very functions the routes run (``api/routes/process.py``) on the
raw ASGI messages and writes their answer, or their :class:`ApiError`, as the application
would (same body and headers, gzip under the same rule). Every other request, and any of these
the gate does not admit (not ready, cross-origin with CORS on, no valid access token), goes to
the application untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import orjson
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from ffmpeg_operator.api.backend import ProcessBackend
from ffmpeg_operator.api.errors import ApiError
from ffmpeg_operator.api.fastread import FastGate, raw_path, read_target
from ffmpeg_operator.api.routes import process as routes
from ffmpeg_operator.api.wire import JsonBody, dumps

log = logging.getLogger(__name__)

_COLLECTION = b"/api/v3/process"

Mutation = Callable[[Headers, bytes], Awaitable[object]]


class _DisconnectedError(Exception):
    """The client went away before its body arrived: nothing to answer."""


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _DisconnectedError
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class FastWrites:
    def __init__(self, backend: ProcessBackend, gate: FastGate) -> None:
        self.backend = backend
        self.gate = gate
        #: Exception type -> its ApiError, as the application's own handlers of that type
        #: answer it (a backend's errors, e.g. the Kubernetes API away: 503, not 500).
        self.translations: dict[type[Exception], Callable[[Exception], ApiError]] = {}

    def _translated(self, error: Exception) -> ApiError | None:
        for kind in type(error).__mro__:
            translate = self.translations.get(kind)
            if translate is not None:
                return translate(error)
        return None

    def _mutation(self, method: str, raw: bytes) -> Mutation | None:
        backend = self.backend
        if method == "POST":
            if raw != _COLLECTION:
                return None
            return lambda headers, body: routes.create(backend, JsonBody.of(body, headers))
        if method not in ("PUT", "DELETE"):
            return None
        target = read_target(raw)
        if target is None:
            return None
        pid, part = target
        if not part:
            if method == "DELETE":
                return lambda _headers, _body: routes.delete(backend, pid)
            return lambda headers, body: routes.update(backend, pid, JsonBody.of(body, headers))
        if method == "DELETE" or part != "command":
            return None
        return lambda headers, body: routes.command(backend, pid, JsonBody.of(body, headers))

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer ``scope`` when it is a process mutation; ``False`` leaves it to the app."""
        if scope["type"] != "http":
            return False
        mutation = self._mutation(scope["method"], raw_path(scope))
        if mutation is None:
            return False
        headers = self.gate.admit(scope)
        if headers is None:
            return False
        try:
            body = await _read_body(receive)
        except _DisconnectedError:
            return True
        try:
            content = await mutation(headers, body)
        except Exception as error:
            answer = error if isinstance(error, ApiError) else self._translated(error)
            if answer is not None:
                more = [
                    (name.lower().encode(), text.encode()) for name, text in answer.headers.items()
                ]
                status = answer.status
                await self.gate.answer(send, headers, orjson.dumps(answer.body()), status, more)
                return True
            # As the application's handler of unexpected errors (api/errors.py).
            log.error("unhandled error in %s %s", scope["method"], scope["path"], exc_info=error)
            failure = ApiError(500, "", "Internal Server Error")
            await self.gate.answer(send, headers, orjson.dumps(failure.body()), failure.status)
            return True
        await self.gate.answer(send, headers, dumps(content))
        return True
