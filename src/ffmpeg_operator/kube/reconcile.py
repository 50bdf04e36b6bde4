"""What the operator does for one FFmpegProcess, decided from what it sees (design §4, §5).

:func:`reconcile` takes the custom resource, its run Pods (:class:`~.runs.RunObservation`),
the status last written, the time and a few facts only the operator's memory holds (when it
saw a run end, the last progress sample) and returns a :class:`Plan`: the Pod to create, the
Pods to delete, the status to hold, when to look again, the events to post. It does no I/O;
the kopf handlers carry the plan out, so every rule below is tested as a table.

The rules, datarhei's order/exec model mapped onto one Pod per run (spec §3.5, §4):

- ``desiredState: stopped``: every run Pod still running is deleted (ffmpeg gets SIGTERM and
  exits 255, "finished"); ``status.order`` becomes ``stop``.
- ``desiredState: running`` and ``status.order`` is ``stop`` (a new object, or after a stop):
  a fresh start, run N+1 is created at once, once the previous run has ended.
- A running run is replaced (deleted, then the next run created at once) when it is outdated:
  its config fingerprint (the spec without ``desiredState``/``restartRequest``, plus the
  resolved ffmpeg command, so a changed reference counts) differs from the current one.
- ``restartRequest`` differs from the token the running run was built with: that run is
  deleted (datarhei's restart); it comes back only through reconnect.
- A run ended (any exit) under ``order: start``: with ``reconnect`` the next run is created
  ``reconnectDelaySeconds`` after the end, exactly; without, the process stays down until the
  order changes (``stopped`` then ``running``) or the config does.
- An invalid config or an unresolved reference starts nothing and stops nothing (a running
  run keeps running, as datarhei keeps it on a failed reload); the conditions say why.
- Ended runs beyond the newest :data:`HISTORY_RUNS` are deleted (the report history), and so
  are Pods owned by another object of the same name (strays).

``status.order`` is the order the operator has carried out: ``start`` once a run was created
for it, ``stop`` once a stop was carried out. The status conditions:

- ``Ready``: the process is where ``desiredState`` wants it: ffmpeg running, or no run left;
- ``Running``: ffmpeg runs;
- ``Stalled`` / ``LimitExceeded``: the latest run was stopped by the agent's stale timeout /
  limit rule (or killed by the kernel's OOM killer);
- ``ConfigValid``, ``ReferencesResolved``: whether the spec can be compiled into a Pod.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError

from ffmpeg_operator.core.errors import ConfigError
from ffmpeg_operator.core.models import Cleanup, ExecState, ProcessConfig
from ffmpeg_operator.core.placeholders import resolve_placeholders
from ffmpeg_operator.core.references import ConfigLookup, parse_reference
from ffmpeg_operator.kube.names import PROCESS_LABEL, RUN_LABEL, pod_name
from ffmpeg_operator.kube.pod import OperatorSettings, build_run_pod, placeholder_settings
from ffmpeg_operator.kube.runs import (
    CONFIG_HASH_ANNOTATION,
    RunObservation,
    exit_reason,
    exit_state,
)
from ffmpeg_operator.kube.spec import FFmpegProcessSpec, config_from_cr, spec_of, stable_io_ids
from ffmpeg_operator.kube.status import (
    Condition,
    ConditionStatus,
    FFmpegProcessStatus,
    ProgressSummary,
    find_condition,
    parse_time,
    rfc3339,
    set_condition,
)

__all__ = [
    "HISTORY_RUNS",
    "REFERENCE_RETRY_SECONDS",
    "DeletionCause",
    "DesiredCache",
    "EventNote",
    "Plan",
    "PodDeletion",
    "ProcessView",
    "cleanup_rules",
    "config_fingerprint",
    "config_key",
    "reconcile",
]

#: Finished run Pods kept as the report history.
HISTORY_RUNS = 3
#: How soon an unresolved reference is tried again even if nothing announced a change.
REFERENCE_RETRY_SECONDS = 10.0

DeletionCause = Literal["stop", "restart", "update", "history", "stray"]
CreationCause = Literal["start", "reconnect", "update"]

_ALIVE: frozenset[ExecState] = frozenset({"starting", "running", "finishing"})
_ENDED: frozenset[ExecState] = frozenset({"finished", "failed", "killed"})
_REFERENCE_ERROR = "reference error"


@dataclass(frozen=True)
class PodDeletion:
    """A run Pod to delete (gracefully) and why."""

    name: str
    run: int
    cause: DeletionCause


@dataclass(frozen=True)
class EventNote:
    """A Kubernetes Event to post on the FFmpegProcess."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclass(frozen=True)
