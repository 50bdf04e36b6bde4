"""What the API answers when the Kubernetes API server fails a request of the backend.

A request that needs the API server while it is away (connection refused, connect or read
timeout, a dropped connection) or cannot serve (its own 429, 500, 502, 503, 504) answers
**503 Service Unavailable** in datarhei's error JSON, naming the Kubernetes API and the reason,
with the API server's ``Retry-After`` passed on when it sent one. Any other refusal the backend
does not turn into a v3 answer itself (403 of a Role missing a verb, say) is **502 Bad
Gateway**: this server is fine, the one behind it said no. Never a 500.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ffmpeg_operator.api.backends.kubeclient import KubeApiError
from ffmpeg_operator.api.errors import ApiError, error_response
from ffmpeg_operator.application import Application

__all__ = ["api_error_of", "install_kube_error_handler"]

UNAVAILABLE = "Kubernetes API unavailable"
FAILED = "Kubernetes API error"


def _reason(error: KubeApiError) -> str:
    if error.status == 0:
        return f"the Kubernetes API server cannot be reached: {error.message}"
    answer = f"{error.status} {error.reason}".strip()
    return f"the Kubernetes API server answered {answer}: {error.message}"


def api_error_of(error: KubeApiError) -> ApiError:
    """The v3 error answer for a failed request to the API server."""
    if error.unavailable:
        headers = {"Retry-After": error.retry_after} if error.retry_after else {}
        return ApiError(503, UNAVAILABLE, _reason(error), headers=headers)
    return ApiError(502, FAILED, _reason(error))


async def _on_kube_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, KubeApiError)
    return error_response(request, api_error_of(exc))


def _translate(error: Exception) -> ApiError:
    assert isinstance(error, KubeApiError)
    return api_error_of(error)


def install_kube_error_handler(app: Application) -> None:
    """Answer every :class:`KubeApiError` a route lets through with :func:`api_error_of`, on
    the application and on the mutations answered ahead of it (``api/fastwrite.py``)."""
    app.add_exception_handler(KubeApiError, _on_kube_error)
    fast_writes = getattr(app, "fast_writes", None)
    if fast_writes is not None:
        fast_writes.translations[KubeApiError] = _translate
