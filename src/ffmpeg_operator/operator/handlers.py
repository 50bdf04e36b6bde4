"""The kopf handlers of the operator: thin, each one hands over to a pure decision or the loop.

:func:`build_registry` makes a fresh :class:`kopf.OperatorRegistry` with:

- indexes: of FFmpegProcesses, uids by name (whose are the run Pods) and specs by datarhei ID
  (for references); of run Pods, by process (:class:`~ffmpeg_operator.kube.runs.RunObservation`);
- a daemon per FFmpegProcess: :class:`~ffmpeg_operator.operator.controller.ProcessController`;
  kopf runs it only while this operator is the active one of its peering;
- event handlers that wake a process's daemon when its object or one of its run Pods changes,
  or a process it references changes; a run Pod whose process does not exist (or is another
  object of that name) is deleted;
- a deletion handler behind the finalizer ``ffmpeg-operator.io/purge``: it deletes the run
  Pods, waits for them to go, then purges the files of ``purgeOnDelete`` cleanup rules.

Settings made at start-up: the finalizer name, handler progress in annotations (never in the
status, which is ours), no "last-handled-configuration" annotation (nothing here depends on
diffs; it would cost a write per object), and the cleanup loop.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import kopf

from ffmpeg_operator.kube.names import GROUP, PROCESS_LABEL
from ffmpeg_operator.kube.reconcile import cleanup_rules
from ffmpeg_operator.kube.runs import RunObservation, observe_run_pod
from ffmpeg_operator.kube.spec import PLURAL, VERSION
from ffmpeg_operator.operator.config import OperatorConfig
from ffmpeg_operator.operator.context import OperatorContext, kopf_login
from ffmpeg_operator.operator.controller import ProcessController

__all__ = ["PURGE_FINALIZER", "build_registry"]

#: Keeps a deleted FFmpegProcess until its Pods are gone and its files purged.
PURGE_FINALIZER = f"{GROUP}/purge"

_PROCESSES = (GROUP, VERSION, PLURAL)
_PODS = ("", "v1", "pods")
_RUN_PODS = {PROCESS_LABEL: kopf.PRESENT}


class _NoDiffBase(kopf.DiffBaseStorage):
    """No "last-handled-configuration": only deletion handlers here, and they need no diff
    (nor the essence kopf would deep-copy out of every event to compare)."""

    def build(
        self, *, body: kopf.Body, extra_fields: Iterable[Any] | None = None
    ) -> kopf.BodyEssence:
        return {}

    def fetch(self, *, body: kopf.Body) -> kopf.BodyEssence | None:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: kopf.BodyEssence) -> None:
        return None


def _owner_uid(body: kopf.Body) -> str | None:
    for ref in body.metadata.get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def build_registry(
    config: OperatorConfig, *, watched_namespaces: int = 1
) -> tuple[kopf.OperatorRegistry, OperatorContext]:
    """A registry with every handler of the operator, and the context they share.

    ``watched_namespaces``: how many namespaces kopf watches (1 cluster-wide); it sizes kopf's
    connection pool (:func:`~ffmpeg_operator.operator.context.kopf_login`).
    """
    registry = kopf.OperatorRegistry()
    context = OperatorContext(config)
    kopf.on.login(registry=registry, id="login")(kopf_login(watched_namespaces))

    @kopf.on.startup(registry=registry, id="configure")
    async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.persistence.finalizer = PURGE_FINALIZER
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
        settings.persistence.diffbase_storage = _NoDiffBase()
        # The handlers' `labels=` filter is kopf's, on this side: without a selector the
        # watch streams every Pod of the scope (cluster-wide: every Pod of the cluster) into
        # this process. The API server filters with this one.
        settings.watching.label_selectors[_PODS[1], _PODS[2]] = PROCESS_LABEL

    @kopf.on.cleanup(registry=registry, id="close")
    async def close(**_: Any) -> None:
        await context.close()

    # ----------------------------------------------------------------- indexes

    @kopf.index(*_PROCESSES, registry=registry, id="processes")
    async def processes(
        *, namespace: str | None, name: str, uid: str, spec: kopf.Spec, **_: Any
    ) -> Any:
        # One index, two kinds of keys (one handler call per event, not two):
        # ("uid", namespace, name) -> uid, ("spec", namespace, datarhei ID) -> spec.
        entries: dict[tuple[str, str, str], Any] = {("uid", namespace or "", name): uid}
        process_id = spec.get("id")
        if isinstance(process_id, str) and process_id:
            # A shallow copy is a snapshot: kopf replaces nested values, it never edits them.
            entries[("spec", namespace or "", process_id)] = dict(spec)
        return entries

    @kopf.index(*_PODS, labels=_RUN_PODS, registry=registry, id="run_pods")
    async def run_pods(
        *, namespace: str | None, labels: kopf.Labels, body: kopf.Body, **_: Any
    ) -> Any:
        observed = observe_run_pod(body)
        if observed is None:
            return None
        return {(namespace or "", labels[PROCESS_LABEL]): observed}

    # ----------------------------------------------------------------- wake-ups

    @kopf.on.event(*_PROCESSES, registry=registry, id="process_changed")
    async def process_changed(
        *,
        type: str,
        namespace: str | None,
        name: str,
        spec: kopf.Spec,
        meta: kopf.Meta,
        **_: Any,
    ) -> None:
        # Our own status writes and kopf's finalizer change nothing the daemon decides on.
        key = (namespace or "", name)
        gone = type == "DELETED"
        if gone:
            context.spec_changed(key, None, None)
        elif not context.spec_changed(key, meta.get("generation"), meta.get("deletionTimestamp")):
            return
        context.wake(key)
        process_id = spec.get("id")
        if isinstance(process_id, str):
            context.wake_dependents(key[0], process_id)

    @kopf.on.event(*_PODS, labels=_RUN_PODS, registry=registry, id="run_pod_changed")
    async def run_pod_changed(
        *,
        type: str,
        namespace: str | None,
        labels: kopf.Labels,
        body: kopf.Body,
        logger: kopf.Logger,
        **indexes: Any,
    ) -> None:
        processes: kopf.Index[tuple[str, str, str], Any] = indexes["processes"]
        key = (namespace or "", labels[PROCESS_LABEL])
        context.wake(key)
        if type == "DELETED" or body.metadata.deletion_timestamp:
            return
        owners = set(processes.get(("uid", *key), ()))
        owner = _owner_uid(body)
        if owners and (owner is None or owner in owners):
            return
        # A Pod of a process that does not exist (any more), or of an earlier object of that
        # name: an orphan, whatever its ownerReferences say.
        logger.info("deleting the orphaned run Pod %s", body.metadata.name)
        await context.client.delete_pod(key[0], body.metadata.name or "")
        context.counters.pods_deleted += 1

    # ----------------------------------------------------------------- the process

    @kopf.daemon(*_PROCESSES, registry=registry, cancellation_timeout=10.0, id="supervise")
    async def supervise(
        *,
        body: kopf.Body,
        stopped: kopf.DaemonStopped,
        **indexes: Any,
    ) -> None:
        run_pods: kopf.Index[tuple[str, str], RunObservation] = indexes["run_pods"]
        specs: kopf.Index[tuple[str, str, str], Any] = indexes["processes"]
        await ProcessController(context, body, run_pods, specs).run(stopped)

    @kopf.on.delete(*_PROCESSES, registry=registry, id="purge")
    async def purge(
        *,
        body: kopf.Body,
        namespace: str | None,
        name: str,
        **indexes: Any,
    ) -> None:
        run_pods: kopf.Index[tuple[str, str], RunObservation] = indexes["run_pods"]
        key = (namespace or "", name)
        left = list(run_pods.get(key, ()))
        for observed in left:
            if not observed.deleting:
                await context.client.delete_pod(key[0], observed.name)
                context.counters.pods_deleted += 1
        if left:
            raise kopf.TemporaryError(f"waiting for {len(left)} run Pod(s) to go", delay=1)
        deleted = await context.cleanup.purge(key, cleanup_rules(body, context.config.pods))
        if deleted:
            kopf.info(body, reason="Purged", message=f"{deleted} files deleted")

    return registry, context


def config_from_environment() -> OperatorConfig:
    """The operator's config from this process's environment (the chart's variables)."""
    return OperatorConfig.from_env(os.environ)