class ProcessView:
    """What the operator knows about one FFmpegProcess right now.

    ``ended_at``: when the operator saw runs end (more precise than kubelet's whole-second
    ``finishedAt``, which is the fallback). ``progress``: the last sample of the running run.
    """

    cr: Mapping[str, Any]
    runs: Sequence[RunObservation]
    now: datetime
    stored: FFmpegProcessStatus | None = None
    ended_at: Mapping[int, datetime] = field(default_factory=dict)
    progress: ProgressSummary | None = None


@dataclass(frozen=True)
class Plan:
    """What to do now. ``status`` is the full observed status (compare it with the stored one
    through :func:`~ffmpeg_operator.kube.status.status_patch`)."""

    status: FFmpegProcessStatus
    create: dict[str, Any] | None = None
    delete: tuple[PodDeletion, ...] = ()
    #: When to reconcile again at the latest (a reconnect or a retry is due).
    wake_at: datetime | None = None
    events: tuple[EventNote, ...] = ()
    #: IDs of the processes this one references (a change of one of them matters here).
    references: frozenset[str] = frozenset()
    #: The cleanup rules of the config, placeholders resolved (§8).
    cleanup: tuple[Cleanup, ...] = ()
    #: :func:`config_key` of the spec (None when it cannot be read).
    config_key: str | None = None


# --------------------------------------------------------------------------- the config


def _essence(spec: FFmpegProcessSpec) -> Any:
    return spec.model_dump(mode="json", by_alias=True, exclude={"desired_state", "restart_request"})


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:20]


def config_fingerprint(spec: FFmpegProcessSpec, command: Sequence[str]) -> str:
    """What makes two runs the same: the spec without the order fields, and ffmpeg's command
    (which carries resolved references and placeholders)."""
    return _digest([_essence(spec), list(command)])


def config_key(spec: FFmpegProcessSpec) -> str:
    """The config as datarhei's update sees it: the spec without the order fields. A change
    of it is an update (§8.4: the replaced config's ``purgeOnDelete`` rules purge)."""
    return _digest(_essence(spec))


def _referenced_ids(config: ProcessConfig) -> set[str]:
    found = set()
    for io in config.input:
        reference = parse_reference(io.address) if io.address.startswith("#") else None
        if reference is not None:
            found.add(reference[0])
    return found


def cleanup_rules(cr: Mapping[str, Any], settings: OperatorSettings) -> tuple[Cleanup, ...]:
    """The cleanup rules of an FFmpegProcess with ``{processid}``/``{outputid}``/... resolved;
    none when the spec cannot be read (the rules do not depend on references)."""
    try:
        config = stable_io_ids(config_from_cr(cr))
        resolved = resolve_placeholders(config, placeholder_settings(settings))
    except (ValidationError, ConfigError, ValueError):
        return ()
    return tuple(rule for output in resolved.output for rule in output.cleanup)


@dataclass(frozen=True)
class _Desired:
    """The run the spec asks for, or why there is none."""

    spec: FFmpegProcessSpec | None
    manifest: dict[str, Any] | None = None
    command: tuple[str, ...] = ()
    fingerprint: str | None = None
    config_error: str | None = None
    reference_error: str | None = None
    references: frozenset[str] = frozenset()
    cleanup: tuple[Cleanup, ...] = ()
    config_key: str | None = None


