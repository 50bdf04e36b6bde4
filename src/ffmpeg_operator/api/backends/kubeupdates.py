"""Create, update (in place or rename) and delete of FFmpegProcess objects."""

from __future__ import annotations

import contextlib
import time

from ffmpeg_operator.api.backends.kubebounds import check_kubernetes_bounds
from ffmpeg_operator.api.backends.kubeindex import Obj
from ffmpeg_operator.api.backends.kubereads import READ_BASE
from ffmpeg_operator.api.backends.kubeviews import UPDATED_AT_ANNOTATION, ProcessView, view_of
from ffmpeg_operator.api.backends.kubewaits import KubeWaits
from ffmpeg_operator.core.errors import ConfigError, ProcessExistsError, UnknownProcessError
from ffmpeg_operator.core.models import ProcessConfig
from ffmpeg_operator.kube.migrate import METADATA_ANNOTATION
from ffmpeg_operator.kube.spec import KubernetesFields, config_from_cr, cr_from_config, spec_of

#: Detail of a PUT whose base was changed by someone else meanwhile.
CONCURRENT_UPDATE = "the process was changed by someone else meanwhile; read it again and retry"


def _annotations(obj: Obj) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})


_CONFIG_FIELDS = frozenset(ProcessConfig.model_fields)
_KUBE_FIELDS = frozenset(KubernetesFields.model_fields)


class KubeUpdates(KubeWaits):
    """The ProcessBackend writes of whole processes."""

    async def create(self, config: ProcessConfig) -> ProcessConfig:
        check_kubernetes_bounds(config)
        if self._lookup(config.id) is not None:
            raise ProcessExistsError()
        prepared = self._prepare(config)
        await self._create_object(cr_from_config(prepared.config, self.namespace))
        return prepared.config

    async def update(self, pid: str, config: ProcessConfig) -> ProcessConfig:
        view = self._require(pid)
        base = READ_BASE.get()
        base_config = base[2] if base is not None and base[0] == pid else view.config
        check_kubernetes_bounds(config)
        if config.id != pid and self._lookup(config.id) is not None:
            raise ProcessExistsError()
        prepared = self._prepare(config, exclude=pid)
        if config.id == pid:
            await self._replace_config(view, prepared.config, base_config)
        else:
            await self._rename(view, prepared.config, base_config)
        return prepared.config

    async def _replace_config(
        self, view: ProcessView, config: ProcessConfig, base: ProcessConfig
    ) -> None:
        spec = config.model_dump(by_alias=True, include=set(_CONFIG_FIELDS))

        def change(obj: Obj) -> Obj:
            if config_from_cr(obj) != base:
                raise ConfigError(CONCURRENT_UPDATE)
            return {
                "metadata": {"annotations": {UPDATED_AT_ANNOTATION: str(int(time.time()))}},
                "spec": spec,
            }

        updated = view_of(await self._patch(view.name, change))
        if updated is None or updated.config == view.config:
            return  # nothing changed: the run goes on
        # Core replaces the process: the last run before the update leaves the report, and the
        # new one is started before the answer (the operator replaces a running run at once).
        last_run = view.status.run if view.status is not None else 0
        if last_run:
            self._replaced_runs.setdefault(view.uid, set()).add(last_run)
        if view.order == "start":
            await self._wait_started(view)

    async def _rename(self, view: ProcessView, config: ProcessConfig, base: ProcessConfig) -> None:
        old = await self._get_fresh(view.name)
        if config_from_cr(old) != base:
            raise ConfigError(CONCURRENT_UPDATE)
        old_spec = spec_of(old)
        kube = KubernetesFields.model_validate(
            old_spec.model_dump(include=set(_KUBE_FIELDS - {"restart_request"}))
        )
        annotations = {UPDATED_AT_ANNOTATION: str(int(time.time()))}
        metadata = _annotations(old).get(METADATA_ANNOTATION)
        if metadata:
            annotations[METADATA_ANNOTATION] = metadata
        new = cr_from_config(config, self.namespace, kube=kube, annotations=annotations)
        # Never half-applied: a failed creation deletes nothing; a failed deletion of the old
        # object takes the new one back.
        created = await self._create_object(new)
        try:
            await self._delete_object(view)
        except UnknownProcessError:
            pass  # deleted meanwhile: the rename is what remains
        except Exception:
            with contextlib.suppress(Exception):
                await self._client().request(
                    "DELETE",
                    self._object_path(created["metadata"]["name"]),
                    body={"preconditions": {"uid": created["metadata"]["uid"]}},
                )
            raise
        await self._wait_gone(view)

    async def delete(self, pid: str) -> None:
        view = self._require(pid)
        await self._fresh_runs()
        runs = self._runs_of(view)
        await self._delete_object(view)
        await self._wait_gone(view)
        # Core answers once ffmpeg has exited: wait for the run Pods to be gone (bounded).
        await self._wait_until(
            lambda: all(
                run.name not in self._runs_by_process.get(view.name, {})
                or self._runs_by_process[view.name][run.name].uid != run.uid
                for run in runs
            ),
            self.options.delete_timeout,
        )
