"""Process IDs of any characters in URL paths (spec §1.3).

datarhei IDs may contain ``/``; clients send it as ``%2F``. The ASGI server decodes the path
before routing, which would turn one path segment into two. This middleware routes on the raw
path instead: each segment is decoded once and re-escaped (only ``%`` and ``/``), so a route
parameter holds the segment with those two characters escaped and :func:`path_param` restores
the exact ID.
"""

from __future__ import annotations

from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send


def _segment(raw: str) -> str:
    return unquote(raw).replace("%", "%25").replace("/", "%2F")


def path_param(value: str) -> str:
    """The exact ID / key from a route parameter produced under :class:`RawPathMiddleware`."""
    return unquote(value)


class RawPathMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("raw_path"):
            raw = scope["raw_path"].decode("latin-1").split("?", 1)[0]
            if raw.startswith("/api/v3/"):
                scope = dict(scope)
                scope["path"] = "/".join(_segment(part) for part in raw.split("/"))
        await self.app(scope, receive, send)