class DesiredCache:
    """The last desired run of one process, by everything it was built from.

    Building it (parsing, placeholders, references, validation, the Pod) is most of a pass's
    cost, and most passes ask for the same run again, or for the next run number of the same
    config: a Pod or status event, a resync, the run after the one just created.
    """

    def __init__(self) -> None:
        self._key: tuple[Any, ...] | None = None
        self._value: _Desired | None = None

    def get(
        self, cr: Mapping[str, Any], run: int, settings: OperatorSettings, lookup: ConfigLookup
    ) -> _Desired:
        meta = cr.get("metadata") or {}
        references = self._value.references if self._value is not None else frozenset()
        referenced = tuple(
            (pid, None if (found := lookup(pid)) is None else found.model_dump_json())
            for pid in sorted(references)
        )
        key = (
            json.dumps(cr.get("spec"), sort_keys=True, default=str),
            cr.get("apiVersion"),
            *(meta.get(field) for field in ("name", "namespace", "uid", "generation")),
            id(settings),
            referenced,
        )
        if key != self._key or self._value is None:
            self._value = _desired(cr, run, settings, lookup)
            self._key = key
        elif self._value.manifest is not None:
            self._value = replace(self._value, manifest=_renumbered(self._value.manifest, run))
        return self._value


def _renumbered(manifest: dict[str, Any], run: int) -> dict[str, Any]:
    """The same Pod for another run: only its name and run label differ."""
    metadata = manifest["metadata"]
    labels = metadata["labels"]
    if labels.get(RUN_LABEL) == str(run):
        return manifest
    return {
        **manifest,
        "metadata": {
            **metadata,
            "name": pod_name(labels[PROCESS_LABEL], run),
            "labels": {**labels, RUN_LABEL: str(run)},
        },
    }


def _desired(
    cr: Mapping[str, Any], run: int, settings: OperatorSettings, lookup: ConfigLookup
) -> _Desired:
    try:
        spec = spec_of(cr)
        config = config_from_cr(cr)
    except (ValidationError, ValueError) as error:
        return _Desired(spec=None, config_error=f"the spec cannot be read: {error}")
    asked: set[str] = set()
    key = config_key(spec)

    def recording(pid: str) -> ProcessConfig | None:
        asked.add(pid)
        return lookup(pid)

    references = frozenset(_referenced_ids(config))
    try:
        run_pod = build_run_pod(cr, run, settings, recording)
    except ConfigError as error:
        text = str(error)
        refs = references | asked
        cleanup = cleanup_rules(cr, settings)
        failed = _Desired(spec=spec, references=refs, cleanup=cleanup, config_key=key)
        if text.startswith(_REFERENCE_ERROR):
            return replace(failed, reference_error=text)
        return replace(failed, config_error=text)
    command = tuple(run_pod.prepared.command)
    fingerprint = config_fingerprint(spec, command)
    manifest = run_pod.manifest
    manifest["metadata"]["annotations"][CONFIG_HASH_ANNOTATION] = fingerprint
    resolved = run_pod.prepared.resolved
    return _Desired(
        spec=spec,
        manifest=manifest,
        command=command,
        fingerprint=fingerprint,
        references=references | asked,
        cleanup=tuple(rule for output in resolved.output for rule in output.cleanup),
        config_key=key,
    )


# --------------------------------------------------------------------------- decisions


def _ended_at(run: RunObservation, view: ProcessView) -> datetime:
    seen = view.ended_at.get(run.run)
    if seen is not None:
        return seen
    if run.ffmpeg_finished_at:
        return parse_time(run.ffmpeg_finished_at)
    stored = view.stored
    if stored is not None and stored.run == run.run and stored.ended_at:
        return parse_time(stored.ended_at)
    return view.now


def _vanished_run(view: ProcessView, name: str) -> RunObservation | None:
    """The stored run, when the status says it was alive but its Pod is gone."""
    stored = view.stored
    if stored is None or stored.run < 1 or stored.state not in _ALIVE:
        return None
    return RunObservation(
        run=stored.run,
        name=pod_name(name, stored.run),
        vanished=True,
        deleting=stored.order == "stop",
        command=tuple(stored.command),
    )


@dataclass
class _Decision:
    create: CreationCause | None = None
    delete: list[PodDeletion] = field(default_factory=list)
    wake_at: datetime | None = None
    waiting_for_reconnect: bool = False


