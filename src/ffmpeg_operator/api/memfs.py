"""HTTP access to the in-memory file store: ``/memfs/...`` as datarhei Core serves it.

``ffmpeg -f hls -method PUT http://user:pw@host/memfs/x.m3u8`` writes playlists and segments
here (chunked PUTs, occasional DELETEs); players read them back without credentials. Writes
need HTTP basic auth with the memfs credentials.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import mimetypes
import posixpath
import time
from collections.abc import Callable
from email.utils import formatdate

from starlette.requests import Request
from starlette.responses import Response

from ffmpeg_operator.api.errors import ApiError
from ffmpeg_operator.api.routing import Routes
from ffmpeg_operator.api.wire import json_response
from ffmpeg_operator.runtime.memfs import MemFS, normalize_name

#: Prefix of the memfs routes; ``{memfs}`` placeholders resolve to ``http://…/memfs``.
MEMFS_PREFIX = "/memfs"

# HLS types as Core's default mime table names them; mimetypes knows neither reliably.
_CONTENT_TYPES = {".m3u8": "application/x-mpegURL", ".ts": "video/MP2T"}
# Core's fallback for files of unknown type.
_DEFAULT_CONTENT_TYPE = "application/data"


def content_type_for(name: str) -> str:
    """The Content-Type Core would serve ``name`` with, guessed from its extension."""
    extension = posixpath.splitext(name)[1].lower()
    if extension in _CONTENT_TYPES:
        return _CONTENT_TYPES[extension]
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return guessed or _DEFAULT_CONTENT_TYPE


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, separator, password = decoded.partition(":")
    return (username, password) if separator else None


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


#: Told of every write: file name, bytes, monotonic time.
WriteCallback = Callable[[str, int, float], None]


def memfs_router(
    store: MemFS, username: str, password: str, on_write: WriteCallback | None = None
) -> Routes:
    """Routes serving ``store`` under ``/memfs``; writes require ``username``/``password``.

    ``on_write`` hears of every stored write (the per-process traffic counter).
    """
    router = Routes()

    def require_writer(request: Request) -> None:
        credentials = _basic_credentials(request)
        given_username, given_password = credentials or ("", "")
        # Both comparisons always run, so timing does not tell which part was wrong.
        username_ok = _same(given_username, username)
        password_ok = _same(given_password, password)
        if credentials is None or not (username_ok and password_ok):
            # Echo's basic auth middleware answers echo.ErrUnauthorized, which Core's error
            # handler turns into the reason phrase as message and single detail.
            raise ApiError(
                401, "", "Unauthorized", headers={"WWW-Authenticate": 'basic realm="Restricted"'}
            )

    def file_name(path: str) -> str:
        name = normalize_name(path)
        if name == "/":
            raise ApiError(400, "the root directory is not a file")
        return name

    @router.get(MEMFS_PREFIX)
    @router.get(MEMFS_PREFIX + "/")
    async def list_files() -> Response:
        listing = [
            {"name": entry.name, "size_bytes": entry.size, "last_modified": int(entry.mtime)}
            for entry in store.list()
        ]
        return json_response(listing)

    @router.route(MEMFS_PREFIX + "/{path:path}", ["GET", "HEAD"])
    async def get_file(path: str, request: Request) -> Response:
        name = normalize_name(path)
        found = store.read(name)
        if found is None:
            raise ApiError(404, "File not found", name)
        entry, data = found
        headers = {
            "Last-Modified": formatdate(entry.mtime, usegmt=True),
            "Content-Length": str(len(data)),
        }
        body = b"" if request.method == "HEAD" else data
        return Response(body, headers=headers, media_type=content_type_for(name))

    @router.route(MEMFS_PREFIX + "/{path:path}", ["PUT", "POST"])
    async def put_file(path: str, request: Request) -> Response:
        require_writer(request)
        name = file_name(path)
        # request.body() also collects chunked uploads, which ffmpeg's HLS muxer sends.
        body = await request.body()
        created = store.put(name, body)
        if on_write is not None:
            on_write(name, len(body), time.monotonic())
        if not created:
            return Response(status_code=204)
        # The path as sent (escaped, like Go's RequestURI): a header holds no raw non-latin-1 text.
        sent: bytes = request.scope.get("raw_path") or request.url.path.encode()
        location = sent.decode("latin-1") + (f"?{request.url.query}" if request.url.query else "")
        return Response(
            b"", status_code=201, headers={"Content-Location": location}, media_type="text/plain"
        )

    @router.delete(MEMFS_PREFIX + "/{path:path}")
    async def delete_file(path: str, request: Request) -> Response:
        require_writer(request)
        name = file_name(path)
        if not store.delete(name):
            raise ApiError(404, "File not found", name)
        return Response(f"Deleted: {name}", media_type="text/plain")

    return router
