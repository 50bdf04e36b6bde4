"""datarhei's error body for every non-2xx response of the API (spec §1.1).

Handlers raise :class:`ApiError`; :func:`install_error_handlers` turns it, the router's own
404/405 and unexpected exceptions into
``{"code": <status>, "message": <text>, "details": [<text>...]}``. No request may ever see
Starlette's default plain-text error answers.
"""

from __future__ import annotations

import http
import logging
from collections.abc import Mapping

import orjson
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response

from ffmpeg_operator.application import Application

log = logging.getLogger(__name__)


def reason_phrase(status: int) -> str:
    """The standard HTTP reason phrase ("Not Found"), empty for unknown codes (as Go does)."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


class ApiError(Exception):
    """An error response in datarhei's shape.

    ``details`` given as one string is split on ``\\n`` like Core's ``api.Err`` does, so a
    multi-line validation message becomes several entries. An empty string means no details
    (Core always passes a non-empty format where it wants one). An empty ``message`` becomes the
    reason phrase of ``status``.
    """

    def __init__(
        self,
        status: int,
        message: str = "",
        details: str | list[str] = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.message = message or reason_phrase(status)
        if isinstance(details, str):
            self.details = details.split("\n") if details else []
        else:
            self.details = list(details)
        self.headers = dict(headers or {})
        super().__init__(f"{status} {self.message}: {self.details}")

    def body(self) -> dict[str, object]:
        """The JSON body Core sends for this error."""
        return {"code": self.status, "message": self.message, "details": self.details}


def error_response(request: Request, error: ApiError) -> Response:
    """The response for ``error``: the JSON body, or the status alone for HEAD requests."""
    if request.method == "HEAD":
        return Response(status_code=error.status, headers=error.headers)
    # Plain orjson: an error body holds only str/int, and wire.py depends on this module.
    return Response(
        orjson.dumps(error.body()),
        status_code=error.status,
        headers=error.headers,
        media_type="application/json",
    )


async def _on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(request, exc)


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    # The router's own errors (unknown route 404, wrong method 405, ...): Echo reports them
    # with the reason phrase as message and as the single detail.
    assert isinstance(exc, StarletteHTTPException)
    phrase = reason_phrase(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail else phrase
    error = ApiError(exc.status_code, phrase, [detail], headers=exc.headers)
    return error_response(request, error)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(request, ApiError(500, "", "Internal Server Error"))


def install_error_handlers(app: Application) -> None:
    """Make every error of ``app`` answer with datarhei's error body."""
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(Exception, _on_unexpected)
