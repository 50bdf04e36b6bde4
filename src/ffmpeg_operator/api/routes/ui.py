"""A Restreamer UI build served at ``/ui`` (``--ui-dir``), as Core's ``router.ui_path``.

``/ui`` redirects to ``/ui/`` (301); a directory serves its ``index.html``.
"""

from __future__ import annotations

from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ffmpeg_operator.api.files import DiskStore
from ffmpeg_operator.api.routes.fs import file_response
from ffmpeg_operator.api.routing import Routes

UI_PREFIX = "/ui"


def ui_router(directory: Path) -> Routes:
    router = Routes()
    store = DiskStore(directory)

    @router.route(UI_PREFIX, ["GET", "HEAD"], include_in_schema=False)
    async def ui_root() -> Response:
        return RedirectResponse(UI_PREFIX + "/", status_code=301)

    @router.route(UI_PREFIX + "/{path:path}", ["GET", "HEAD"], include_in_schema=False)
    async def ui_file(path: str, request: Request) -> Response:
        return await run_in_threadpool(file_response, store, "/" + path, request.method)

    return router
