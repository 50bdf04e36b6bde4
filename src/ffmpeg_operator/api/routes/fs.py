"""``/api/v3/fs`` over the ``disk`` and ``mem`` stores, and the disk store served at ``/``.

Core mounts ``{diskfs}`` at ``/`` (read only, a directory serves its ``index.html``) and
``{memfs}`` at ``/memfs``; ``/api/v3/fs/{name}/...`` reads and writes both with the API's
JWT instead of the memfs password. This is how the Restreamer UI publishes its player page,
playersite and snapshots.
"""

from __future__ import annotations

from email.utils import formatdate

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Scope

from ffmpeg_operator.api.errors import ApiError
from ffmpeg_operator.api.files import FileInfo, FileStore
from ffmpeg_operator.api.memfs import MEMFS_PREFIX, content_type_for
from ffmpeg_operator.api.paths import path_param
from ffmpeg_operator.api.routing import ApiRoute, Routes
from ffmpeg_operator.api.wire import json_response
from ffmpeg_operator.runtime.memfs import normalize_name

#: Where each store is mounted, as ``GET /api/v3/fs`` reports it.
MOUNTS = {"disk": "/", "mem": MEMFS_PREFIX}


def _sorted(files: list[FileInfo], sort: str, order: str) -> list[FileInfo]:
    descending = order == "desc"
    if sort == "name":
        return sorted(files, key=lambda f: f.name, reverse=descending)
    if sort == "size":
        return sorted(files, key=lambda f: f.size, reverse=descending)
    # Core sorts by modification time unless told otherwise ("asc" oldest first).
    return sorted(files, key=lambda f: f.mtime, reverse=order != "asc")


def file_response(store: FileStore, path: str, method: str) -> Response:
    found = store.read(path)
    if found is None:
        raise ApiError(404, "File not found", normalize_name(path))
    info, data = found
    headers = {"Last-Modified": formatdate(info.mtime, usegmt=True)}
    body = b"" if method == "HEAD" else data
    response = Response(body, headers=headers, media_type=content_type_for(info.name))
    response.headers["Content-Length"] = str(len(data))
    return response


def fs_router(stores: dict[str, FileStore]) -> Routes:
    router = Routes()

    def store_named(name: str) -> FileStore:
        store = stores.get(name)
        if store is None:
            raise ApiError(404, "File not found", f"unknown filesystem: {name}")
        return store

    def file_path(raw: str) -> str:
        # Under RawPathMiddleware a "/" inside a segment arrives escaped; the file path keeps it.
        return "/" + "/".join(path_param(part) for part in raw.split("/"))

    @router.get("/api/v3/fs")
    async def list_filesystems() -> Response:
        return json_response(
            [
                {"name": name, "type": store.kind, "mount": MOUNTS.get(name, "")}
                for name, store in stores.items()
            ]
        )

    @router.get("/api/v3/fs/{name}")
    async def list_files(name: str, request: Request) -> Response:
        store = store_named(name)
        query = request.query_params
        files = await run_in_threadpool(store.list, query.get("glob", ""))
        return json_response(
            [
                {"name": f.name, "size_bytes": f.size, "last_modified": int(f.mtime)}
                for f in _sorted(files, query.get("sort", "none"), query.get("order", "asc"))
            ]
        )

    @router.route("/api/v3/fs/{name}/{path:path}", ["GET", "HEAD"])
    async def get_file(name: str, path: str, request: Request) -> Response:
        store = store_named(name)
        return await run_in_threadpool(file_response, store, file_path(path), request.method)

    @router.put("/api/v3/fs/{name}/{path:path}")
    async def put_file(name: str, path: str, request: Request) -> Response:
        store = store_named(name)
        target = file_path(path)
        if normalize_name(target) == "/":
            raise ApiError(400, "Bad request", "the root directory is not a file")
        data = await request.body()
        try:
            created = await run_in_threadpool(store.write, target, data)
        except OSError as error:
            raise ApiError(400, "Bad request", str(error)) from error
        sent: bytes = request.scope.get("raw_path") or request.url.path.encode()
        location = sent.decode("latin-1")
        headers = {"Content-Location": location}
        if created:
            return Response(b"", status_code=201, headers=headers, media_type="text/plain")
        return Response(status_code=204, headers=headers)

    @router.delete("/api/v3/fs/{name}/{path:path}")
    async def delete_file(name: str, path: str) -> Response:
        store = store_named(name)
        target = normalize_name(file_path(path))
        if not await run_in_threadpool(store.delete, target):
            raise ApiError(404, "File not found", target)
        return Response(f"Deleted: {target}", media_type="text/plain")

    return router


class _OutsideApiRoute(ApiRoute):
    """A route that never matches below ``/api``: unknown API paths keep the router's own
    404/405 (``HEAD /api/v3/process`` stays 405), as Core's ``/api`` group has them."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path: str = scope.get("path", "")
        if path == "/api" or path.startswith("/api/"):
            return Match.NONE, {}
        return super().matches(scope)


def root_router(disk: FileStore) -> Routes:
    """``GET``/``HEAD`` of every other path outside ``/api``: the disk store, as Core's ``/``."""
    router = Routes(route_class=_OutsideApiRoute)

    @router.route("/{path:path}", ["GET", "HEAD"], include_in_schema=False)
    async def get_root_file(path: str, request: Request) -> Response:
        return await run_in_threadpool(file_response, disk, "/" + path, request.method)

    return router
