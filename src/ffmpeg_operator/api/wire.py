"""JSON on the wire the way datarhei Core writes and reads it (spec §1.2, §1.5, §1.6).

- :func:`json_response` serialises with orjson and writes pre-formatted numbers
  (:class:`~ffmpeg_operator.core.numbers.FormattedNumber`) verbatim, so ``25.000`` stays
  ``25.000``.
- :class:`ApiGZipMiddleware` gzips large responses of the ``/api/v3`` group only.
- :func:`read_json_body` applies Core's Content-Length / Content-Type checks before a handler
  decodes a body; :func:`read_json_document` decodes it too, where no model binds it.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ffmpeg_operator.api.errors import ApiError
from ffmpeg_operator.application import Application
from ffmpeg_operator.core.errors import DecodeError
from ffmpeg_operator.core.gojson import check_request
from ffmpeg_operator.core.models import (
    DATARHEI_NUMBERS,
    ProcessConfig,
    ProcessReport,
    ProcessState,
    Progress,
)
from ffmpeg_operator.core.numbers import FormattedNumber

#: The route group Core compresses (§1.5).
API_GROUP = "/api/v3"
#: Responses of at least this many bytes are gzip-compressed when the client accepts gzip.
GZIP_MINIMUM_SIZE = 1000
#: gzip level: the fastest, as the level changes only the size on the wire, not what a client
#: reads (Starlette's default 9 took ~1 ms for a list of 200 processes).
GZIP_LEVEL = 1
#: Bodies up to this size are compressed in the event loop (a thread hand-off costs more).
GZIP_THREAD_MINIMUM_SIZE = 4 * 2**20


class _ValueJson:
    """Serialised read models by identity: lists write the same few hundred configs, reports
    and idle states again and again.

    Sound because these models are values: the engines replace a config on every change and
    hand out the same report/state object only while nothing it shows changed; nothing changes
    one in place. An entry leaves with its model (weak reference), so an id is never matched
    to a later object.
    """

    def __init__(self) -> None:
        self._entries: dict[int, tuple[weakref.ref[BaseModel], orjson.Fragment]] = {}

    def fragment(self, model: BaseModel, data: dict[str, Any]) -> orjson.Fragment:
        key = id(model)
        entry = self._entries.get(key)
        if entry is not None and entry[0]() is model:
            return entry[1]
        fragment = orjson.Fragment(orjson.dumps(data, default=_encode_extra))
        self._entries[key] = (weakref.ref(model, lambda _: self._entries.pop(key, None)), fragment)
        return fragment

    def cached(self, model: BaseModel) -> orjson.Fragment | None:
        entry = self._entries.get(id(model))
        return entry[1] if entry is not None and entry[0]() is model else None


def _model_data(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(context={DATARHEI_NUMBERS: True})


_VALUE_JSON = _ValueJson()
# A process that is not running shows the all-zero progress; its JSON never changes.
_IDLE_PROGRESS = Progress()


@functools.cache
def _idle_progress_json() -> orjson.Fragment:
    return orjson.Fragment(orjson.dumps(_model_data(_IDLE_PROGRESS), default=_encode_extra))


_STATE_FIELDS = tuple(ProcessState.model_fields)


def _state_data(state: ProcessState) -> dict[str, Any]:
    # The progress goes back through _encode_extra, so an idle one is the constant above:
    # formatting its zero counters was most of what a stopped process's state cost.
    data = state.model_dump(context={DATARHEI_NUMBERS: True}, exclude={"progress"})
    return {name: state.progress if name == "progress" else data[name] for name in _STATE_FIELDS}


def _encode_extra(value: Any) -> Any:
    # orjson calls this for every value it cannot serialise itself, recursively.
    if isinstance(value, FormattedNumber):
        return orjson.Fragment(value.text.encode())
    kind = type(value)
    if kind is ProcessConfig or kind is ProcessReport:
        hit = _VALUE_JSON.cached(value)
        return hit if hit is not None else _VALUE_JSON.fragment(value, _model_data(value))
    if kind is Progress and value == _IDLE_PROGRESS:
        return _idle_progress_json()
    if kind is ProcessState:
        hit = _VALUE_JSON.cached(value)
        return hit if hit is not None else _VALUE_JSON.fragment(value, _state_data(value))
    if isinstance(value, BaseModel):
        return _model_data(value)
    raise TypeError(f"cannot serialise {type(value).__name__} as JSON")


def cached_json(model: BaseModel, build: Callable[[], Any]) -> orjson.Fragment:
    """The JSON of ``build()``, made once per ``model`` object (a value: :class:`_ValueJson`)."""
    hit = _VALUE_JSON.cached(model)
    return hit if hit is not None else _VALUE_JSON.fragment(model, build())


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
        self.gzip = GZipMiddleware(
            app,
            minimum_size=minimum_size,
            compresslevel=GZIP_LEVEL,
            thread_minimum_size=GZIP_THREAD_MINIMUM_SIZE,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _in_group(scope["path"], self.group):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def install_gzip(app: Application) -> None:
    """Compress large ``/api/v3`` responses of ``app`` for clients that accept gzip."""
    app.add_middleware(ApiGZipMiddleware)


def _content_length(headers: Mapping[str, str]) -> int | None:
    value = headers.get("content-length")
    if value is None:
        return None  # chunked: Core's length check lets it pass
    try:
        return int(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class JsonBody:
    """A request body with the two headers Core looks at before it decodes one (§1.2)."""

    data: bytes
    content_length: int | None
    content_type: str | None

    @classmethod
    def of(cls, data: bytes, headers: Mapping[str, str]) -> JsonBody:
        return cls(data, _content_length(headers), headers.get("content-type"))

    def checked(self) -> bytes:
        """The body, after Core's length and media type checks.

        Raises ``ApiError(400, "Invalid JSON", <detail>)`` when the body is empty (by
        Content-Length) or not declared as JSON. Decoding is the caller's job.
        """
        try:
            check_request(self.content_length, self.content_type)
        except DecodeError as error:
            raise ApiError(400, "Invalid JSON", str(error)) from error
        return self.data


async def json_body(request: Request) -> JsonBody:
    """The body of ``request``, unchecked (:meth:`JsonBody.checked` applies Core's checks)."""
    return JsonBody.of(await request.body(), request.headers)


async def read_json_body(request: Request) -> bytes:
    """The raw body of a JSON request, after Core's length and media type checks (§1.2)."""
    JsonBody(b"", _content_length(request.headers), request.headers.get("content-type")).checked()
    return await request.body()


async def read_json_document(request: Request) -> Any:
    """:func:`read_json_body` decoded as plain JSON (no model to bind it to): a body that does
    not parse is ``ApiError(400, "Invalid JSON", <parser message>)``."""
    raw = await read_json_body(request)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ApiError(400, "Invalid JSON", str(error)) from error
