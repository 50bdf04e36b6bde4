"""The v3 process API over FFmpegProcess custom resources (``serve --backend kubernetes``).

Every process is one FFmpegProcess in one namespace; the operator turns it into run Pods (and
applies the cleanup rules, memfs ones over HTTP to this server). This backend only talks to the
Kubernetes API (FFmpegProcess CRUD and watch, Pods get/list and logs) and to the agents in run
Pods (``/state``). Field ownership and the mapping are documented in
``docs/kubernetes-api.md``; in short:

=========================  ====================================================================
v3 call                    FFmpegProcess operation
=========================  ====================================================================
POST                       create (desiredState from autostart)
PUT, same id               merge patch of the config fields (+ ``updated-at`` annotation)
PUT, new id (rename)       create the new object, then delete the old one (rolled back when
                           the deletion fails; nothing is deleted when the creation fails)
DELETE                     delete; waits until the operator's finalizer let it go (bounded)
start / stop               ``spec.desiredState`` running / stopped (stop waits for the run)
restart                    a new ``spec.restartRequest`` token while a run is alive
reload                     re-validate only (the operator re-resolves on every change)
metadata                   the ``ffmpeg-operator.io/metadata`` annotation (no spec change)
=========================  ====================================================================

Reads come from informers (:mod:`.kubecache`); every write carries the ``resourceVersion`` it
was computed from and is recomputed on 409 Conflict, so a concurrent ``kubectl apply`` is never
overwritten blindly. A PUT whose base config changed in between fails with 400 instead of
overwriting the other change.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ffmpeg_operator.api.backends.kubecache import ObjectCache, resource_version
from ffmpeg_operator.api.backends.kubeclient import MERGE_PATCH, KubeApiError, KubeClient, connect
from ffmpeg_operator.api.backends.kuberuns import RunObserver
from ffmpeg_operator.api.backends.kubeviews import (
    UPDATED_AT_ANNOTATION,
    ProcessView,
    RunView,
    process_state,
    run_view,
    settling_run,
    stop_line,
    view_of,
)
from ffmpeg_operator.api.errors import ApiError
from ffmpeg_operator.core.argv import probe_argv
from ffmpeg_operator.core.errors import (
    CommandFailedError,
    ConfigError,
    ProcessExistsError,
    UnknownMetadataKeyError,
    UnknownProcessError,
)
from ffmpeg_operator.core.models import (
    Probe,
    Process,
    ProcessConfig,
    ProcessReport,
    ProcessState,
    ReportHistoryEntry,
)
from ffmpeg_operator.core.prepare import PreparedProcess
from ffmpeg_operator.core.skills import Skills
from ffmpeg_operator.kube.crd import MAX_IO_ADDRESS_LENGTH, MAX_IO_ID_LENGTH, MAX_IOS
from ffmpeg_operator.kube.migrate import MAX_ANNOTATIONS_BYTES, METADATA_ANNOTATION
from ffmpeg_operator.kube.names import GROUP, PROCESS_LABEL, cr_name
from ffmpeg_operator.kube.pod import OperatorSettings, prepare_run
from ffmpeg_operator.kube.spec import (
    PLURAL,
    VERSION,
    KubernetesFields,
    config_from_cr,
    cr_from_config,
    spec_of,
)
from ffmpeg_operator.supervision.probe import probe_process
from ffmpeg_operator.supervision.skills import probe_skills

__all__ = [
    "CONCURRENT_UPDATE",
    "INT64_MAX",
    "KubernetesBackend",
    "KubernetesOptions",
    "check_kubernetes_bounds",
]

log = logging.getLogger(__name__)

Obj = dict[str, Any]

#: Kubernetes integers are int64; datarhei's uints go up to 2**64-1.
INT64_MAX = 2**63 - 1
ALIVE = frozenset({"starting", "running", "finishing"})
#: Core's ffmpeg.log.max_lines: lines of a run's report log.
RUN_LOG_LINES = 50
#: Seconds a read may use an older list of the run Pods.
RUN_MAX_AGE_S = 1.0
#: Seconds between two lists of the run Pods while waiting for a run to end.
RUN_POLL_S = 0.2
#: Longest wait of a read for the reason of a run's end (see ``KubernetesBackend._settle``).
SETTLE_WAIT_S = 2.0
#: Detail of a PUT whose base was changed by someone else meanwhile.
CONCURRENT_UPDATE = "the process was changed by someone else meanwhile; read it again and retry"

#: The config a PUT route read (``get_config``) and decoded its body onto, per request task.
_READ_BASE: contextvars.ContextVar[tuple[str, str, ProcessConfig] | None] = contextvars.ContextVar(
    "ffmpeg_operator_read_base", default=None
)


@dataclass(frozen=True)
class KubernetesOptions:
    """How the backend reaches the cluster and how long it waits for the operator."""

    namespace: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    #: ffmpeg of this process, for probe and skills.
    ffmpeg: str = "ffmpeg"
    #: The run settings the operator uses too ({memfs}, {diskfs}, rtmp, srt, address rules).
    run: OperatorSettings = field(default_factory=OperatorSettings)
    #: Longest wait for a deleted object's finalizer (Core waits for ffmpeg to exit).
    delete_timeout: float = 30.0
    #: Longest wait for a run to end after stop or restart.
    stop_timeout: float = 30.0
    #: Longest wait for the operator to start a run after start.
    start_timeout: float = 15.0
    #: Attempts of a write that keeps meeting 409 Conflict.
    conflict_retries: int = 8


def check_kubernetes_bounds(config: ProcessConfig) -> None:
    """What the CRD refuses although datarhei accepts it: raise :class:`ConfigError`."""
    for direction, ios in (("inputs", config.input), ("outputs", config.output)):
        if len(ios) > MAX_IOS:
            raise ConfigError(f"at most {MAX_IOS} {direction} are possible on Kubernetes")
        for io in ios:
            if len(io.id) > MAX_IO_ID_LENGTH:
                raise ConfigError(
                    f"the ID of an input or output may have at most {MAX_IO_ID_LENGTH} "
                    "characters on Kubernetes"
                )
            if len(io.address) > MAX_IO_ADDRESS_LENGTH:
                raise ConfigError(
                    f"the address of an input or output may have at most "
                    f"{MAX_IO_ADDRESS_LENGTH} characters on Kubernetes"
                )
            for rule in io.cleanup:
                _check_int64("max_files", rule.max_files)
                _check_int64("max_file_age_seconds", rule.max_file_age_seconds)
    _check_int64("reconnect_delay_seconds", config.reconnect_delay_seconds)
    _check_int64("stale_timeout_seconds", config.stale_timeout_seconds)
    _check_int64("limits.memory_mbytes", config.limits.memory_mbytes)
    _check_int64("limits.waitfor_seconds", config.limits.waitfor_seconds)


def _check_int64(name: str, value: int) -> None:
    if value > INT64_MAX:
        raise ConfigError(f"{name} must be at most {INT64_MAX} on Kubernetes (int64)")


def _token() -> str:
    return f"{int(time.time())}-{secrets.token_hex(4)}"


def _annotations(obj: Obj) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})


_CONFIG_FIELDS = frozenset(ProcessConfig.model_fields)
_KUBE_FIELDS = frozenset(KubernetesFields.model_fields)


class KubernetesBackend:
    """:class:`~ffmpeg_operator.api.backend.ProcessBackend` over FFmpegProcess objects.

    Use :meth:`open` / :meth:`close` around it (the server's lifespan).
    """

    def __init__(self, options: KubernetesOptions) -> None:
        self.options = options
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
        self._commands: dict[str, tuple[int, list[str] | None]] = {}
        self._config_epoch = 0
        self._system_metadata: dict[str, Any] = {}
        self._skills: Skills | None = None

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
        self._runs = RunObserver(self.client)
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
        await self._processes.start()
        await self._pods.start()
        log.info(
            "serving FFmpegProcess objects of namespace %s (%d found)",
            self.namespace,
            len(self._views),
        )

    async def close(self) -> None:
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
            command: list[str] | None = self._prepare(view.config).command
        except ConfigError:
            command = None  # an invalid process shows the operator's last command
        self._commands[view.name] = (self._config_epoch, command)
        return command

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

    async def _wait_gone(self, view: ProcessView) -> None:
        assert self._processes is not None
        cache = self._processes

        def gone() -> bool:
            current = cache.get(view.name)
            return current is None or current["metadata"].get("uid") != view.uid

        await cache.wait_for(gone, self.options.delete_timeout)

    async def _wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Poll the run Pods (listed, not watched) until ``condition()``; False on timeout."""
        assert self._pods is not None
        deadline = time.monotonic() + timeout
        while True:
            await self._pods.refresh()
            if condition():
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(RUN_POLL_S)

    async def _wait_runs_over(self, view: ProcessView, runs: Iterable[RunView]) -> None:
        """Wait (bounded) until ``runs`` ended and the status says so, as Core's stop and
        restart return once ffmpeg exited. Their logs are read on the way: the operator
        deletes their Pods, and the report must keep them."""
        assert self._runs is not None
        runs = list(runs)
        names = {run.name for run in runs}
        newest = max((run.number for run in runs), default=0)
        deadline = time.monotonic() + self.options.stop_timeout

        def pods_over() -> bool:
            current = self._runs_by_process.get(view.name, {})
            return all(name not in current or current[name].done for name in names)

        while True:
            await self._pods_now()
            current = self._runs_by_process.get(view.name, {})
            present = [current[name] for name in names if name in current]
            await asyncio.gather(
                *(self._runs.report_entry(run, run.started_at or run.created_at, fresh=True)
                  for run in present)
            )  # fmt: skip
            if pods_over() or time.monotonic() > deadline:
                break
            # Quick: the Pod may go soon after ffmpeg's exit, and its last lines with it.
            await asyncio.sleep(RUN_POLL_S / 4)

        def status_over() -> bool:
            latest = self._views.get(view.name)
            status = latest.status if latest is not None else None
            return status is None or status.state not in ALIVE or status.run > newest

        assert self._processes is not None
        await self._processes.wait_for(status_over, max(0.0, deadline - time.monotonic()))

    async def _wait_started(self, view: ProcessView) -> None:
        """Wait (bounded) until the operator started a new run and ffmpeg runs (or the run
        already ended, or the config cannot run), as Core's start returns after the spawn."""
        before = view.status.run if view.status is not None else 0

        def started() -> bool:
            latest = self._views.get(view.name)
            status = latest.status if latest is not None else None
            if status is None:
                return latest is None
            if status.run > before and status.state != "starting":
                return True
            return any(
                condition.type in ("ConfigValid", "ReferencesResolved")
                and condition.status == "False"
                for condition in status.conditions
            )

        assert self._processes is not None
        await self._processes.wait_for(started, self.options.start_timeout)

    async def _pods_now(self) -> None:
        assert self._pods is not None
        await self._pods.refresh()

    async def _fresh_runs(self) -> None:
        """Run Pods at most :data:`RUN_MAX_AGE_S` old for the reads that follow."""
        assert self._pods is not None
        await self._pods.refresh(RUN_MAX_AGE_S)

    # ------------------------------------------------------------------ ProcessBackend: reads

    async def list_references(self) -> list[tuple[str, str]]:
        seen: set[str] = set()
        references = []
        for view in self._views.values():
            if view.id not in seen:
                seen.add(view.id)
                references.append((view.id, view.config.reference))
        return references

    async def get_processes(self, ids: Sequence[str], aspects: frozenset[str]) -> list[Process]:
        if aspects & {"state", "report"}:
            await self._fresh_runs()
        now = time.time()
        views = [view for view in (self._lookup(pid) for pid in ids) if view is not None]
        unique = list({view.name: view for view in views}.values())
        states: dict[str, ProcessState] = {}
        reports: dict[str, ProcessReport] = {}
        if aspects & {"state", "report"}:
            # Most processes of a long list never ran here: no Pod, nothing read, no await.
            ran = [view for view in unique if self._ran(view)]
            for view in unique:
                if view.name in states or self._ran(view):
                    continue
                if "state" in aspects:
                    states[view.name] = self._idle_state(view, now)
                if "report" in aspects:
                    reports[view.name] = self._empty_report(view)
            if "state" in aspects and ran:
                found = await asyncio.gather(*(self._state(view, now) for view in ran))
                states.update(zip((view.name for view in ran), found, strict=True))
            if "report" in aspects and ran:
                made = await asyncio.gather(*(self._report(view) for view in ran))
                reports.update(zip((view.name for view in ran), made, strict=True))
        # The parts are typed and valid already: no second validation of 1,000 items.
        return [
            Process.model_construct(
                id=view.id,
                type="ffmpeg",
                reference=view.config.reference,
                created_at=view.created_at,
                updated_at=view.updated_at,
                config=view.config if "config" in aspects else None,
                state=states.get(view.name),
                report=reports.get(view.name),
                metadata=view.metadata if "metadata" in aspects else None,
            )
            for view in views
        ]

    def _ran(self, view: ProcessView) -> bool:
        """Whether the process has (or had) runs to read: Pods, archived reports, a status."""
        assert self._runs is not None
        return bool(
            self._runs_by_process.get(view.name)
            or (view.status is not None and view.status.run > 0)
            or view.uid in self._replaced_runs
            or self._runs.archived(view.uid)
        )

    def _idle_state(self, view: ProcessView, now: float) -> ProcessState:
        """The state of a process that never ran: one object per view and second (its
        ``runtime_seconds`` changes once a second), so a list's JSON of it is made once."""
        key = (int(now), self._config_epoch)
        cached = self._idle_states.get(view.name)
        if cached is not None and cached[0] is view and cached[1] == key:
            return cached[2]
        state = process_state(view, None, None, "", self._command(view), now)
        self._idle_states[view.name] = (view, key, state)
        return state

    def _empty_report(self, view: ProcessView) -> ProcessReport:
        """The report of a process that never ran, one object per view (its JSON is cached)."""
        cached = self._empty_reports.get(view.name)
        if cached is None or cached[0] is not view:
            cached = (view, ProcessReport(created_at=view.updated_at))
            self._empty_reports[view.name] = cached
        return cached[1]

    async def get_config(self, pid: str) -> ProcessConfig:
        view = self._require(pid)
        # Remembered for a PUT in the same request: its body is decoded onto this config.
        _READ_BASE.set((pid, view.resource_version, view.config))
        return view.config

    async def get_state(self, pid: str) -> ProcessState:
        view = self._require(pid)
        await self._fresh_runs()
        return await self._state(view, time.time())

    async def get_report(self, pid: str) -> ProcessReport:
        view = self._require(pid)
        await self._fresh_runs()
        return await self._report(view)

    async def _known_runs(self, view: ProcessView) -> list[RunView]:
        """The run Pods of ``view``; listed again when the status names a run not seen yet."""
        runs = self._runs_of(view)
        status = view.status
        if status is not None and status.run > 0 and all(run.number < status.run for run in runs):
            await self._pods_now()
            runs = self._runs_of(view)
        return runs

    async def _entries(self, view: ProcessView, runs: list[RunView]) -> list[ReportHistoryEntry]:
        """Report entries of every run, oldest first: Pods that went (stopped, restarted) from
        what was read of them before, the others from their logs."""
        assert self._runs is not None
        settled = await asyncio.gather(*(self._settle(view, run) for run in runs))
        present = self._runs_by_process.get(view.name, {})
        # After the settles: a Pod that went meanwhile is in the archive now.
        by_number = self._runs.archived(view.uid)
        settled = [
            (run, line)
            for run, line in settled
            if run.name in present or run.number not in by_number
        ]
        read = await asyncio.gather(
            *(self._runs.report_entry(run, run.started_at or run.created_at) for run, _ in settled)
        )
        for (run, line), entry in zip(settled, read, strict=True):
            if line is not None and all(logged != line for _, logged in entry.log):
                stamp = str(run.finished_at or int(time.time()))
                log = [*entry.log, (stamp, line)][-RUN_LOG_LINES:]
                by_number[run.number] = entry.model_copy(update={"log": log})
            else:
                by_number[run.number] = entry
        replaced = self._replaced_runs.get(view.uid, set())
        for number in replaced:
            by_number.pop(number, None)
        entries = [by_number[number] for number in sorted(by_number)]
        if replaced and max(by_number, default=0) < max(replaced):
            # Updated, and no run since: Core's new process has an empty report of its own.
            entries.append(ReportHistoryEntry(created_at=view.updated_at))
        return entries

    async def _settle(self, view: ProcessView, run: RunView) -> tuple[RunView, str | None]:
        """``run``, and why it stopped if only the status and agent know yet.

        Core logs the stop reason in the same step as the end. Here the status may say the run
        ended while its Pod has not settled: the reason is in the status' conditions, with the
        agent (while it still answers), or in the agent's termination message once the Pod
        settled. Wait for one of them, at most :data:`SETTLE_WAIT_S`.
        """
        assert self._runs is not None
        deadline = time.monotonic() + SETTLE_WAIT_S
        while settling_run(view, run):
            agent = await self._runs.agent_state(run, ended=True)
            line = stop_line(view, run, agent)
            if line is not None or time.monotonic() > deadline:
                return run, line
            await asyncio.sleep(RUN_POLL_S / 2)
            await self._pods_now()
            current = self._runs_by_process.get(view.name, {}).get(run.name)
            if current is None or current.uid != run.uid:
                return run, None  # gone: what was read of it stands
            run = current
        return run, None

    async def _state(self, view: ProcessView, now: float) -> ProcessState:
        assert self._runs is not None
        runs = await self._known_runs(view)
        run = runs[-1] if runs else None
        agent = None
        if run is not None and run.live:
            agent = await self._runs.agent_state(run)
        entries = await self._entries(view, runs[-1:])
        last = entries[-1].log if entries else []
        last_logline = last[-1][1] if last else ""
        prelude = entries[-1].prelude if entries else []
        command = self._command(view)
        return process_state(view, run, agent, last_logline, command, now, prelude)

    async def _report(self, view: ProcessView) -> ProcessReport:
        runs = await self._known_runs(view)
        entries = await self._entries(view, runs)
        if not entries:
            return ProcessReport(created_at=view.updated_at)
        current = entries[-1]
        # Core archives a run only when its prelude is not empty, and keeps the last three.
        history = [entry for entry in entries[:-1] if entry.prelude][-3:]
        return ProcessReport(
            created_at=current.created_at,
            prelude=current.prelude,
            log=current.log,
            history=history,
        )

    # ------------------------------------------------------------------ ProcessBackend: writes

    async def create(self, config: ProcessConfig) -> ProcessConfig:
        check_kubernetes_bounds(config)
        if self._lookup(config.id) is not None:
            raise ProcessExistsError()
        prepared = self._prepare(config)
        await self._create_object(cr_from_config(prepared.config, self.namespace))
        return prepared.config

    async def update(self, pid: str, config: ProcessConfig) -> ProcessConfig:
        view = self._require(pid)
        base = _READ_BASE.get()
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

    async def command(self, pid: str, command: str) -> None:
        view = self._require(pid)
        if command != "start":
            await self._pods_now()
        if command == "start":
            if view.order == "start":
                return  # Core: a start of a started process is a no-op, running or not
            await self._set_desired_state(view, "running")
            await self._wait_started(view)
        elif command == "stop":
            live = self._live_runs(view)
            if view.order == "stop" and not live:
                return
            await self._set_desired_state(view, "stopped")
            await self._wait_runs_over(view, live)
        elif command == "restart":
            live = self._live_runs(view)
            if view.order != "start" or not live:
                return  # Core: restart only interrupts a running ffmpeg
            await self._request_restart(view)
            await self._wait_runs_over(view, live)
        elif command == "reload":
            # Core re-resolves placeholders and references and re-validates (§3.5). The
            # operator does that on its own whenever something changes and replaces a run
            # whose resolved command changed; here the answer is Core's: 400 when invalid.
            self._prepare(view.config)
        else:  # pragma: no cover - the route passes known verbs only
            raise CommandFailedError(f"unknown command {command!r}")

    async def _set_desired_state(self, view: ProcessView, desired: str) -> None:
        def change(obj: Obj) -> Obj | None:
            if (obj.get("spec") or {}).get("desiredState") == desired:
                return None
            return {"spec": {"desiredState": desired}}

        await self._patch(view.name, change)

    async def _request_restart(self, view: ProcessView) -> None:
        token = _token()
        await self._patch(view.name, lambda obj: {"spec": {"restartRequest": token}})

    async def probe(self, pid: str) -> Probe:
        view = self._require(pid)
        try:
            prepared = self._prepare(view.config)
        except ConfigError as error:
            return Probe(streams=[], log=[str(error)])
        return await probe_process(self.options.ffmpeg, probe_argv(prepared.resolved))

    # ------------------------------------------------------------------ metadata

    async def get_metadata(self, pid: str | None, key: str | None) -> Any:
        data = self._system_metadata if pid is None else self._require(pid).metadata
        if key is None:
            return data or None
        if not data or key not in data:
            raise UnknownMetadataKeyError(key)
        return data[key]

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
            if len(text.encode("utf-8", "surrogatepass")) > MAX_ANNOTATIONS_BYTES:
                raise ApiError(
                    400,
                    "Invalid metadata",
                    f"the metadata of a process must stay below "
                    f"{MAX_ANNOTATIONS_BYTES // 1024} KiB on Kubernetes",
                )
            # Only an annotation: the spec (and so the run) is untouched.
            return {"metadata": {"annotations": {METADATA_ANNOTATION: text if metadata else None}}}

        await self._patch(view.name, change)

    # ------------------------------------------------------------------ skills, metrics

    async def skills(self, reload: bool = False) -> Skills:
        if self._skills is None or reload:
            self._skills = await asyncio.to_thread(probe_skills, self.options.ffmpeg)
        return self._skills

    def restarts(self) -> dict[str, int]:
        return {
            view.id: view.status.restarts if view.status is not None else 0
            for view in self._views.values()
        }
