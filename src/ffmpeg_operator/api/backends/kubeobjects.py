"""Reads and writes of single FFmpegProcess objects: fresh get, patch on 409, create, delete."""

from __future__ import annotations

import time
from collections.abc import Callable

from ffmpeg_operator.api.backends.kubecache import resource_version
from ffmpeg_operator.api.backends.kubeclient import MERGE_PATCH, KubeApiError
from ffmpeg_operator.api.backends.kubeindex import KubeIndex, Obj
from ffmpeg_operator.api.backends.kubeviews import ProcessView
from ffmpeg_operator.core.errors import (
    CommandFailedError,
    ConfigError,
    ProcessExistsError,
    UnknownProcessError,
)


class KubeObjects(KubeIndex):
    """Object writes under a resourceVersion precondition, recomputed on 409 Conflict."""

    async def _get_fresh(self, name: str) -> Obj:
        try:
            obj: Obj = await self._client().request("GET", self._object_path(name))
        except KubeApiError as error:
            if error.not_found:
                raise UnknownProcessError(name) from error
            raise
        assert self._processes is not None
        self._processes.observe(obj)
        return obj

    async def _patch(self, name: str, change: Callable[[Obj], Obj | None]) -> Obj:
        """Merge-patch ``name`` with ``change(current)`` under a resourceVersion precondition.

        On 409 Conflict the object is read again and ``change`` asked again; ``change``
        returns None when nothing is to be done (and may raise to refuse).
        """
        assert self._processes is not None
        obj = self._processes.get(name) or await self._get_fresh(name)
        for _ in range(self.options.conflict_retries):
            patch = change(obj)
            if patch is None:
                return obj
            patch.setdefault("metadata", {})["resourceVersion"] = resource_version(obj)
            try:
                updated: Obj = await self._client().request(
                    "PATCH", self._object_path(name), body=patch, content_type=MERGE_PATCH
                )
            except KubeApiError as error:
                if error.not_found:
                    raise UnknownProcessError(name) from error
                if error.status == 422:
                    raise ConfigError(error.message) from error
                if not error.conflict:
                    raise
                obj = await self._get_fresh(name)
                continue
            self._processes.observe(updated)
            return updated
        raise CommandFailedError("the process keeps changing; try again")

    async def _create_object(self, obj: Obj) -> Obj:
        """POST ``obj``; waits for a terminating object of the same name to go first."""
        assert self._processes is not None
        name = obj["metadata"]["name"]
        deadline = time.monotonic() + self.options.delete_timeout
        while True:
            try:
                created: Obj = await self._client().request("POST", self._collection(), body=obj)
            except KubeApiError as error:
                if error.status == 422:
                    raise ConfigError(error.message) from error
                if not error.already_exists:
                    raise
                existing = self._processes.get(name)
                terminating = existing is not None and existing["metadata"].get("deletionTimestamp")
                if not terminating or time.monotonic() > deadline:
                    raise ProcessExistsError() from error
                await self._processes.wait_for(
                    lambda: self._processes is not None and self._processes.get(name) is None,
                    max(0.0, deadline - time.monotonic()),
                )
                continue
            self._processes.observe(created)
            return created

    async def _delete_object(self, view: ProcessView) -> None:
        assert self._processes is not None
        body = {"preconditions": {"uid": view.uid}, "propagationPolicy": "Background"}
        try:
            answer: Obj = await self._client().request(
                "DELETE", self._object_path(view.name), body=body
            )
        except KubeApiError as error:
            if error.not_found or error.status == 409:  # gone, or a new object of that name
                raise UnknownProcessError(view.id) from error
            raise
        if isinstance(answer, dict) and (answer.get("metadata") or {}).get("deletionTimestamp"):
            self._processes.observe(answer)
        else:
            self._processes.forget(view.name, resource_version(answer))