def _decide_running(  # noqa: PLR0917 - the facts of one decision
    view: ProcessView,
    desired: _Desired,
    latest: RunObservation | None,
    stored_order: str,
    never_ran: bool,
    decision: _Decision,
) -> None:
    """``desiredState: running``: keep a run going per the module docstring's rules."""
    spec = desired.spec
    assert spec is not None
    if latest is not None and not latest.ended:
        if latest.deleting:
            return  # wait for its end
        outdated = (
            desired.fingerprint is not None
            and latest.config_hash is not None
            and latest.config_hash != desired.fingerprint
        )
        if outdated:
            decision.delete.append(PodDeletion(latest.name, latest.run, "update"))
        elif latest.restart_request != spec.restart_request:
            decision.delete.append(PodDeletion(latest.name, latest.run, "restart"))
        return
    if desired.manifest is None:
        return  # nothing can start; the conditions say why
    if stored_order == "stop" or never_ran:
        decision.create = "start"
        return
    if latest is None:
        # Under order start, but the run Pods are gone (deleted by someone): the stored end.
        stored = view.stored
        ended = parse_time(stored.ended_at) if stored and stored.ended_at else view.now
    elif latest.config_hash is not None and latest.config_hash != desired.fingerprint:
        decision.create = "update"
        return
    else:
        ended = _ended_at(latest, view)
    if not spec.reconnect:
        return
    due = ended + timedelta(seconds=spec.reconnect_delay_seconds)
    if view.now >= due:
        decision.create = "reconnect"
    else:
        decision.wake_at = due
        decision.waiting_for_reconnect = True


def reconcile(
    view: ProcessView,
    settings: OperatorSettings,
    lookup: ConfigLookup,
    *,
    history: int = HISTORY_RUNS,
    cache: DesiredCache | None = None,
) -> Plan:
    """The plan for one FFmpegProcess (module docstring). ``lookup(id)`` gives the config of
    another process in the namespace, for references; ``cache`` keeps the desired run of
    the process between passes."""
    meta = view.cr.get("metadata") or {}
    name = str(meta.get("name") or "")
    uid = meta.get("uid")
    stored = view.stored
    stored_order = stored.order if stored is not None else "stop"

    strays = [r for r in view.runs if uid and r.owner_uid not in (None, uid)]
    runs = sorted((r for r in view.runs if r not in strays), key=lambda r: r.run)
    latest = runs[-1] if runs else _vanished_run(view, name)
    last_run = max(latest.run if latest else 0, stored.run if stored else 0)
    if cache is not None:
        desired = cache.get(view.cr, last_run + 1, settings, lookup)
    else:
        desired = _desired(view.cr, last_run + 1, settings, lookup)

    decision = _Decision()
    decision.delete.extend(
        PodDeletion(r.name, r.run, "stray") for r in strays if not (r.deleting or r.vanished)
    )
    running_wanted = desired.spec is not None and desired.spec.desired_state == "running"
    if desired.spec is not None and not running_wanted:
        decision.delete.extend(
            PodDeletion(r.name, r.run, "stop") for r in runs if not (r.ended or r.deleting)
        )
    elif running_wanted:
        _decide_running(view, desired, latest, stored_order, last_run == 0, decision)

    finished = [r for r in runs if r.ended and not (r.deleting or r.vanished)]
    decision.delete.extend(
        PodDeletion(r.name, r.run, "history") for r in finished[: max(0, len(finished) - history)]
    )

    created_run = last_run + 1 if decision.create else None
    create = desired.manifest if decision.create else None
    status = _status(view, desired, runs, latest, decision, created_run, stored_order)
    events = _events(stored, status, decision, latest, created_run)
    wake_at = decision.wake_at
    if desired.reference_error is not None:
        retry = view.now + timedelta(seconds=REFERENCE_RETRY_SECONDS)
        wake_at = retry if wake_at is None else min(wake_at, retry)
    return Plan(
        status=status,
        create=create,
        delete=tuple(decision.delete),
        wake_at=wake_at,
        events=events,
        references=desired.references,
        cleanup=desired.cleanup,
        config_key=desired.config_key,
    )


# --------------------------------------------------------------------------- the status


