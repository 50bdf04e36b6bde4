"""Core's system endpoints the Restreamer UI reads: sessions, the process widget, metrics,
the media server's channels and the log."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ffmpeg_operator.api.backend import ProcessBackend
from ffmpeg_operator.api.errors import ApiError
from ffmpeg_operator.api.logbuffer import LogBuffer
from ffmpeg_operator.api.paths import path_param
from ffmpeg_operator.api.resources import ResourceMetrics
from ffmpeg_operator.api.routing import Routes
from ffmpeg_operator.api.sessions import SessionRegistry
from ffmpeg_operator.api.wire import json_response, read_json_document
from ffmpeg_operator.core.errors import UnknownProcessError


def _collectors(request: Request) -> list[str]:
    return request.query_params.get("collectors", "").split(",")


def _metric_patterns(document: Any) -> list[tuple[str, dict[str, str]]]:
    """The (name, labels) of a metrics query, bound like Go binds ``api.MetricsQuery``."""
    if not isinstance(document, dict):
        raise ApiError(400, "Invalid JSON", "the query must be a JSON object")
    metrics = document.get("metrics") or []
    if not isinstance(metrics, list):
        raise ApiError(400, "Invalid JSON", "metrics: expected an array")
    patterns: list[tuple[str, dict[str, str]]] = []
    for metric in metrics:
        if not isinstance(metric, dict) or not isinstance(metric.get("name", ""), str):
            raise ApiError(400, "Invalid JSON", "metrics: expected objects with a name")
        labels = metric.get("labels") or {}
        if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
            raise ApiError(400, "Invalid JSON", "labels: expected an object of strings")
        patterns.append((metric.get("name", ""), labels))
    for key in ("timerange_sec", "interval_sec"):
        value = document.get(key, 0)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ApiError(400, "Invalid JSON", f"{key}: expected an integer")
    return patterns


def system_router(
    backend: ProcessBackend,
    sessions: SessionRegistry,
    resources: ResourceMetrics,
    log: LogBuffer,
) -> Routes:
    router = Routes()

    @router.get("/api/v3/session")
    async def session_summary(request: Request) -> Response:
        return json_response({name: sessions.summary(name) for name in _collectors(request)})

    @router.get("/api/v3/session/active")
    async def session_active(request: Request) -> Response:
        return json_response({name: sessions.active(name) for name in _collectors(request)})

    @router.get("/api/v3/widget/process/{pid}")
    async def widget(pid: str) -> Response:
        process_id = path_param(pid)
        try:
            config = await backend.get_config(process_id)
            state = await backend.get_state(process_id)
        except UnknownProcessError as error:
            raise ApiError(404, "Unknown process ID", process_id) from error
        # As Core: the viewers of every stream whose name starts with the process reference
        # (the UI names its streams after the channel, its reference).
        current, total = sessions.reference_sessions("hls", config.reference)
        uptime = state.runtime_seconds if state.exec == "running" else 0
        return json_response(
            {"current_sessions": current, "total_sessions": total, "uptime": uptime}
        )

    @router.get("/api/v3/metrics")
    async def describe_metrics() -> Response:
        return json_response(resources.describe())

    @router.post("/api/v3/metrics")
    async def query_metrics(request: Request) -> Response:
        patterns = _metric_patterns(await read_json_document(request))
        return json_response(
            {"timerange_sec": 0, "interval_sec": 0, "metrics": resources.query(patterns)}
        )

    @router.get("/api/v3/rtmp")
    async def rtmp_channels() -> Response:
        # The media server behind {rtmp} is not this server; it has no channel list to ask.
        return json_response([])

    @router.get("/api/v3/srt")
    async def srt_channels() -> Response:
        return json_response({"publisher": {}, "subscriber": {}, "connections": {}, "log": {}})

    @router.get("/api/v3/log")
    async def log_events() -> Response:
        return json_response(log.events())

    return router
