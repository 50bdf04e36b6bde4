"""JSON on the wire the way datarhei Core writes and reads it (spec §1.2, §1.5, §1.6).

- :func:`json_response` serialises with orjson and writes pre-formatted numbers
  (:class:`~ffmpeg_operator.core.numbers.FormattedNumber`) verbatim, so ``25.000`` stays
  ``25.000``.
- :class:`ApiGZipMiddleware` gzips large responses of the ``/api/v3`` group only.
- :func:`read_json_body` applies Core's Content-Length / Content-Type checks before a handler
  decodes a body.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from pydantic import BaseModel
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ffmpeg_operator.api.errors import ApiError
from ffmpeg_operator.core.errors import DecodeError
from ffmpeg_operator.core.gojson import check_request
from ffmpeg_operator.core.models import DATARHEI_NUMBERS
from ffmpeg_operator.core.numbers import FormattedNumber

#: The route group Core compresses (§1.5).
API_GROUP = "/api/v3"
#: Responses of at least this many bytes are gzip-compressed when the client accepts gzip.
GZIP_MINIMUM_SIZE = 1000


def _encode_extra(value: Any) -> Any:
    # orjson calls this for every value it cannot serialise itself, recursively.
    if isinstance(value, FormattedNumber):
        return orjson.Fragment(value.text.encode())
    if isinstance(value, BaseModel):
        return value.model_dump(context={DATARHEI_NUMBERS: True})
    raise TypeError(f"cannot serialise {type(value).__name__} as JSON")


def dumps(content: Any) -> bytes:
    """``content`` as datarhei JSON bytes (models dumped with datarhei number formatting)."""
    return orjson.dumps(content, default=_encode_extra)


def json_response(content: Any, status: int = 200) -> Response:
    """A JSON response whose numbers read exactly like Core's."""
    return Response(dumps(content), status_code=status, media_type="application/json")


def _in_group(path: str, group: str) -> bool:
    return path == group or path.startswith(group + "/")


class ApiGZipMiddleware:
    """Starlette's gzip, applied only below ``/api/v3`` (memfs segments stay as written)."""

    def __init__(
        self, app: ASGIApp, group: str = API_GROUP, minimum_size: int = GZIP_MINIMUM_SIZE
    ) -> None:
        self.app = app
        self.group = group
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _in_group(scope["path"], self.group):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def install_gzip(app: FastAPI) -> None:
    """Compress large ``/api/v3`` responses of ``app`` for clients that accept gzip."""
    app.add_middleware(ApiGZipMiddleware)


def _content_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    if value is None:
        return None  # chunked: Core's length check lets it pass
    try:
        return int(value)
    except ValueError:
        return None


async def read_json_body(request: Request) -> bytes:
    """The raw body of a JSON request, after Core's length and media type checks (§1.2).

    Raises ``ApiError(400, "Invalid JSON", <detail>)`` when the body is empty (by
    Content-Length) or not declared as JSON. Decoding is the caller's job.
    """
    try:
        check_request(_content_length(request), request.headers.get("content-type"))
    except DecodeError as error:
        raise ApiError(400, "Invalid JSON", str(error)) from error
    return await request.body()
