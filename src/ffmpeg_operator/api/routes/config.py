"""``/api/v3/config``: the configuration as Core shows it, its changes and their reload."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ffmpeg_operator.api.config import ConfigService
from ffmpeg_operator.api.errors import ApiError
from ffmpeg_operator.api.routing import Routes
from ffmpeg_operator.api.wire import json_response, read_json_document
from ffmpeg_operator.core.coreconfig import ConfigInvalidError, ConfigRejectedError


def config_router(service: ConfigService) -> Routes:
    router = Routes()

    @router.get("/api/v3/config")
    async def get_config() -> Response:
        return json_response(service.document())

    @router.put("/api/v3/config")
    async def set_config(request: Request) -> Response:
        body = await read_json_document(request)
        try:
            await service.put(body)
        except ConfigInvalidError as error:
            raise ApiError(400, "Invalid JSON", str(error)) from error
        except ConfigRejectedError as error:
            # Core answers a configuration it refuses with a map of field → messages.
            return json_response(error.reasons, status=409)
        except OSError as error:
            raise ApiError(400, "Failed to store config", str(error)) from error
        return json_response("OK")

    @router.get("/api/v3/config/reload")
    async def reload_config() -> Response:
        service.reload()
        return json_response("OK")

    return router
