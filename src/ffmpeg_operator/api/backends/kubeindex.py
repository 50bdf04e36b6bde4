"""The Kubernetes backend's state: connection, informers and the indexes over them."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from typing import Any

from ffmpeg_operator.api.backends.kubecache import ObjectCache
from ffmpeg_operator.api.backends.kubeclient import KubeApiError, KubeClient, connect
from ffmpeg_operator.api.backends.kubeoptions import KubernetesOptions
from ffmpeg_operator.api.backends.kuberuns import RunObserver
from ffmpeg_operator.api.backends.kubeviews import ProcessView, RunView, run_view, view_of
from ffmpeg_operator.core.errors import ConfigError, UnknownProcessError
from ffmpeg_operator.core.models import Process, ProcessConfig, ProcessReport, ProcessState
from ffmpeg_operator.core.prepare import PreparedProcess
from ffmpeg_operator.core.redact import Redactor
from ffmpeg_operator.core.skills import Skills
from ffmpeg_operator.kube.names import GROUP, PROCESS_LABEL, cr_name
from ffmpeg_operator.kube.pod import prepare_run
from ffmpeg_operator.kube.spec import PLURAL, VERSION

log = logging.getLogger(__name__)

ALIVE = frozenset({"starting", "running", "finishing"})
#: Core's ffmpeg.log.max_lines: lines of a run's report log.
RUN_LOG_LINES = 50
#: Seconds a read may use an older list of the run Pods.
RUN_MAX_AGE_S = 1.0
#: Seconds between two lists of the run Pods while waiting for a run to end.
RUN_POLL_S = 0.2
#: Longest wait of a read for the reason of a run's end (see ``KubernetesBackend._settle``).
SETTLE_WAIT_S = 2.0
#: Seconds between two looks for the FFmpegProcess CRD while it is not installed.
CRD_POLL_S = 2.0
#: With ``freeze_heap``: freeze again once this many processes (and a quarter more) were added.
REFREEZE_MIN = 100

Obj = dict[str, Any]
#: What a list handed out for a process, and the parts it was made of (compared by identity).
ListedProcess = tuple[ProcessView, ProcessState | None, ProcessReport | None, Process]


def _freeze_heap() -> None:
    """Collect, then move every surviving object out of the collector's sight (``gc.freeze``).

    A full collection walks every tracked object: with 1,000 processes cached that took
    50-240 ms on the project machine, and the objects each list makes (new states once a
    second, their JSON) start one every second or two. Frozen objects are still freed when
    their last reference goes; only one that later dies inside a reference cycle is never
    collected, and freezing happens once at start and then once per quarter of growth.
    """
    gc.collect()
    gc.freeze()


class KubeIndex:
    """Connection, caches and indexes of the FFmpegProcess objects and run Pods.

    Use :meth:`open` / :meth:`close` around it (the server's lifespan).
    """

    def __init__(self, options: KubernetesOptions) -> None:
        self.options = options
        self._redactor = Redactor(options.secrets)
        self.client: KubeClient | None = None
        self._processes: ObjectCache | None = None
        self._pods: ObjectCache | None = None
        self._runs: RunObserver | None = None
        self._views: dict[str, ProcessView] = {}
        self._names_by_id: dict[str, set[str]] = {}
        self._runs_by_process: dict[str, dict[str, RunView]] = {}
        #: Process uid -> runs an update through this API replaced (left out of the report).
        self._replaced_runs: dict[str, set[int]] = {}
        self._empty_reports: dict[str, tuple[ProcessView, ProcessReport]] = {}
        self._idle_states: dict[str, tuple[ProcessView, tuple[int, int], ProcessState]] = {}
        #: name -> aspects -> (view, state, report, the Process a list handed out of them).
        self._listed: dict[str, dict[frozenset[str], ListedProcess]] = {}
        self._commands: dict[str, tuple[int, list[str] | None]] = {}
        self._config_epoch = 0
        self._added_since_freeze = 0
        self._system_metadata: dict[str, Any] = {}
        self._skills: Skills | None = None
        self._waiting: str | None = "starting"
        self._starting: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def namespace(self) -> str:
        return self._client().namespace

    def _client(self) -> KubeClient:
        if self.client is None:
            raise RuntimeError("the Kubernetes backend is not open")
        return self.client

    def _collection(self) -> str:
        return f"/apis/{GROUP}/{VERSION}/namespaces/{self.namespace}/{PLURAL}"

    def _object_path(self, name: str) -> str:
        return f"{self._collection()}/{name}"

    async def open(self) -> None:
        """Connect, list processes and run Pods, and keep watching them."""
        options = self.options
        self.client = await connect(options.kubeconfig, options.context, options.namespace)
        self._runs = RunObserver(self.client, redactor=self._redactor)
        self._processes = ObjectCache(
            self.client, self._collection(), on_change=self._on_process_change
        )
        # Pods are listed, not watched: the API's Role grants get/list only (least privilege).
        self._pods = ObjectCache(
            self.client,
            f"/api/v1/namespaces/{self.namespace}/pods",
            label_selector=PROCESS_LABEL,
            on_change=self._on_pod_change,
            watch=False,
        )
        try:
            await self._start_caches()
        except KubeApiError as error:
            if not error.not_found:
                raise
            # No CRD yet (a fresh cluster, a one-shot GitOps apply): serve /ping, answer 503
            # on /ready and the process API, and start once it appears, without a restart.
            self._waiting = f"waiting for the FFmpegProcess CRD ({PLURAL}.{GROUP}) to be installed"
            log.warning("%s; not ready until then (checking every %g s)", self._waiting, CRD_POLL_S)
            self._starting = asyncio.create_task(self._wait_for_crd(), name="wait for the CRD")

    def waiting_for(self) -> str | None:
        """Why the backend cannot serve yet, or None once it can."""
        return self._waiting

    async def _start_caches(self) -> None:
        assert self._processes is not None and self._pods is not None
        await self._processes.start()
        await self._pods.start()
        if self.options.freeze_heap:
            _freeze_heap()  # modules, models and the listed objects live as long as the server
        self._waiting = None
        log.info(
            "serving FFmpegProcess objects of namespace %s (%d found)",
            self.namespace,
            len(self._views),
        )

    async def _wait_for_crd(self) -> None:
        while True:
            await asyncio.sleep(CRD_POLL_S)
            try:
                await self._start_caches()
            except KubeApiError as error:
                if not error.not_found:
                    log.warning("listing FFmpegProcess objects failed: %s", error)
                continue
            return

    async def close(self) -> None:
        if self._starting is not None:
            self._starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._starting
        for cache in (self._processes, self._pods):
            if cache is not None:
                await cache.close()
        if self._runs is not None:
            await self._runs.close()
        if self.client is not None:
            await self.client.close()

    # ------------------------------------------------------------------ indexes

    def _on_process_change(self, name: str, old: Obj | None, new: Obj | None) -> None:
        previous = self._views.pop(name, None)
        if previous is not None:
            names = self._names_by_id.get(previous.id)
            if names is not None:
                names.discard(name)
                if not names:
                    del self._names_by_id[previous.id]
        self._empty_reports.pop(name, None)
        self._idle_states.pop(name, None)
        self._listed.pop(name, None)
        view = None if new is None else view_of(new)
        if view is None or view.terminating:
            if previous is not None:
                self._config_epoch += 1
            if new is None and old is not None and self._runs is not None:
                uid = str(old["metadata"].get("uid") or "")
                self._runs.drop_archive(uid)
                self._replaced_runs.pop(uid, None)
            return
        self._views[name] = view
        self._names_by_id.setdefault(view.id, set()).add(name)
        if previous is None and self.options.freeze_heap:
            self._added_since_freeze += 1
            if self._added_since_freeze >= max(REFREEZE_MIN, len(self._views) // 4):
                self._added_since_freeze = 0
                _freeze_heap()  # the new objects are as long-lived as the ones listed at start
        if previous is None or previous.config != view.config:
            self._config_epoch += 1  # commands resolving references to it may change

    def _on_pod_change(self, name: str, old: Obj | None, new: Obj | None) -> None:
        if old is not None:
            previous = run_view(old)
            if previous is not None:
                self._runs_by_process.get(previous.process, {}).pop(name, None)
                if new is None and self._runs is not None:
                    self._runs.forget(previous)
        run = None if new is None else run_view(new)
        if run is not None:
            self._runs_by_process.setdefault(run.process, {})[name] = run

    def _lookup(self, pid: str) -> ProcessView | None:
        names = self._names_by_id.get(pid)
        if not names:
            return None
        # Hand-written objects may repeat an ID; the one named after it wins.
        canonical = cr_name(pid) if pid else ""
        name = canonical if canonical in names else min(names)
        return self._views.get(name)

    def _require(self, pid: str) -> ProcessView:
        view = self._lookup(pid)
        if view is None:
            raise UnknownProcessError(pid)
        return view

    def _runs_of(self, view: ProcessView) -> list[RunView]:
        """The run Pods of this very object (not of an older one of the same name), in order."""
        runs = self._runs_by_process.get(view.name, {}).values()
        owned = [run for run in runs if run.owner_uid in ("", view.uid)]
        return sorted(owned, key=lambda run: run.number)

    def _live_runs(self, view: ProcessView) -> list[RunView]:
        return [run for run in self._runs_of(view) if run.live]

    # ------------------------------------------------------------------ helpers

    def _prepare(self, config: ProcessConfig, exclude: str | None = None) -> PreparedProcess:
        def lookup(other: str) -> ProcessConfig | None:
            if other == exclude:
                return None
            view = self._lookup(other)
            return None if view is None else view.config

        return prepare_run(config, self.options.run, lookup)

    def _command(self, view: ProcessView) -> list[str] | None:
        cached = self._commands.get(view.name)
        if cached is not None and cached[0] == self._config_epoch:
            return cached[1]
        try:
            command: list[str] | None = [
                self._redactor.text(arg) for arg in self._prepare(view.config).command
            ]
        except ConfigError:
            command = None  # an invalid process shows the operator's last command
        self._commands[view.name] = (self._config_epoch, command)
        return command

    async def _pods_now(self) -> None:
        assert self._pods is not None
        await self._pods.refresh()

    async def _fresh_runs(self) -> None:
        """Run Pods at most :data:`RUN_MAX_AGE_S` old for the reads that follow."""
        assert self._pods is not None
        await self._pods.refresh(RUN_MAX_AGE_S)
