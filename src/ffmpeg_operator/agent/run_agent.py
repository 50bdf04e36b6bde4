"""One run seen from inside its Pod: progress, watchdogs, the state it reports, how it ended.

The agent finds ffmpeg, ticks :class:`~ffmpeg_operator.supervision.monitor.RunMonitor` over it
(resources, §4.7 limits, §4.6 stale timeout from ffmpeg's spawn), and keeps what ``/state``,
``/metrics`` and the termination message report. It never exits by itself: as a native
sidecar it would be restarted; kubelet stops it (SIGTERM) once ffmpeg's container ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import psutil

from ffmpeg_operator.agent.discovery import find_ffmpeg, strip_injected_flags
from ffmpeg_operator.agent.options import AgentOptions
from ffmpeg_operator.agent.target import ForeignProcess, ObservedExit
from ffmpeg_operator.agent.termination import (
    KilledBy,
    TerminationMessage,
    write_termination_message,
)
from ffmpeg_operator.core.ffmpeg.prelude import DumpCollector
from ffmpeg_operator.core.ffmpeg.progress_block import ProgressBlock
from ffmpeg_operator.core.ffmpeg.streamstats import parse_stream_stats_line
from ffmpeg_operator.core.models import ExecState, ProcessState, Progress
from ffmpeg_operator.core.progress import ProgressTracker
from ffmpeg_operator.supervision.monitor import RunMonitor
from ffmpeg_operator.supervision.sampler import NO_SAMPLE, ResourceSampler
from ffmpeg_operator.supervision.watchdogs import LimitWatchdog, StaleWatchdog

log = logging.getLogger(__name__)

#: How long a SIGTERM waits for an exit that was just noticed to be fully recorded.
_FINISH_WAIT_S = 1.0


class RunAgent:
    """The agent's view of its run. Drive it with :meth:`supervise` and :meth:`on_block`."""

    def __init__(
        self,
        options: AgentOptions,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.options = options
        self._clock = clock
        self._wall_clock = wall_clock
        self._tracker = ProgressTracker()
        # The stream dump from ffmpeg's report FIFO; per-stream entries come from it.
        self._dump = DumpCollector()
        self._streams_known = False
        self._exec: ExecState = "starting"
        self._exec_changed = wall_clock()
        self._command = list(options.command) if options.command is not None else None
        self._target: ForeignProcess | None = None
        self._monitor: RunMonitor | None = None
        self._stale: StaleWatchdog | None = None
        self._spawned_at: float | None = None  # monotonic
        self._progress_at: float | None = None  # monotonic, last real progress
        self._progress_wall: float | None = None  # the same instant in unix seconds
        self._progress_ended = False
        self._finished = asyncio.Event()
        # Discovery polls, and wakes early when the progress connection opens or closes.
        self._wake_discovery = asyncio.Event()
        self._progress_closed = False
        self.stop_reason: str | None = None
        self.killed_by: KilledBy | None = None

    # ------------------------------------------------------------------ inputs

    def on_block(self, block: ProgressBlock) -> None:
        """A completed ``-progress`` block from ffmpeg."""
        if self._exec not in ("starting", "running", "finishing"):
            return
        if not self._streams_known:
            # A filter graph with several inputs never completes the dump (Core's rule): it is
            # read again at every block then.
            self._tracker.set_streams(self._dump.dump())
            self._streams_known = self._dump.complete
        now = self._clock()
        if self._tracker.update(block.sample(), now):
            self._progress_at, self._progress_wall = now, self._wall_clock()
            if self._stale is not None:
                self._stale.progress(now)
        if block.ended:
            self._progress_ended = True

    def on_report_line(self, line: str) -> None:
        """A line of ffmpeg's report (its log at info level, whatever ``-loglevel`` says)."""
        self._dump.add(line)

    def on_stats_line(self, line: str) -> None:
        """A line of ffmpeg's per-stream statistics file."""
        packet = parse_stream_stats_line(line)
        if packet is not None and self._exec in ("starting", "running", "finishing"):
            self._tracker.add_packet(packet, self._clock())

    def on_progress_connection(self, opened: bool) -> None:
        """ffmpeg connected (it is alive right now), or closed its progress URL (it exits)."""
        if not opened and self._target is None:
            self._progress_closed = True
        self._wake_discovery.set()

    async def supervise(self) -> None:
        """Wait for ffmpeg, watch it until it exits, record how it ended."""
        process = await self._discover()
        if process is None:
            self._finish_unseen()
            return
        target = self._adopt(process)
        await target.wait()
        await self._finish(target)

    async def shutdown(self) -> TerminationMessage:
        """SIGTERM: settle what is known about ffmpeg's end, write the message, stop watching.

        ffmpeg is left alone: kubelet stops the sidecar after the main container, and when it
        does not (the Pod is deleted), ffmpeg gets its own SIGTERM.
        """
        target = self._target
        if target is not None:
            target.refresh()
        if (target is not None and not target.running) or self._progress_closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._finished.wait(), timeout=_FINISH_WAIT_S)
        message = self.termination_message()
        write_termination_message(self.options.termination_message_path, message)
        if self._monitor is not None:
            await self._monitor.close()
        if target is not None:
            await target.close()
        return message

    # ------------------------------------------------------------------ read models

    @property
    def exec_state(self) -> ExecState:
        return self._exec

    def state(self) -> ProcessState:
        """The run's datarhei state (§2.3) as far as the agent sees it."""
        now = self._wall_clock()
        alive = self._exec in ("running", "finishing")
        sample = self._monitor.latest if self._monitor is not None and alive else NO_SAMPLE
        ended = self._exec in ("finished", "failed", "killed")
        return ProcessState(
            order="start",
            exec=self._exec,
            runtime_seconds=int(max(0.0, now - self._exec_changed)),
            # Reconnects are the operator's business; the API shim fills this in.
            reconnect_seconds=-1,
            last_logline="",
            progress=Progress() if ended else self._tracker.progress,
            memory_bytes=sample.rss_bytes,
            cpu_usage=round(sample.cpu_percent, 3),
            command=list(self._command or []),
        )

    def state_document(self) -> dict[str, Any]:
        """``GET /state``: :meth:`state` as JSON plus two keys of the agent's own.

        ``stop_reason``: why the agent stopped ffmpeg (stale or limit), else null.
        ``progress_updated_at``: unix seconds (float) of the last real progress, else null.
        """
        document = self.state().model_dump(mode="json")
        document["stop_reason"] = self.stop_reason
        document["progress_updated_at"] = self._progress_wall
        return document

    def stale_seconds(self) -> float:
        """Seconds without real progress while ffmpeg runs (counted from its spawn), else 0."""
        if self._exec not in ("running", "finishing") or self._spawned_at is None:
            return 0.0
        since = self._progress_at if self._progress_at is not None else self._spawned_at
        return max(0.0, self._clock() - since)

    def termination_message(self) -> TerminationMessage:
        observed = self._target.exit if self._target is not None else None
        reason = self.stop_reason
        if reason is None and observed is not None:
            reason = _describe_exit(observed)
        return TerminationMessage(
            reason=reason,
            exit_code=None if observed is None else observed.exit_code,
            killed_by=self.killed_by,
        )

    # ------------------------------------------------------------------ internals

    def _set_exec(self, state: ExecState, at: float | None = None) -> None:
        if state != self._exec:
            self._exec = state
            self._exec_changed = self._wall_clock() if at is None else at

    async def _discover(self) -> psutil.Process | None:
        """Poll until ffmpeg shows up (kubelet starts it after the agent); None when its
        progress connection closed before it was found: the run was shorter than a poll.
        """
        options = self.options
        while True:
            # Read before the search: a close during it gets one more search.
            closed = self._progress_closed
            self._wake_discovery.clear()
            process = await asyncio.to_thread(find_ffmpeg, options.ffmpeg, options.progress_url)
            if process is not None:
                return process
            if closed:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wake_discovery.wait(), timeout=options.discovery_interval_s
                )

    def _adopt(self, process: psutil.Process) -> ForeignProcess:
        options = self.options
        spawned_wall = process.create_time()
        # The stale timer runs from ffmpeg's spawn (§4.6), which may predate its discovery.
        spawned_at = self._clock() - max(0.0, self._wall_clock() - spawned_wall)
        self._spawned_at = spawned_at
        if self._command is None:
            with contextlib.suppress(psutil.Error):
                stats_file = None if options.stats_fifo is None else str(options.stats_fifo)
                self._command = strip_injected_flags(
                    process.cmdline(), options.progress_url, stats_file
                )
        target = ForeignProcess(process, on_stop=self._on_stop, grace_s=options.stop_grace_s)
        stale = StaleWatchdog(options.stale_timeout_s, spawned_at)
        if self._progress_at is not None:
            stale.progress(max(self._progress_at, spawned_at))
        limits = LimitWatchdog(options.cpu_limit, options.memory_limit_bytes, options.waitfor_s)
        sampler = ResourceSampler(process.pid, options.cpu_capacity or None)
        monitor = RunMonitor(target, sampler, stale, limits, clock=self._clock)
        self._target, self._stale, self._monitor = target, stale, monitor
        self._set_exec("running", at=spawned_wall)
        monitor.start()
        log.info("watching ffmpeg, pid %d", process.pid)
        return target

    def _on_stop(self, reason: str | None) -> None:
        # Only the monitor stops ffmpeg; the stale reason is the one text it cannot share with
        # a limit breach.
        stale = self._stale
        self.killed_by = "stale" if stale is not None and reason == stale.reason() else "limit"
        self.stop_reason = reason
        self._set_exec("finishing")
        log.warning("stopping ffmpeg: %s", reason)
        write_termination_message(self.options.termination_message_path, self.termination_message())

    async def _finish(self, target: ForeignProcess) -> None:
        if self._monitor is not None:
            await self._monitor.close()
        observed = target.exit
        self._tracker.reset()
        self._set_exec(self._exit_state(target, observed))
        log.info("ffmpeg ended: %s", _describe_exit(observed) if observed else "unknown")
        write_termination_message(self.options.termination_message_path, self.termination_message())
        self._finished.set()

    def _finish_unseen(self) -> None:
        self._tracker.reset()
        self._set_exec("finished" if self._progress_ended else "failed")
        log.info("ffmpeg ended before it was found (progress ended: %s)", self._progress_ended)
        write_termination_message(self.options.termination_message_path, self.termination_message())
        self._finished.set()

    def _exit_state(self, target: ForeignProcess, observed: ObservedExit | None) -> ExecState:
        if observed is not None and observed.exec_state is not None:
            return observed.exec_state
        # Reaped before we could read the status: judge from what we did and saw.
        if target.sigkill_sent:
            return "killed"
        if target.stopping or self._progress_ended:
            return "finished"  # ffmpeg's answer to SIGINT is 255, and 255 is "finished"
        return "failed"


def _describe_exit(observed: ObservedExit) -> str | None:
    code = observed.returncode
    if code is None:
        return None
    if code < 0:
        return f"ffmpeg killed by signal {-code}"
    return f"ffmpeg exited with status {code}"
