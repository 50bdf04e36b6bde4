"""The datarhei read models of FFmpegProcess objects and their run Pods (no I/O here).

- :class:`ProcessView`: one FFmpegProcess parsed once per ``resourceVersion`` (config, order,
  metadata, times, status);
- :class:`RunView`: one run Pod (run number, phase, the ffmpeg container's start and end, where
  its agent answers);
- :func:`process_state`: ``state`` from the status (lifecycle facts), the spec (the order is
  the ``desiredState`` the API wrote a moment ago) and the agent's ``/state`` (live figures);
- :func:`run_report_entry`: a run's report entry from its ffmpeg container log, split and
  classified exactly as the embedded engine does (:class:`~ffmpeg_operator.core.ffmpeg.
  StockStderr`), with kubelet's per-line timestamps as the unix seconds.

Times: datarhei's ``created_at`` / ``updated_at`` are the ``updated-at`` annotation the API
writes on every update (Core resets both then) or else the object's ``creationTimestamp``.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from ffmpeg_operator.core.ffmpeg import StockStderr, parse_prelude, progress_ios
from ffmpeg_operator.core.models import (
    ExecState,
    LogEntry,
    ProcessConfig,
    ProcessState,
    Progress,
    ProgressIO,
    ReportHistoryEntry,
)
from ffmpeg_operator.kube.migrate import METADATA_ANNOTATION
from ffmpeg_operator.kube.names import GROUP, PROCESS_LABEL, RUN_LABEL
from ffmpeg_operator.kube.pod import AGENT_CONTAINER, FFMPEG_CONTAINER
from ffmpeg_operator.kube.runs import RunObservation, observe_run_pod
from ffmpeg_operator.kube.spec import KIND, FFmpegProcessSpec, config_from_cr, spec_of
from ffmpeg_operator.kube.status import FFmpegProcessStatus

__all__ = [
    "UPDATED_AT_ANNOTATION",
    "ProcessView",
    "RunView",
    "log_lines",
    "process_state",
    "run_report_entry",
    "run_view",
    "settling_run",
    "stop_line",
    "unix_time",
    "view_of",
]

Obj = dict[str, Any]

#: Unix seconds of the last update through the API (datarhei's created_at and updated_at).
UPDATED_AT_ANNOTATION = f"{GROUP}/updated-at"

_ALIVE: frozenset[ExecState] = frozenset({"starting", "running", "finishing"})
_DEFAULT_AGENT_PORT = 9556
# ffmpeg's exit status after SIGINT/SIGTERM, and the base of 128 + signal exit codes.
_SIGNALLED_EXIT = 255
_SIGNAL_BASE = 128
# kubelet's timestamps=true prefix: RFC 3339 with nanoseconds, then one space.
_LOG_TIMESTAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) ")
_LINE_BREAK = re.compile(r"\r\n?|\n")


def unix_time(text: str | None, default: int = 0) -> int:
    """An RFC 3339 time as unix seconds (``default`` when missing or unreadable)."""
    if not text:
        return default
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return default


# --------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class ProcessView:
    """An FFmpegProcess as the v3 API shows it."""

    name: str
    obj: Obj
    spec: FFmpegProcessSpec
    config: ProcessConfig
    metadata: dict[str, Any] | None
    created_at: int
    updated_at: int
    status: FFmpegProcessStatus | None

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def order(self) -> str:
        return "start" if self.spec.desired_state == "running" else "stop"

    @property
    def resource_version(self) -> str:
        return str(self.obj["metadata"].get("resourceVersion") or "")

    @property
    def uid(self) -> str:
        return str(self.obj["metadata"].get("uid") or "")

    @property
    def terminating(self) -> bool:
        return bool(self.obj["metadata"].get("deletionTimestamp"))


def _metadata_of(annotations: Mapping[str, str]) -> dict[str, Any] | None:
    text = annotations.get(METADATA_ANNOTATION)
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) and value else None


def view_of(obj: Obj) -> ProcessView | None:
    """The view of an object, or None when its spec is not a process (a broken hand edit)."""
    meta = obj.get("metadata") or {}
    try:
        spec = spec_of(obj)
        config = config_from_cr(obj)
    except ValidationError:
        return None
    annotations = meta.get("annotations") or {}
    created = unix_time(meta.get("creationTimestamp"))
    try:
        updated = int(annotations.get(UPDATED_AT_ANNOTATION) or created)
    except ValueError:
        updated = created
    status: FFmpegProcessStatus | None = None
    if obj.get("status"):
        try:
            status = FFmpegProcessStatus.model_validate(obj["status"])
        except ValidationError:
            status = None
    return ProcessView(
        name=str(meta.get("name") or ""),
        obj=obj,
        spec=spec,
        config=config,
        metadata=_metadata_of(annotations),
        created_at=updated,
        updated_at=updated,
        status=status,
    )


# --------------------------------------------------------------------------- run Pods


@dataclass(frozen=True)
class RunView:
    """A run Pod: run ``number`` of the FFmpegProcess ``process``."""

    name: str
    uid: str
    process: str
    #: uid of the FFmpegProcess that owns the Pod ("" when no owner is recorded).
    owner_uid: str
    number: int
    phase: str
    pod_ip: str
    agent_port: int
    terminating: bool
    #: The ffmpeg container: when it started and ended (unix s, 0 = not yet), exit code.
    started_at: int
    finished_at: int
    exit_code: int | None
    created_at: int
    #: What the embedded engine logs when a run ends (the agent's stop reason, a signal, an
    #: error status), for the report of an ended run.
    end_lines: tuple[str, ...] = ()

    @property
    def done(self) -> bool:
        """The run is over: the Pod finished (or its ffmpeg did) — no more log will come."""
        return self.phase in ("Succeeded", "Failed") or self.finished_at > 0

    @property
    def settled(self) -> bool:
        """The Pod is over (every container, the agent's termination message included)."""
        return self.phase in ("Succeeded", "Failed")

    @property
    def live(self) -> bool:
        """The run is not over yet (Pending, starting or running)."""
        return not self.done


def _container_status(pod: Obj, name: str) -> Obj:
    status = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses"):
        for entry in status.get(key) or []:
            if entry.get("name") == name:
                return dict(entry)
    return {}


def _agent_port(pod: Obj) -> int:
    spec = pod.get("spec") or {}
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        if container.get("name") != AGENT_CONTAINER:
            continue
        for port in container.get("ports") or []:
            if port.get("name") == "agent" and port.get("containerPort"):
                return int(port["containerPort"])
    return _DEFAULT_AGENT_PORT


def run_view(pod: Obj) -> RunView | None:
    """The run a Pod carries, or None for a Pod that is not a run Pod."""
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    process = labels.get(PROCESS_LABEL)
    try:
        number = int(labels.get(RUN_LABEL) or "")
    except ValueError:
        return None
    if not process:
        return None
    state = _container_status(pod, FFMPEG_CONTAINER).get("state") or {}
    running, terminated = state.get("running") or {}, state.get("terminated") or {}
    status = pod.get("status") or {}
    owner: Obj = next(
        (ref for ref in meta.get("ownerReferences") or [] if ref.get("kind") == KIND), {}
    )
    observed = observe_run_pod(pod)
    return RunView(
        name=str(meta.get("name") or ""),
        uid=str(meta.get("uid") or ""),
        process=str(process),
        owner_uid=str(owner.get("uid") or ""),
        number=number,
        phase=str(status.get("phase") or "Pending"),
        pod_ip=str(status.get("podIP") or ""),
        agent_port=_agent_port(pod),
        terminating=bool(meta.get("deletionTimestamp")),
        started_at=unix_time(running.get("startedAt") or terminated.get("startedAt")),
        finished_at=unix_time(terminated.get("finishedAt")),
        exit_code=None if not terminated else int(terminated.get("exitCode") or 0),
        created_at=unix_time(meta.get("creationTimestamp")),
        end_lines=_end_lines(observed) if observed is not None and observed.ended else (),
    )


def settling_run(view: ProcessView, run: RunView) -> bool:
    """Whether the status says ``run`` ended while its Pod has not settled yet: the agent's
    word on why (its termination message) is not there yet, but the agent still answers."""
    status = view.status
    return (
        status is not None
        and status.run == run.number
        and status.state not in _ALIVE
        and not run.settled
    )


def stop_line(view: ProcessView, run: RunView, agent: Mapping[str, Any] | None) -> str | None:
    """``Process stopped: <reason>`` of a settling run (:func:`settling_run`), from the status'
    ``Stalled`` / ``LimitExceeded`` condition or the agent's ``stop_reason``."""
    status = view.status
    if status is None or not settling_run(view, run):
        return None
    for condition in status.conditions:
        stopped = condition.type in ("Stalled", "LimitExceeded") and condition.status == "True"
        if stopped and condition.message:
            return f"Process stopped: {condition.message}"
    reason = agent.get("stop_reason") if agent is not None else None
    return f"Process stopped: {reason}" if isinstance(reason, str) and reason else None


def _end_lines(run: RunObservation) -> tuple[str, ...]:
    # The lines LocalProcess writes into the report log when its run ends.
    lines = []
    if run.killed_by is not None and run.agent_reason:
        lines.append(f"Process stopped: {run.agent_reason}")
    code = run.exit_code if run.exit_code is not None else run.agent_exit_code
    if code is not None and code > _SIGNAL_BASE and code != _SIGNALLED_EXIT:
        lines.append(f"Process killed by signal {code - _SIGNAL_BASE}")
    elif code is not None and code not in (0, _SIGNALLED_EXIT):
        lines.append(f"Process exited with status {code}")
    return tuple(lines)


# --------------------------------------------------------------------------- state


def _with_streams(progress: Progress, config: ProcessConfig, prelude: Sequence[str]) -> Progress:
    """The agent's progress with its per-stream entries named after the config's IO ids.

    The agent sees ffmpeg's ``-progress`` channel only, not its stderr: without entries of its
    own, they come from the run's prelude (read from the log), as the embedded engine builds
    them (static stream data; stock ffmpeg reports no per-stream counters).
    """
    if not progress.inputs and not progress.outputs and prelude:
        dump = parse_prelude(prelude)
        return progress.model_copy(
            update={
                "inputs": progress_ios(dump.inputs, [io.id for io in config.input]),
                "outputs": progress_ios(dump.outputs, [io.id for io in config.output]),
            }
        )
    return _with_config_ids(progress, config)


def _with_config_ids(progress: Progress, config: ProcessConfig) -> Progress:
    # The agent knows ffmpeg's argv, not the config: name the streams by their file index.
    def named(ios: Sequence[ProgressIO], ids: Sequence[str]) -> list[ProgressIO]:
        return [
            io.model_copy(update={"id": ids[io.index] if 0 <= io.index < len(ids) else ""})
            for io in ios
        ]

    return progress.model_copy(
        update={
            "inputs": named(progress.inputs, [io.id for io in config.input]),
            "outputs": named(progress.outputs, [io.id for io in config.output]),
        }
    )


def _start_pending(view: ProcessView) -> bool:
    """The order is start, the operator has not carried it out yet, and nothing stops it."""
    status = view.status
    if view.order != "start":
        return False
    if status is None:
        return True
    blocked = any(
        condition.type in ("ConfigValid", "ReferencesResolved") and condition.status == "False"
        for condition in status.conditions
    )
    return status.order == "stop" and not blocked


def process_state(  # noqa: PLR0917 - the parts a state is made of
    view: ProcessView,
    run: RunView | None,
    agent: Mapping[str, Any] | None,
    last_logline: str,
    command: list[str] | None,
    now: float,
    prelude: Sequence[str] = (),
) -> ProcessState:
    """``state`` of a process (§2.3) from its status, current run and the run's agent.

    ``agent`` is the agent's ``/state`` document of ``run`` (None when the agent could not be
    asked); its live figures count only while the run is alive. ``prelude``: of the run's
    report, for the per-stream progress entries.
    """
    status = view.status
    exec_state: ExecState = status.state if status is not None else "finished"
    if _start_pending(view):
        exec_state = "starting"  # Core starts at once; the operator is about to
    if exec_state == "starting" and agent is not None and agent.get("exec") == "running":
        exec_state = "running"  # the status is written a moment after ffmpeg started
    alive = exec_state in _ALIVE
    if alive:
        since = unix_time(status.running_since or status.started_at) if status else 0
    else:
        since = unix_time(status.ended_at) if status is not None else 0
    since = since or view.updated_at
    reconnect_seconds = -1
    if view.order == "start" and not alive and view.config.reconnect:
        reconnect_seconds = max(0, int(view.config.reconnect_delay_seconds - (now - since)))
    progress, memory, cpu = Progress(), 0, 0.0
    if alive and agent is not None and run is not None and run.live:
        try:
            live = Progress.model_validate(agent.get("progress") or {})
            progress = _with_streams(live, view.config, prelude)
        except ValidationError:
            progress = Progress()
        memory = int(agent.get("memory_bytes") or 0)
        cpu = float(agent.get("cpu_usage") or 0.0)
    return ProcessState(
        order=view.order,
        exec=exec_state,
        runtime_seconds=max(0, int(now - since)),
        reconnect_seconds=reconnect_seconds,
        last_logline=last_logline,
        progress=progress,
        memory_bytes=memory,
        cpu_usage=round(cpu, 3),
        command=list(command) if command is not None else list(status.command if status else []),
    )


# --------------------------------------------------------------------------- report


def log_lines(text: str, default_time: int) -> Iterator[tuple[int, str]]:
    """``(unix seconds, line)`` of a container log read with ``timestamps=true``.

    A line without kubelet's timestamp gets ``default_time``. ffmpeg ends its stats line with
    ``\\r``: such pieces are separate lines, as the embedded engine splits them.
    """
    for raw in text.split("\n"):
        stamp, body = default_time, raw
        match = _LOG_TIMESTAMP.match(raw)
        if match is not None:
            stamp = unix_time(match.group(1), default_time)
            body = raw[match.end() :]
        for line in _LINE_BREAK.split(body):
            if line:
                yield stamp, line


def run_report_entry(
    head: Iterable[tuple[int, str]],
    tail: Iterable[tuple[int, str]] | None,
    created_at: int,
    max_lines: int = 50,
    extra: Iterable[tuple[int, str]] = (),
) -> ReportHistoryEntry:
    """A run's report entry: prelude from the log's ``head``, log ring from its ``tail``.

    ``tail`` None means ``head`` is the whole log. Progress lines are never logged (§2.5).
    ``extra`` lines (what the supervisor says when the run ended) go to the log only.
    """
    prelude = StockStderr()
    ring: deque[LogEntry] = deque(maxlen=max_lines)
    for stamp, line in head:
        if prelude.feed(line).kind == "log" and tail is None:
            ring.append((str(stamp), line))
    if tail is not None:
        classifier = StockStderr()
        for stamp, line in tail:
            if classifier.feed(line).kind == "log":
                ring.append((str(stamp), line))
    ring.extend((str(stamp), line) for stamp, line in extra)
    return ReportHistoryEntry(created_at=created_at, prelude=prelude.prelude(), log=list(ring))
