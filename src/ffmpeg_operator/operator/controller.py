"""The life of one FFmpegProcess in the operator: a loop that looks, decides, acts, and sleeps.

Each pass gathers what is known — the object (kopf keeps the daemon's ``body`` current), its
run Pods (kopf's index), the run ends it saw, the last progress sample — asks
:func:`ffmpeg_operator.kube.reconcile.reconcile` for a plan and carries it out. It sleeps until
something changes (the Pod and process handlers wake it), a reconnect is due, the next
progress poll is due, or :attr:`OperatorConfig.resync_interval` passed.

Progress: while a run is running, its agent's ``/state`` is polled every
:attr:`OperatorConfig.progress_interval` (30 s) seconds, the first time that long after the run
started; the status takes the coarse summary, and :func:`status_patch` writes a change of it
alone at most that often. Live figures are the agent's business (the API asks it directly).

The memory here is what the API cannot tell: when this operator saw a run end (precise, for an
exact reconnect delay), the runs it created or deleted before the watch reported them, and
the last observation of a run whose Pod vanished.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import kopf
from pydantic import ValidationError

from ffmpeg_operator.core.models import Cleanup, ProcessConfig, Progress
from ffmpeg_operator.kube.reconcile import DesiredCache, Plan, ProcessView, reconcile
from ffmpeg_operator.kube.runs import RunObservation, observe_run_pod
from ffmpeg_operator.kube.spec import config_from_cr
from ffmpeg_operator.kube.status import (
    FFmpegProcessStatus,
    ProgressSummary,
    status_patch,
    summarize_progress,
)
from ffmpeg_operator.operator.context import OperatorContext, ProcessKey
from ffmpeg_operator.operator.kubeclient import KubeApiError

__all__ = ["ProcessController"]

log = logging.getLogger(__name__)

#: How long a Pod this operator created may be missing from the watch before it counts as gone.
_PENDING_GRACE_S = 30.0
#: How long a deletion request stands before it is sent again.
_DELETE_AGAIN_S = 30.0
#: Wait before trying again after an API error.
_RETRY_S = 5.0
#: After creating a run's Pod, its "starting" status waits this long for the run to start:
#: a Pod that starts at once costs one status write (running), not two.
START_COALESCE_S = 1.0

RunIndex = Mapping[ProcessKey, Any]  # kopf.Index: key -> Store of RunObservation
SpecIndex = Mapping[tuple[str, str, str], Any]  # kopf.Index: ("spec", namespace, id) -> specs


@dataclass
class _Memory:
    """What the operator saw of the runs of one process (module docstring)."""

    seen_alive: set[int] = field(default_factory=set)
    ended_at: dict[int, datetime] = field(default_factory=dict)
    last_seen: dict[int, RunObservation] = field(default_factory=dict)
    created: dict[int, tuple[RunObservation, float]] = field(default_factory=dict)
    deleted: dict[str, float] = field(default_factory=dict)
    progress_run: int = 0
    progress: ProgressSummary | None = None
    next_poll: float = 0.0
    #: Until when the status of a run just created is held back (START_COALESCE_S).
    hold_until: float = 0.0
    #: The config (reconcile.config_key) the cleanup rules below belong to.
    config_key: str | None = None
    cleanup: tuple[Cleanup, ...] = ()
    #: Rules of a replaced config, purged once its run is over (§8.4: update purges).
    purge_pending: tuple[Cleanup, ...] = ()


def _stored_status(body: Mapping[str, Any]) -> FFmpegProcessStatus | None:
    status = body.get("status") or {}
    if "state" not in status:
        return None
    try:
        return FFmpegProcessStatus.model_validate(status)
    except ValidationError:
        return None


def _store_values(store: Any) -> list[Any]:
    return list(store) if store is not None else []


class ProcessController:
    """One FFmpegProcess's loop (module docstring); :meth:`run` is the kopf daemon's body."""

    def __init__(
        self,
        context: OperatorContext,
        body: kopf.Body,
        run_pods: RunIndex,
        processes: SpecIndex,
    ) -> None:
        self.context = context
        self.body = body
        self.key: ProcessKey = (body.metadata.namespace or "", body.metadata.name or "")
        self._run_pods = run_pods
        self._specs = processes
        self._memory = _Memory()
        self._stored = _stored_status(body)
        self._desired = DesiredCache()

    @staticmethod
    def _monotonic() -> float:
        return asyncio.get_running_loop().time()

    # ------------------------------------------------------------------ the loop

    async def run(self, stopped: kopf.DaemonStopped) -> None:
        waker = self.context.waker(self.key)
        forward = asyncio.create_task(self._wake_on_stop(stopped, waker))
        failure: str | None = None
        try:
            while not stopped:
                waker.clear()
                try:
                    delay = await self.reconcile_once()
                    failure = None
                except (aiohttp.ClientError, KubeApiError, TimeoutError) as error:
                    log.warning("%s/%s: %s; trying again", *self.key, error)
                    delay = _RETRY_S
                    if str(error) != failure:  # one event per new error, not one per retry
                        kopf.exception(self.body, reason="ApiError", exc=error)
                    failure = str(error)
                if stopped:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waker.wait(), timeout=max(0.0, delay))
        finally:
            forward.cancel()
            self.context.forget(self.key)

    @staticmethod
    async def _wake_on_stop(stopped: kopf.DaemonStopped, waker: asyncio.Event) -> None:
        await stopped.wait()
        waker.set()

    async def reconcile_once(self) -> float:
        """One pass; returns the seconds until the next one at the latest."""
        if self.body.metadata.deletion_timestamp:
            return self.context.config.resync_interval  # kopf stops us; deletion is purge's
        now = datetime.now(UTC)
        runs = self._observed_runs(now)
        progress = await self._poll_progress(runs)
        view = ProcessView(
            cr=_snapshot(self.body),
            runs=tuple(runs.values()),
            now=now,
            stored=self._stored,
            ended_at=dict(self._memory.ended_at),
            progress=progress,
        )
        config = self.context.config
        plan = reconcile(
            view, config.pods, self._lookup, history=config.history, cache=self._desired
        )
        await self._purge_replaced(plan, runs)
        retry = await self._carry_out(plan, now)
        return self._next_delay(plan, now, runs, retry)

    async def _purge_replaced(self, plan: Plan, runs: Mapping[int, RunObservation]) -> None:
        """datarhei's update deletes the old process, purging its ``purge_on_delete`` rules
        (§8.4): here once the config changed and its last run is over, before the next one."""
        memory = self._memory
        if plan.config_key is not None:
            if memory.config_key not in (None, plan.config_key):
                memory.purge_pending = memory.cleanup
            memory.config_key, memory.cleanup = plan.config_key, plan.cleanup
        if memory.purge_pending and not any(not obs.ended for obs in runs.values()):
            pending, memory.purge_pending = memory.purge_pending, ()
            deleted = await self.context.cleanup.purge_files(pending)
            if deleted:
                kopf.info(self.body, reason="Purged", message=f"{deleted} files of the old config")

    # ------------------------------------------------------------------ looking

    def _observed_runs(self, now: datetime) -> dict[int, RunObservation]:
        memory = self._memory
        mono = self._monotonic()
        indexed = {obs.run: obs for obs in _store_values(self._run_pods.get(self.key))}
        runs = dict(indexed)
        for run, (obs, at) in list(memory.created.items()):
            if run in indexed or mono - at > _PENDING_GRACE_S:
                del memory.created[run]
            else:
                runs[run] = obs
        newest = max(runs, default=0)
        for run, obs in memory.last_seen.items():
            if run not in runs and run >= newest:
                runs[run] = obs.gone()  # the newest run's Pod vanished: remember how it was
        for name, at in list(memory.deleted.items()):
            if mono - at > _DELETE_AGAIN_S:
                del memory.deleted[name]
        for run, obs in list(runs.items()):
            if obs.name in memory.deleted and not obs.deleting:
                runs[run] = obs.marked_deleting()
            if not runs[run].ended:
                memory.seen_alive.add(run)
            elif run in memory.seen_alive and run not in memory.ended_at:
                memory.ended_at[run] = now  # seen to end just now: more precise than kubelet
        newest = max(runs, default=0)
        memory.last_seen = {newest: runs[newest]} if newest else {}
        keep = set(runs)
        memory.seen_alive &= keep
        memory.ended_at = {run: at for run, at in memory.ended_at.items() if run in keep}
        return runs

    def _lookup(self, process_id: str) -> ProcessConfig | None:
        specs = _store_values(self._specs.get(("spec", self.key[0], process_id)))
        if not specs:
            return None
        try:
            return config_from_cr({"spec": specs[0]})
        except (ValidationError, ValueError):
            return None

    async def _poll_progress(self, runs: Mapping[int, RunObservation]) -> ProgressSummary | None:
        memory = self._memory
        running = [obs for obs in runs.values() if obs.running and not obs.deleting]
        if not running:
            memory.progress_run, memory.progress = 0, None
            return None
        current = max(running, key=lambda obs: obs.run)
        mono = self._monotonic()
        interval = self.context.config.progress_interval
        if current.run != memory.progress_run:
            memory.progress_run, memory.progress = current.run, None
            memory.next_poll = mono + interval
        elif mono >= memory.next_poll and current.pod_ip:
            memory.next_poll = mono + interval
            sampled = await self._ask_agent(current.pod_ip)
            if sampled is not None:
                memory.progress = sampled
        return memory.progress

    async def _ask_agent(self, pod_ip: str) -> ProgressSummary | None:
        config = self.context.config
        host = f"[{pod_ip}]" if ":" in pod_ip else pod_ip
        url = f"http://{host}:{config.pods.agent_port}/state"
        self.context.counters.agent_polls += 1
        try:
            timeout = aiohttp.ClientTimeout(total=config.agent_timeout)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url) as response,
            ):
                document = await response.json(content_type=None)
            progress = Progress.model_validate(document.get("progress") or {})
        except (aiohttp.ClientError, TimeoutError, ValueError, AttributeError) as error:
            log.info("%s/%s: no progress from %s: %s", *self.key, url, error)
            return None
        return summarize_progress(progress, datetime.now(UTC))

    # ------------------------------------------------------------------ acting

    async def _carry_out(self, plan: Plan, now: datetime) -> bool:
        """Delete, create, write the status, post events; True when something must be retried."""
        context, memory = self.context, self._memory
        namespace, name = self.key
        context.set_references(self.key, plan.references)
        context.cleanup.set_rules(self.key, plan.cleanup)
        for deletion in plan.delete:
            if deletion.name in memory.deleted:
                continue
            await context.client.delete_pod(namespace, deletion.name)
            memory.deleted[deletion.name] = self._monotonic()
            context.counters.pods_deleted += 1
        if plan.create is not None:
            try:
                created = await context.client.create_pod(namespace, plan.create)
            except KubeApiError as error:
                message = context.redactor.text(str(error))
                kopf.warn(self.body, reason="PodRejected", message=message)
                return True  # nothing changed: no status, try again later
            context.counters.pods_created += 1
            observed = observe_run_pod(created)
            if observed is not None:
                memory.created[observed.run] = (observed, self._monotonic())
            if not plan.events:
                memory.hold_until = self._monotonic() + START_COALESCE_S
        if self._holding(plan):
            return False  # the status and its events follow when the hold ends
        patch = status_patch(self._stored, plan.status, now, self.context.config.progress_interval)
        if patch is not None:
            patch = context.redactor.value(patch)
            if await context.client.patch_status(namespace, name, patch) is None:
                return False  # the object is gone
            context.counters.status_writes += 1
            self._stored = plan.status
        for note in plan.events:
            post = kopf.info if note.type == "Normal" else kopf.warn
            post(self.body, reason=note.reason, message=context.redactor.text(note.message))
        return False

    def _holding(self, plan: Plan) -> bool:
        """Whether the plan's status is a new run's "starting", still held back."""
        holding = (
            self._monotonic() < self._memory.hold_until
            and plan.status.state == "starting"
            and not plan.events
            and not plan.delete
        )
        if not holding:
            self._memory.hold_until = 0.0
        return holding

    def _next_delay(
        self, plan: Plan, now: datetime, runs: Mapping[int, RunObservation], retry: bool
    ) -> float:
        config = self.context.config
        delays = [config.resync_interval]
        if retry:
            delays.append(_RETRY_S)
        if plan.wake_at is not None:
            delays.append((plan.wake_at - now).total_seconds())
        if any(obs.running for obs in runs.values()):
            delays.append(self._memory.next_poll - self._monotonic())
        if self._memory.created:
            delays.append(1.0)  # the watch should report the new Pod any moment
        if self._memory.hold_until:
            delays.append(self._memory.hold_until - self._monotonic())
        return max(0.0, min(delays))


def _snapshot(body: kopf.Body) -> dict[str, Any]:
    """The object as it is now: kopf replaces the body's content under a running daemon, with
    new nested values (it never edits them), so a shallow copy holds still."""
    return dict(body)
