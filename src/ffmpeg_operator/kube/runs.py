"""What the operator reads from a run Pod: one :class:`RunObservation` per Pod (design §4).

A run is over when its ffmpeg container has terminated (``restartPolicy: Never``: it never
comes back), when the Pod failed before ffmpeg ran, or when the Pod vanished. How it ended
comes, best first, from the agent's termination message (``initContainerStatuses`` of the
``agent`` sidecar: ``{"reason", "exitCode", "killedBy"}``, there once kubelet stopped the
sidecar after ffmpeg), then from the ffmpeg container's ``terminated`` state (``exitCode``,
``reason`` such as ``OOMKilled`` or ``StartError``, ``message``).

datarhei's exec states of an ended run (§4.2): exit code 0 or 255 (ffmpeg's answer to
SIGINT/SIGTERM) is ``finished``; death by a signal (exit code 128+N, ``OOMKilled``) is
``killed``; anything else is ``failed``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from ffmpeg_operator.core.models import ExecState
from ffmpeg_operator.kube.names import GROUP, PROCESS_LABEL, RUN_LABEL, run_from_pod_name
from ffmpeg_operator.kube.pod import (
    AGENT_CONTAINER,
    FFMPEG_CONTAINER,
    RESTART_REQUEST_ANNOTATION,
)

__all__ = [
    "CONFIG_HASH_ANNOTATION",
    "ContainerPhase",
    "KilledBy",
    "RunObservation",
    "exit_reason",
    "exit_state",
    "observe_run_pod",
]

#: Annotation of run Pods: the fingerprint of the config the run was built from; a run whose
#: fingerprint differs from the current one is outdated (the spec or a reference changed).
CONFIG_HASH_ANNOTATION = f"{GROUP}/config-hash"

ContainerPhase = Literal["waiting", "running", "terminated"]
KilledBy = Literal["stale", "limit"]

#: ffmpeg's exit code after SIGINT/SIGTERM: a normal end for datarhei.
_SIGNALLED_EXIT = 255
_SIGNAL_BASE = 128


@dataclass(frozen=True)
class RunObservation:
    """One run Pod as last seen (``vanished``: it was seen before and is gone now)."""

    run: int
    name: str
    uid: str = ""
    #: uid in the Pod's controller ownerReference (None without one).
    owner_uid: str | None = None
    created_at: str | None = None
    #: The Pod is being deleted (deletionTimestamp set, or the operator asked for it).
    deleting: bool = False
    vanished: bool = False
    phase: str = "Pending"
    pod_ip: str | None = None
    config_hash: str | None = None
    restart_request: str | None = None
    #: ffmpeg's arguments (the agent's ``--command-json``): datarhei's ``state.command``.
    command: tuple[str, ...] = ()
    ffmpeg: ContainerPhase = "waiting"
    ffmpeg_started_at: str | None = None
    ffmpeg_finished_at: str | None = None
    exit_code: int | None = None
    #: kubelet's reason of the ffmpeg container's end (Completed, Error, OOMKilled, StartError).
    container_reason: str | None = None
    container_message: str | None = None
    #: The agent's termination message, once the agent container terminated.
    agent_reason: str | None = None
    agent_exit_code: int | None = None
    killed_by: KilledBy | None = None
    #: The Pod's own reason/message (e.g. Evicted) when it failed.
    pod_reason: str | None = None
    pod_message: str | None = None

    @property
    def ended(self) -> bool:
        """Whether this run is over: ffmpeg terminated, the Pod failed or vanished."""
        return self.ffmpeg == "terminated" or self.phase in ("Succeeded", "Failed") or self.vanished

    @property
    def running(self) -> bool:
        """Whether ffmpeg runs right now."""
        return self.ffmpeg == "running" and not self.ended

    def gone(self) -> RunObservation:
        """This observation once the Pod disappeared from the API."""
        return replace(self, vanished=True)

    def marked_deleting(self) -> RunObservation:
        return replace(self, deleting=True)


def _container_status(statuses: Sequence[Mapping[str, Any]], name: str) -> Mapping[str, Any]:
    return next((status for status in statuses if status.get("name") == name), {})


def _agent_message(status: Mapping[str, Any]) -> dict[str, Any]:
    """The agent's termination message (current or, after a sidecar restart, last state)."""
    for state in (status.get("state") or {}, status.get("lastState") or {}):
        terminated = state.get("terminated") or {}
        try:
            message = json.loads(terminated.get("message") or "")
        except ValueError:
            continue
        if isinstance(message, dict):
            return message
    return {}


