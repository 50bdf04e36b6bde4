"""CORS as datarhei Core answers it: Echo's CORS middleware per path prefix.

Core allows any origin on ``/api`` and the configured ``storage.cors.origins`` (default ``*``)
on every filesystem mount (``/memfs``, ``/``); the longest matching prefix decides. It runs
before routing and before the JWT check, so a browser's preflight (``OPTIONS`` with
``Origin``) is answered 204 without a token, and error responses (401, 404) carry the
headers too, which lets a UI on another origin read them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALLOW_METHODS = "GET,HEAD,PUT,POST,DELETE,PATCH"
ALLOW_HEADERS = "Origin,Content-Length,Content-Type,Authorization"
EXPOSE_HEADERS = "Content-Length"
MAX_AGE = str(24 * 3600)
#: Echo checks wildcard patterns only against origins up to this length.
_MAX_PATTERN_ORIGIN = 253 + 3 + 5


def _pattern(origin: str) -> re.Pattern[str]:
    escaped = re.escape(origin).replace(r"\*", ".*").replace(r"\?", ".")
    return re.compile(f"^{escaped}$")


def allowed_origin(origin: str, allowed: Sequence[str]) -> str:
    """The ``Access-Control-Allow-Origin`` value for ``origin``, or "" when it is not allowed.

    ``*`` answers ``*`` (Echo does so even with credentials allowed); a listed origin or one
    matching a ``*``/``?`` pattern answers itself.
    """
    for candidate in allowed:
        if candidate in ("*", origin):
            return candidate
    if len(origin) <= _MAX_PATTERN_ORIGIN and "://" in origin:
        for candidate in allowed:
            if _pattern(candidate).match(origin):
                return origin
    return ""


def _prefix_for(path: str, prefixes: Mapping[str, Sequence[str]]) -> str | None:
    best: str | None = None
    for prefix in prefixes:
        if path.startswith(prefix) and (best is None or len(prefix) > len(best)):
            best = prefix
    return best


class CorsMiddleware:
    """Adds Core's CORS headers and answers preflights, per longest matching path prefix."""

    def __init__(self, app: ASGIApp, prefixes: Mapping[str, Sequence[str]]) -> None:
        self.app = app
        self.prefixes = {prefix: tuple(origins) for prefix, origins in prefixes.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        prefix = _prefix_for(scope["path"], self.prefixes)
        if prefix is None:
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        origin = request_headers.get("origin", "")
        preflight = scope["method"] == "OPTIONS"
        allow = allowed_origin(origin, self.prefixes[prefix]) if origin else ""
        headers: dict[str, str] = {"Vary": "Origin"}
        if allow:
            headers["Access-Control-Allow-Origin"] = allow
            headers["Access-Control-Allow-Credentials"] = "true"
        if preflight:
            if allow:
                headers["Vary"] = "Origin, Access-Control-Request-Method, "
                headers["Vary"] += "Access-Control-Request-Headers"
                headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
                headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
                headers["Access-Control-Max-Age"] = MAX_AGE
            await Response(status_code=204, headers=headers)(scope, receive, send)
            return
        if allow:
            headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                for name, value in headers.items():
                    if name == "Vary":
                        response_headers.add_vary_header(value)
                    else:
                        response_headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
