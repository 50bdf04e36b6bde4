"""``/api/v3/process/{id}/playout/{inputid}/…``: datarhei's playout proxy, without playouts.

Core proxies these routes to the HTTP port of the ``playout:``/``avstream:`` inputs of its
patched FFmpeg. Stock FFmpeg has no such inputs, so every call answers the 404 Core gives when
it finds no playout (spec §3): "Unknown process or input" with Core's restream error text.
"""

from __future__ import annotations

from typing import NoReturn

from ffmpeg_operator.api.backend import ProcessBackend
from ffmpeg_operator.api.errors import ApiError
from ffmpeg_operator.api.paths import path_param
from ffmpeg_operator.api.routing import Routes
from ffmpeg_operator.core.errors import UnknownProcessError

PLAYOUT = "/api/v3/process/{pid}/playout/{inputid}"

#: (method, path below PLAYOUT) of Core v16's playout routes; ``name`` is a file name.
PLAYOUT_ROUTES = (
    ("GET", "/status"),
    ("GET", "/errorframe/encode"),
    ("GET", "/reopen"),
    ("PUT", "/stream"),
)
PLAYOUT_FILE_ROUTES = (
    ("GET", "/keyframe/{name:path}"),
    ("POST", "/errorframe/{name}"),
)


def playout_router(backend: ProcessBackend) -> Routes:
    router = Routes()

    async def no_playout(pid: str, inputid: str) -> NoReturn:
        pid, inputid = path_param(pid), path_param(inputid)
        try:
            await backend.get_config(pid)
        except UnknownProcessError as error:
            raise ApiError(404, "Unknown process or input", "unknown process") from error
        raise ApiError(
            404,
            "Unknown process or input",
            f"no playout for input ID '{inputid}' and process '{pid}'",
        )

    async def no_playout_file(pid: str, inputid: str, name: str) -> NoReturn:
        await no_playout(pid, inputid)

    for method, suffix in PLAYOUT_ROUTES:
        router.add(PLAYOUT + suffix, no_playout, [method])
    for method, suffix in PLAYOUT_FILE_ROUTES:
        router.add(PLAYOUT + suffix, no_playout_file, [method])
    return router
