"""The read calls of the Kubernetes backend: config, state, report and lists."""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Sequence

from ffmpeg_operator.api.backends.kubeindex import (
    RUN_LOG_LINES,
    RUN_POLL_S,
    SETTLE_WAIT_S,
    KubeIndex,
)
from ffmpeg_operator.api.backends.kubeviews import (
    ProcessView,
    RunView,
    process_state,
    settling_run,
    stop_line,
)
from ffmpeg_operator.core.models import (
    Process,
    ProcessConfig,
    ProcessReport,
    ProcessState,
    ReportHistoryEntry,
)

#: The config a PUT route read (``get_config``) and decoded its body onto, per request task.
READ_BASE: contextvars.ContextVar[tuple[str, str, ProcessConfig] | None] = contextvars.ContextVar(
    "ffmpeg_operator_read_base", default=None
)


class KubeReads(KubeIndex):
    """The ProcessBackend reads, from the informers and the run Pods."""

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
        return [
            self._listed_process(view, aspects, states.get(view.name), reports.get(view.name))
            for view in views
        ]

    def _listed_process(
        self,
        view: ProcessView,
        aspects: frozenset[str],
        state: ProcessState | None,
        report: ProcessReport | None,
    ) -> Process:
        """The Process of these parts: the same object as last time while they are the same
        objects (the API's wire layer then writes its JSON once, see ``process_item``).

        Building 1,000 new Process models (and their JSON, and a weak reference each) per list
        kept the request's objects alive across the collector's young generations, which moved
        them to the oldest one: a full collection (~120-300 ms with 1,000 objects cached)
        every few lists, the p99 of the list on the real apiserver.
        """
        by_aspects = self._listed.setdefault(view.name, {})
        listed = by_aspects.get(aspects)
        if listed is not None and listed[0] is view and listed[1] is state and listed[2] is report:
            return listed[3]
        # The parts are typed and valid already: no second validation of 1,000 items.
        process = Process.model_construct(
            id=view.id,
            type="ffmpeg",
            reference=view.config.reference,
            created_at=view.created_at,
            updated_at=view.updated_at,
            config=view.config if "config" in aspects else None,
            state=state,
            report=report,
            metadata=view.metadata if "metadata" in aspects else None,
        )
        by_aspects[aspects] = (view, state, report, process)
        return process

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
        READ_BASE.set((pid, view.resource_version, view.config))
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