def _state_of(
    latest: RunObservation | None, created: bool, stored: FFmpegProcessStatus | None
) -> ExecState:
    if created:
        return "starting"
    if latest is None:
        # Never ran, or the ended runs' Pods are gone: what the status said.
        return stored.state if stored is not None and stored.state in _ENDED else "finished"
    if latest.ended:
        return exit_state(latest)
    if latest.deleting:
        return "finishing"
    return "running" if latest.running else "starting"


def _status(  # noqa: PLR0917 - the facts the status is made of
    view: ProcessView,
    desired: _Desired,
    runs: Sequence[RunObservation],
    latest: RunObservation | None,
    decision: _Decision,
    created_run: int | None,
    stored_order: str,
) -> FFmpegProcessStatus:
    stored = view.stored
    now = view.now
    running_wanted = desired.spec is not None and desired.spec.desired_state == "running"
    alive = latest is not None and not latest.ended
    state = _state_of(latest, created_run is not None, stored)

    if desired.spec is None:
        order = stored_order
    elif not running_wanted:
        order = "stop"
    elif created_run is not None or (alive and latest is not None and not latest.deleting):
        order = "start"
    else:
        order = stored_order

    ended_runs = [r for r in (*runs, *([latest] if latest and latest.vanished else [])) if r.ended]
    last_ended = max(ended_runs, key=lambda r: r.run) if ended_runs else None

    if created_run is not None:
        run = created_run
        started_at: str | None = rfc3339(now)
        command = list(desired.command)
    elif latest is not None:
        run = latest.run
        started_at = (
            latest.ffmpeg_started_at
            or latest.created_at
            or (stored.started_at if stored is not None and stored.run == latest.run else None)
        )
        command = list(latest.command) or (list(stored.command) if stored else [])
    else:
        run = stored.run if stored is not None else 0
        started_at = stored.started_at if stored is not None else None
        command = list(stored.command) if stored is not None and stored.command else []
    if last_ended is not None:
        ended_at: str | None = rfc3339(_ended_at(last_ended, view))
        exit_text: str | None = exit_reason(last_ended)
        exit_code = last_ended.exit_code
        if exit_code is None:
            exit_code = last_ended.agent_exit_code
    else:
        ended_at = stored.ended_at if stored is not None else None
        exit_text = stored.last_exit_reason if stored is not None else None
        exit_code = stored.last_exit_code if stored is not None else None

    progress = ProgressSummary()
    if state == "running":
        if view.progress is not None:
            progress = view.progress
        elif stored is not None and stored.run == run and stored.state == "running":
            progress = stored.progress

    # Stalled/LimitExceeded tell of the last run that ended until a later one runs.
    conditions = _conditions(
        stored.conditions if stored is not None else [],
        desired,
        state,
        running_wanted,
        last_ended if state != "running" else None,
        decision,
        now,
        view.cr.get("metadata", {}).get("generation"),
    )
    return FFmpegProcessStatus(
        state=state,
        order="start" if order == "start" else "stop",
        run=run,
        started_at=started_at,
        ended_at=ended_at,
        running_since=started_at if state == "running" else None,
        last_exit_reason=exit_text,
        last_exit_code=exit_code,
        restarts=max(0, run - 1),
        observed_generation=view.cr.get("metadata", {}).get("generation"),
        conditions=conditions,
        progress=progress,
        command=command,
    )


