"""Reading process and system metadata (``GET /api/v3[/process/{id}]/metadata[/{key}]``): the
one rule both backends answer by."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ffmpeg_operator.core.errors import UnknownMetadataKeyError


def metadata_value(data: Mapping[str, Any] | None, key: str | None) -> Any:
    """All of ``data`` (None when there is none: Core answers ``null``) when ``key`` is None,
    else the value under ``key``; a key that is not there raises :class:`UnknownMetadataKeyError`
    (Core's 404 ``unknown key``)."""
    if key is None:
        return data or None
    if not data or key not in data:
        raise UnknownMetadataKeyError(key)
    return data[key]
