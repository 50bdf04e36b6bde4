"""``/api/v3/process`` and ``/api/v3/metadata``: datarhei's process API (spec §3).

Every handler binds the body itself (Go semantics, :mod:`ffmpeg_operator.core.gojson`) and maps
the engine's errors to datarhei's exact status codes and messages, including its quirks (400 for
a duplicate ID, 400 for a command on an unknown process, 200 for a probe of an unknown one).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ffmpeg_operator.api.backend import ProcessBackend
from ffmpeg_operator.api.errors import ApiError
from ffmpeg_operator.api.memfs_progress import StateOverlay, overlay_process
from ffmpeg_operator.api.paths import path_param
from ffmpeg_operator.api.routing import Routes
from ffmpeg_operator.api.wire import (
    JsonBody,
    cached_json,
    json_body,
    json_response,
    read_json_body,
)
from ffmpeg_operator.core import gojson
from ffmpeg_operator.core.errors import (
    CommandFailedError,
    ConfigError,
    DecodeError,
    ProcessExistsError,
    UnknownMetadataKeyError,
    UnknownProcessError,
)
from ffmpeg_operator.core.listing import ListQuery, parse_filter, query_value, select_processes
from ffmpeg_operator.core.models import Probe, Process, ProcessConfig

KNOWN_COMMANDS = ("start", "stop", "restart", "reload")


def _unknown_process() -> ApiError:
    return ApiError(404, "Unknown process ID", "unknown process")


def _query(request: Request, name: str) -> str:
    # Go's url.Values.Get takes the first of repeated parameters; Starlette's .get the last.
    values = request.query_params.getlist(name)
    return query_value(values[0] if values else "")


def _same_state(state: Any) -> Any:
    return state


def process_router(backend: ProcessBackend, overlay: StateOverlay | None = None) -> Routes:
    """The routes over ``backend``; ``overlay`` completes every state read (memfs figures)."""
    router = Routes()
    complete: StateOverlay = overlay or _same_state

    @router.get("/api/v3/process")
    async def list_processes(request: Request) -> Response:
        query = ListQuery(
            filter=_query(request, "filter"),
            id=_query(request, "id"),
            reference=_query(request, "reference"),
            idpattern=_query(request, "idpattern"),
            refpattern=_query(request, "refpattern"),
        )
        ids = select_processes(await backend.list_references(), query)
        aspects = parse_filter(query.filter)
        processes = await backend.get_processes(ids, aspects)
        if overlay is not None and "state" in aspects:
            processes = [overlay_process(p, overlay) for p in processes]
        return json_response([process_item(p, aspects) for p in processes])

    @router.post("/api/v3/process")
    async def create_process(request: Request) -> Response:
        return json_response(await create(backend, await json_body(request)))

    @router.get("/api/v3/process/{pid}")
    async def get_process(pid: str, request: Request) -> Response:
        aspects = parse_filter(_query(request, "filter"))
        found = await backend.get_processes([path_param(pid)], aspects)
        if not found:
            raise _unknown_process()
        process = found[0] if overlay is None else overlay_process(found[0], overlay)
        return json_response(process_item(process, aspects))

    @router.put("/api/v3/process/{pid}")
    async def update_process(pid: str, request: Request) -> Response:
        return json_response(await update(backend, path_param(pid), await json_body(request)))

    @router.delete("/api/v3/process/{pid}")
    async def delete_process(pid: str) -> Response:
        return json_response(await delete(backend, path_param(pid)))

    @router.put("/api/v3/process/{pid}/command")
    async def process_command(pid: str, request: Request) -> Response:
        return json_response(await command(backend, path_param(pid), await json_body(request)))

    @router.get("/api/v3/process/{pid}/config")
    async def get_config(pid: str) -> Response:
        try:
            return json_response(await backend.get_config(path_param(pid)))
        except UnknownProcessError as error:
            raise _unknown_process() from error

    @router.get("/api/v3/process/{pid}/state")
    async def get_state(pid: str) -> Response:
        try:
            return json_response(complete(await backend.get_state(path_param(pid))))
        except UnknownProcessError as error:
            raise _unknown_process() from error

    @router.get("/api/v3/process/{pid}/report")
    async def get_report(pid: str) -> Response:
        try:
            return json_response(await backend.get_report(path_param(pid)))
        except UnknownProcessError as error:
            raise _unknown_process() from error

    @router.get("/api/v3/process/{pid}/probe")
    async def probe(pid: str) -> Response:
        pid = path_param(pid)
        try:
            return json_response(await backend.probe(pid))
        except UnknownProcessError:
            # Core answers 200 with the error in the probe log (§3).
            return json_response(Probe(streams=[], log=[f"Unknown process ID ({pid})"]))

    @router.get("/api/v3/process/{pid}/metadata")
    async def get_process_metadata(pid: str) -> Response:
        try:
            return json_response(await backend.get_metadata(path_param(pid), None))
        except UnknownProcessError as error:
            raise _unknown_process() from error

    @router.get("/api/v3/process/{pid}/metadata/{key}")
    async def get_process_metadata_key(pid: str, key: str) -> Response:
        try:
            return json_response(await backend.get_metadata(path_param(pid), path_param(key)))
        except UnknownProcessError as error:
            raise _unknown_process() from error
        except UnknownMetadataKeyError as error:
            raise ApiError(404, "Unknown process ID", "unknown key") from error

    @router.put("/api/v3/process/{pid}/metadata/{key}")
    async def put_process_metadata(pid: str, key: str, request: Request) -> Response:
        value = await _metadata_body(request, path_param(key))
        try:
            await backend.set_metadata(path_param(pid), path_param(key), value)
        except UnknownProcessError as error:
            raise _unknown_process() from error
        return json_response(value)

    @router.get("/api/v3/metadata")
    async def get_global_metadata() -> Response:
        return json_response(await backend.get_metadata(None, None))

    @router.get("/api/v3/metadata/{key}")
    async def get_global_metadata_key(key: str) -> Response:
        try:
            return json_response(await backend.get_metadata(None, path_param(key)))
        except UnknownMetadataKeyError as error:
            raise ApiError(404, "Metadata not found", "unknown key") from error

    @router.put("/api/v3/metadata/{key}")
    async def put_global_metadata(key: str, request: Request) -> Response:
        value = await _metadata_body(request, path_param(key))
        await backend.set_metadata(None, path_param(key), value)
        return json_response(value)

    return router


# The mutations, apart from the framework: the routes above and the fast path ahead of the
# framework (api/fastwrite.py) answer with exactly these. Each returns the response content
# or raises ApiError.


async def create(backend: ProcessBackend, body: JsonBody) -> ProcessConfig:
    """``POST /api/v3/process``."""
    try:
        config = gojson.bind_process_config(body.checked())
    except DecodeError as error:
        raise ApiError(400, "Invalid JSON", str(error)) from error
    if config.type != "ffmpeg":
        raise ApiError(400, "Unsupported process type", "Supported process types are: ffmpeg")
    if not config.input or not config.output:
        raise ApiError(400, "At least one input and one output need to be defined")
    try:
        return await backend.create(config)
    except (ConfigError, ProcessExistsError) as error:
        raise ApiError(400, "Invalid process config", str(error)) from error


async def update(backend: ProcessBackend, pid: str, body: JsonBody) -> ProcessConfig:
    """``PUT /api/v3/process/{pid}``: an unknown process is a 404 before the body counts."""
    try:
        current = await backend.get_config(pid)
    except UnknownProcessError as error:
        raise ApiError(404, "Process not found", pid) from error
    try:
        config = gojson.bind_process_config(body.checked(), current)
    except DecodeError as error:
        raise ApiError(400, "Invalid JSON", str(error)) from error
    try:
        return await backend.update(pid, config)
    except UnknownProcessError as error:
        raise ApiError(404, "Process not found", pid) from error
    except (ConfigError, ProcessExistsError) as error:
        raise ApiError(400, "Process can't be updated", str(error)) from error


async def delete(backend: ProcessBackend, pid: str) -> str:
    """``DELETE /api/v3/process/{pid}``."""
    try:
        await backend.delete(pid)
    except UnknownProcessError as error:
        raise _unknown_process() from error
    return "OK"


async def command(backend: ProcessBackend, pid: str, body: JsonBody) -> str:
    """``PUT /api/v3/process/{pid}/command``."""
    try:
        verb = gojson.bind_command(body.checked())
    except DecodeError as error:
        raise ApiError(400, "Invalid JSON", str(error)) from error
    if verb not in KNOWN_COMMANDS:
        raise ApiError(
            400, "Unknown command provided", "Known commands are: start, stop, reload, restart"
        )
    try:
        await backend.command(pid, verb)
    except UnknownProcessError as error:
        raise ApiError(400, "Command failed", "unknown process") from error
    except (CommandFailedError, ConfigError) as error:
        raise ApiError(400, "Command failed", str(error)) from error
    return "OK"


async def _metadata_body(request: Request, key: str) -> Any:
    if not key:
        raise ApiError(400, "Invalid key", "The key must not be of length 0")
    body = await read_json_body(request)
    try:
        return gojson.parse_json(body)
    except DecodeError as error:
        raise ApiError(400, "Invalid JSON", str(error)) from error


def process_item(process: Process, aspects: frozenset[str]) -> Any:
    # A backend hands out the same Process object while nothing in it changed (and only for
    # one set of aspects), so its JSON is made once.
    return cached_json(process, lambda: _process_json(process, aspects))


def _process_json(process: Process, aspects: frozenset[str]) -> dict[str, Any]:
    """A Process with exactly the selected aspects; ``metadata`` present as null when selected."""
    data: dict[str, Any] = {
        "id": process.id,
        "type": process.type,
        "reference": process.reference,
        "created_at": process.created_at,
        "updated_at": process.updated_at,
    }
    for aspect in ("config", "state", "report", "metadata"):
        if aspect in aspects:
            data[aspect] = getattr(process, aspect)
    return data
