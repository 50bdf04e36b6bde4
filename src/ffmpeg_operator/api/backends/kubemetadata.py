"""Process and system metadata of the Kubernetes backend."""

from __future__ import annotations

import json
from typing import Any

from ffmpeg_operator.api.backends.kubeindex import Obj
from ffmpeg_operator.api.backends.kubeobjects import KubeObjects
from ffmpeg_operator.api.backends.kubeviews import view_of
from ffmpeg_operator.api.errors import ApiError
from ffmpeg_operator.core.errors import ConfigError
from ffmpeg_operator.core.metadata import metadata_value
from ffmpeg_operator.kube.migrate import (
    MAX_ANNOTATIONS_BYTES,
    METADATA_ANNOTATION,
    annotations_size,
)


class KubeMetadata(KubeObjects):
    """Metadata in the object's annotation; system metadata in this process."""

    async def get_metadata(self, pid: str | None, key: str | None) -> Any:
        return metadata_value(
            self._system_metadata if pid is None else self._require(pid).metadata, key
        )

    async def set_metadata(self, pid: str | None, key: str, value: Any) -> None:
        if pid is None:
            # No object holds system metadata; it lives in this process (documented).
            if value is None:
                self._system_metadata.pop(key, None)
            else:
                self._system_metadata[key] = value
            return
        view = self._require(pid)

        def change(obj: Obj) -> Obj | None:
            current = view_of(obj)
            metadata = dict(current.metadata or {}) if current is not None else {}
            if value is None:
                if key not in metadata:
                    return None
                del metadata[key]
            else:
                metadata[key] = value
            text = json.dumps(metadata, ensure_ascii=False, separators=(",", ":"))
            # The apiserver's limit is on all annotations together (kubectl's
            # last-applied-configuration, other tools'), keys included: check what it checks.
            annotations = dict((obj.get("metadata") or {}).get("annotations") or {})
            annotations.pop(METADATA_ANNOTATION, None)
            if metadata:
                annotations[METADATA_ANNOTATION] = text
            if annotations_size(annotations) > MAX_ANNOTATIONS_BYTES:
                raise _invalid(
                    "the annotations of a process (its metadata and the others) must stay "
                    f"below {MAX_ANNOTATIONS_BYTES // 1024} KiB on Kubernetes"
                )
            # Only an annotation: the spec (and so the run) is untouched.
            return {"metadata": {"annotations": {METADATA_ANNOTATION: text if metadata else None}}}

        try:
            await self._patch(view.name, change)
        except ConfigError as error:  # the apiserver's own refusal (422)
            raise _invalid(str(error)) from error


def _invalid(detail: str) -> ApiError:
    return ApiError(400, "Invalid metadata", detail)