def _agent_command(pod_spec: Mapping[str, Any]) -> tuple[str, ...]:
    containers: list[Mapping[str, Any]] = pod_spec.get("initContainers") or []
    agent = next((c for c in containers if c.get("name") == AGENT_CONTAINER), {})
    args = list(agent.get("args") or [])
    for flag, value in itertools.pairwise(args):
        if flag == "--command-json":
            try:
                command = json.loads(value)
            except ValueError:
                return ()
            if isinstance(command, list):
                return tuple(str(arg) for arg in command)
    return ()


def observe_run_pod(pod: Mapping[str, Any]) -> RunObservation | None:
    """The observation of a run Pod, or None when ``pod`` is not one (no process/run label)."""
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    process = labels.get(PROCESS_LABEL)
    name = meta.get("name") or ""
    run = run_from_pod_name(process, name) if process else None
    if run is None or labels.get(RUN_LABEL) != str(run):
        return None
    annotations = meta.get("annotations") or {}
    owner = next((ref for ref in meta.get("ownerReferences") or [] if ref.get("controller")), None)
    status = pod.get("status") or {}
    ffmpeg = _container_status(status.get("containerStatuses") or [], FFMPEG_CONTAINER)
    agent = _container_status(status.get("initContainerStatuses") or [], AGENT_CONTAINER)
    state = ffmpeg.get("state") or {}
    phase: ContainerPhase = "waiting"
    if "terminated" in state:
        phase = "terminated"
    elif "running" in state:
        phase = "running"
    terminated = state.get("terminated") or {}
    message = _agent_message(agent)
    killed_by = message.get("killedBy")
    exit_code = terminated.get("exitCode")
    agent_exit = message.get("exitCode")
    return RunObservation(
        run=run,
        name=name,
        uid=meta.get("uid") or "",
        owner_uid=owner.get("uid") if owner else None,
        created_at=meta.get("creationTimestamp"),
        deleting=bool(meta.get("deletionTimestamp")),
        phase=status.get("phase") or "Pending",
        pod_ip=status.get("podIP") or None,
        config_hash=annotations.get(CONFIG_HASH_ANNOTATION),
        restart_request=annotations.get(RESTART_REQUEST_ANNOTATION),
        command=_agent_command(pod.get("spec") or {}),
        ffmpeg=phase,
        ffmpeg_started_at=(state.get("running") or terminated).get("startedAt"),
        ffmpeg_finished_at=terminated.get("finishedAt"),
        exit_code=exit_code if isinstance(exit_code, int) else None,
        container_reason=terminated.get("reason"),
        container_message=terminated.get("message"),
        agent_reason=message.get("reason") if isinstance(message.get("reason"), str) else None,
        agent_exit_code=agent_exit if isinstance(agent_exit, int) else None,
        killed_by=killed_by if killed_by in ("stale", "limit") else None,
        pod_reason=status.get("reason"),
        pod_message=status.get("message"),
    )


def _exit_code(run: RunObservation) -> int | None:
    return run.exit_code if run.exit_code is not None else run.agent_exit_code


def exit_state(run: RunObservation) -> ExecState:
    """datarhei's exec state of an ended run (module docstring)."""
    code = _exit_code(run)
    if run.container_reason == "OOMKilled":
        return "killed"
    if code is None:
        if run.vanished and run.deleting:
            return "finished"  # stopped by the operator: SIGTERM, ffmpeg's exit 255
        return "killed" if run.vanished else "failed"
    if code in (0, _SIGNALLED_EXIT):
        return "finished"
    if code > _SIGNAL_BASE and run.container_reason != "StartError":
        return "killed"
    return "failed"


def exit_reason(run: RunObservation) -> str:
    """Why an ended run ended, in words: the agent's, else kubelet's, else the Pod's."""
    if run.killed_by is not None and run.agent_reason:
        return run.agent_reason
    if run.container_reason == "OOMKilled":
        return "OOMKilled: the ffmpeg container exceeded its memory limit"
    if run.container_reason == "StartError":
        return f"StartError: {run.container_message or 'ffmpeg could not be started'}"
    if run.agent_reason:
        return run.agent_reason
    code = _exit_code(run)
    if code is not None:
        if code > _SIGNAL_BASE and code != _SIGNALLED_EXIT:
            return f"ffmpeg killed by signal {code - _SIGNAL_BASE}"
        return f"ffmpeg exited with status {code}"
    if run.vanished:
        return "stopped" if run.deleting else "the run Pod was deleted"
    detail = ": ".join(part for part in (run.pod_reason, run.pod_message) if part)
    return detail or "the run Pod failed"