def _conditions(  # noqa: PLR0917 - the facts the conditions are made of
    conditions: list[Condition],
    desired: _Desired,
    state: ExecState,
    running_wanted: bool,
    ended: RunObservation | None,
    decision: _Decision,
    now: datetime,
    generation: int | None,
) -> list[Condition]:
    def put(kind: Any, status: ConditionStatus, reason: str, message: str = "") -> None:
        nonlocal conditions
        conditions = set_condition(conditions, kind, status, reason, message, now, generation)

    alive = state in _ALIVE
    if running_wanted:
        if state == "running":
            put("Ready", "True", "Running")
        elif desired.config_error is not None:
            put("Ready", "False", "InvalidConfig", desired.config_error)
        elif desired.reference_error is not None:
            put("Ready", "False", "ReferencesUnresolved", desired.reference_error)
        elif decision.waiting_for_reconnect:
            put("Ready", "False", "WaitingForReconnect")
        else:
            put("Ready", "False", state.capitalize() if alive else "NotRunning")
    elif desired.spec is not None:
        put("Ready", "False" if alive else "True", "Stopping" if alive else "Stopped")
    else:
        put("Ready", "False", "InvalidConfig", desired.config_error or "")

    put("Running", "True" if state == "running" else "False", state.capitalize())

    if ended is not None and ended.killed_by == "stale":
        put("Stalled", "True", "StaleTimeout", exit_reason(ended))
    else:
        put("Stalled", "False", "NotStalled")
    if ended is not None and ended.killed_by == "limit":
        put("LimitExceeded", "True", "LimitExceeded", exit_reason(ended))
    elif ended is not None and ended.container_reason == "OOMKilled":
        put("LimitExceeded", "True", "OOMKilled", exit_reason(ended))
    else:
        put("LimitExceeded", "False", "WithinLimits")

    if desired.config_error is not None:
        put("ConfigValid", "False", "InvalidConfig", desired.config_error)
    elif desired.reference_error is not None:
        put("ConfigValid", "Unknown", "ReferencesUnresolved")
    else:
        put("ConfigValid", "True", "Valid")

    if desired.reference_error is not None:
        put("ReferencesResolved", "False", "UnresolvedReference", desired.reference_error)
    elif desired.config_error is not None and desired.references:
        put("ReferencesResolved", "Unknown", "InvalidConfig")
    else:
        put("ReferencesResolved", "True", "Resolved" if desired.references else "NoReferences")
    return conditions


# --------------------------------------------------------------------------- events

#: Events of a new run's Pod, by why it was created. A plain start posts none: the run's
#: "Running" event follows (one event per run start keeps a thousand starts cheap).
_CREATE_REASONS: dict[CreationCause, str] = {
    "reconnect": "Reconnecting",
    "update": "Updating",
}
_DELETE_REASONS: dict[DeletionCause, tuple[str, str]] = {
    "stop": ("Stopping", "desiredState is stopped"),
    "restart": ("Restarting", "restartRequest changed"),
    "update": ("Updating", "the config changed"),
}


def _condition_turned(
    stored: FFmpegProcessStatus | None, status: FFmpegProcessStatus, kind: str, value: str
) -> Condition | None:
    new = find_condition(status.conditions, kind)
    if new is None or new.status != value:
        return None
    old = find_condition(stored.conditions, kind) if stored is not None else None
    return new if old is None or old.status != value else None


def _events(
    stored: FFmpegProcessStatus | None,
    status: FFmpegProcessStatus,
    decision: _Decision,
    latest: RunObservation | None,
    created_run: int | None,
) -> tuple[EventNote, ...]:
    notes: list[EventNote] = []
    before_run = stored.run if stored is not None else 0
    before_state = stored.state if stored is not None else "finished"
    if (
        latest is not None
        and latest.ended
        and (before_run < latest.run or (before_run == latest.run and before_state in _ALIVE))
    ):
        state = exit_state(latest)
        notes.append(
            EventNote(
                "Normal" if state == "finished" else "Warning",
                state.capitalize(),
                f"run {latest.run}: {exit_reason(latest)}",
            )
        )
    for deletion in decision.delete:
        if deletion.cause in _DELETE_REASONS:
            reason, why = _DELETE_REASONS[deletion.cause]
            notes.append(EventNote("Normal", reason, f"run {deletion.run}: {why}"))
    if created_run is not None and decision.create is not None:
        if decision.create in _CREATE_REASONS:
            reason = _CREATE_REASONS[decision.create]
            notes.append(EventNote("Normal", reason, f"run {created_run}: created"))
    elif status.state == "running" and (before_run != status.run or before_state != "running"):
        notes.append(EventNote("Normal", "Running", f"run {status.run}: ffmpeg is running"))
    for kind in ("Stalled", "LimitExceeded"):
        turned = _condition_turned(stored, status, kind, "True")
        if turned is not None:
            notes.append(EventNote("Warning", turned.reason, turned.message))
    for kind in ("ConfigValid", "ReferencesResolved"):
        turned = _condition_turned(stored, status, kind, "False")
        if turned is not None:
            notes.append(EventNote("Warning", turned.reason, turned.message))
    return tuple(notes)
