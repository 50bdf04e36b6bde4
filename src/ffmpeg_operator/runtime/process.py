"""One supervised process of the local runtime: its exec state machine and its runs (spec §4).

A :class:`LocalProcess` owns the stored config, the order (intent), the current ffmpeg run and
the report of the current and earlier runs. The engine decides *what* to do (commands, update,
delete); this class does it with datarhei's exact lifecycle:

- exec states ``finished → starting → running → finishing → finished|failed|killed`` (§4.2);
- stop = SIGINT, SIGKILL after 5 s; exit 255 after SIGINT counts as finished (§4.3);
- after every exit with order ``start`` and ``reconnect`` on, the next run starts after exactly
  ``reconnect_delay_seconds`` (§4.4); a stop, update or delete cancels that timer;
- stale and limit watchdogs (shared with the Kubernetes agent) stop a run with a reason that
  lands in the report log.

Counters come from ffmpeg's ``-progress`` channel, not from stderr, so progress works at every
log level, for audio-only outputs and for ``-filter_complex`` graphs (datarhei cannot, §4.6).
The per-stream entries come from ffmpeg's stream dump, on stderr at ``-loglevel info`` and
above, below that from ffmpeg's report (``FFREPORT``, its own pipe), which holds the dump at
every level; their live counters come from a per-stream statistics pipe (``-stats_mux_pre`` on
ffmpeg ≥ 6.1, ``-vstats_file`` before).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from ffmpeg_operator.core.argv import instrumented_argv, stderr_shows_stream_dump
from ffmpeg_operator.core.ffmpeg import ProgressBlockParser, StockStderr
from ffmpeg_operator.core.ffmpeg.prelude import DumpCollector
from ffmpeg_operator.core.ffmpeg.streamstats import parse_stream_stats_line, supports_mux_stats
from ffmpeg_operator.core.models import (
    ExecState,
    Process,
    ProcessConfig,
    ProcessReport,
    ProcessState,
    Progress,
    ReportHistoryEntry,
)
from ffmpeg_operator.core.prepare import PreparedProcess
from ffmpeg_operator.core.progress import ProgressTracker
from ffmpeg_operator.core.report import archive_run
from ffmpeg_operator.supervision.logring import LogRing
from ffmpeg_operator.supervision.monitor import RunMonitor
from ffmpeg_operator.supervision.run import FFmpegRun, FFmpegSpawnError
from ffmpeg_operator.supervision.sampler import NO_SAMPLE, ResourceSampler, cpu_capacity
from ffmpeg_operator.supervision.skills import binary_version
from ffmpeg_operator.supervision.watchdogs import LimitWatchdog, StaleWatchdog

log = logging.getLogger(__name__)

MIB = 1024 * 1024


@dataclass
class RunReport:
    """Prelude and log of one run (the report's current entry)."""

    created_at: int
    stderr: StockStderr = field(default_factory=StockStderr)
    log: LogRing = field(default_factory=LogRing)
    #: The stream dump as ffmpeg's report has it (at every log level).
    dump: DumpCollector = field(default_factory=DumpCollector)

    def entry(self) -> ReportHistoryEntry:
        return ReportHistoryEntry(
            created_at=self.created_at, prelude=self.stderr.prelude(), log=self.log.entries()
        )


@dataclass(frozen=True)
class RunSettings:
    """Server-wide knobs of a run."""

    binary: str
    stop_grace_s: float = 5.0
    max_history: int = 3
    log_lines: int = 50


def _injected_flags(progress_url: str) -> list[str]:
    """``-nostdin``, ``-nostats`` and the progress pipe in front of the config's arguments.

    ``-nostats``: the counters come from ``-progress``; the stats line ffmpeg would also print
    twice a second to stderr and to the report (the same line, read and dropped twice) made
    two of the three wake-ups of the server per report (bench/README.md). ffmpeg still
    prints the last one at exit, and a config's own ``-stats`` wins (it comes later).
    """
    return ["-nostdin", "-nostats", "-progress", progress_url]


def _stopped_progress() -> Progress:
    # Every field given: model_construct would otherwise inspect each default factory.
    return Progress.model_construct(
        inputs=[],
        outputs=[],
        frame=0,
        packet=0,
        fps=0.0,
        q=0.0,
        size_kb=0,
        time=0.0,
        bitrate_kbit=0.0,
        speed=0.0,
        drop=0,
        dup=0,
    )


#: The release of each ffmpeg binary run so far (the binary does not change under us).
_VERSIONS: dict[str, str] = {}


async def _version(binary: str) -> str:
    # Asked once per binary in a thread (it runs ffmpeg); every later start, the answer at once:
    # a hand-off to a thread per start cost each start request a wake-up of the loop.
    known = _VERSIONS.get(binary)
    if known is None:
        known = _VERSIONS[binary] = await asyncio.to_thread(binary_version, binary)
    return known


#: How long the CPU capacity (cgroup quota files, CPU count) is taken as read.
CAPACITY_TTL_S = 10.0
_capacity_read: tuple[float, float] | None = None  # (monotonic time, capacity)


def _capacity() -> float:
    """:func:`cpu_capacity`, read again at most every :data:`CAPACITY_TTL_S`: three file reads
    per start were a tenth of a start request's own time (profiled)."""
    global _capacity_read  # noqa: PLW0603 - one value for the whole process
    now = time.monotonic()
    if _capacity_read is None or now - _capacity_read[0] > CAPACITY_TTL_S:
        _capacity_read = (now, cpu_capacity())
    return _capacity_read[1]


class LocalProcess:
    """A process of the embedded engine. All methods run in the engine's event loop."""

    def __init__(
        self,
        config: ProcessConfig,
        prepared: PreparedProcess | None,
        settings: RunSettings,
        *,
        created_at: int,
        updated_at: int,
        order: str = "stop",
        metadata: dict[str, Any] | None = None,
        history: list[ReportHistoryEntry] | None = None,
        invalid_reason: str = "",
    ) -> None:
        self.config = config
        self.prepared = prepared
        self.invalid_reason = invalid_reason
        self.settings = settings
        self.created_at = created_at
        self.updated_at = updated_at
        self.order = order
        self.metadata = metadata
        self.history: list[ReportHistoryEntry] = list(history or [])
        self.restarts = 0
        self._exec: ExecState = "finished"
        self._exec_changed = time.time()
        self._report = RunReport(created_at=int(time.time()), log=LogRing(settings.log_lines))
        # Read models are values: while nothing they show changed, the same object is handed
        # out again, so the wire layer serialises it once (lists of hundreds of processes).
        self._log_version = 0
        self._state_cache: tuple[tuple[object, ...], ProcessState] | None = None
        self._report_cache: tuple[tuple[object, ...], ProcessReport] | None = None
        self._views: dict[frozenset[str], tuple[tuple[object, ...], Process]] = {}
        self._tracker = ProgressTracker(
            [io.id for io in config.input], [io.id for io in config.output]
        )
        self._blocks = ProgressBlockParser()
        self._streams_known = False
        self._reads_report = True
        self._run: FFmpegRun | None = None
        self._monitor: RunMonitor | None = None
        self._waiter: asyncio.Task[None] | None = None
        self._reconnect: asyncio.Task[None] | None = None
        self._closed = False
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------------ identity

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def valid(self) -> bool:
        return self.prepared is not None

    @property
    def exec(self) -> ExecState:
        return self._exec

    @property
    def running(self) -> bool:
        return self._run is not None and self._run.running

    # ------------------------------------------------------------------ commands

    async def start(self) -> None:
        """Start a run now unless one is alive (order handling is the engine's)."""
        async with self._lock:
            self._cancel_reconnect()
            if self._run is None or not self._run.running:
                await self._spawn()

    async def stop(self, reason: str | None = None) -> None:
        """Stop the current run (SIGINT, SIGKILL after the grace) and wait for its exit."""
        async with self._lock:
            self._cancel_reconnect()
            await self._stop_run(reason)

    async def restart(self) -> None:
        """Core's restart: interrupt a running ffmpeg; only reconnect brings it back (§3.5)."""
        async with self._lock:
            if self._run is not None and self._run.running:
                await self._stop_run("restart requested")

    async def close(self, reason: str | None = None) -> None:
        """Stop for good (delete, update, shutdown): no reconnect will follow."""
        self._closed = True
        await self.stop(reason)

    def adopt_history(self, previous: LocalProcess) -> None:
        """Take the report history of the process this one replaces (update, §3.3)."""
        self.history = list(previous.history)
        self.restarts = previous.restarts

    # ------------------------------------------------------------------ read models

    def state(self, now: float | None = None) -> ProcessState:
        now = time.time() if now is None else now
        if self.running:
            return self._build_state(now)
        key = (
            int(now - self._exec_changed),
            self.order,
            self._exec,
            id(self.prepared),
            self._log_version,
            self.config.reconnect,
        )
        if self._state_cache is None or self._state_cache[0] != key:
            self._state_cache = (key, self._build_state(now))
        return self._state_cache[1]

    def _build_state(self, now: float) -> ProcessState:
        if self.prepared is None:
            # An invalid task (dangling reference at load): Core returns an empty state.
            return ProcessState.model_construct(
                order="",
                exec="",
                runtime_seconds=0,
                reconnect_seconds=0,
                last_logline="",
                progress=_stopped_progress(),
                memory_bytes=0,
                cpu_usage=0.0,
                command=None,
            )
        since = max(0.0, now - self._exec_changed)
        reconnect_seconds = -1
        if (
            self.order == "start"
            and not self.running
            and self.config.reconnect
            and self._exec not in ("starting", "running", "finishing")
        ):
            reconnect_seconds = max(0, int(self.config.reconnect_delay_seconds - since))
        sample = self._monitor.latest if self._monitor is not None and self.running else NO_SAMPLE
        progress = self._tracker.progress if self.running else _stopped_progress()
        # Read models are built from trusted values: skipping validation keeps listing 200
        # processes cheap (bench/embedded.py, figure b).
        return ProcessState.model_construct(
            order="start" if self.order == "start" else "stop",
            exec=self._exec,
            runtime_seconds=int(since),
            reconnect_seconds=reconnect_seconds,
            last_logline=self._report.log.last_line,
            progress=progress,
            memory_bytes=sample.rss_bytes,
            cpu_usage=round(sample.cpu_percent, 3),
            command=list(self.prepared.command),
        )

    def view(self, aspects: frozenset[str], now: float | None = None) -> Process:
        """The list item / ``GET /process/{id}`` with the selected aspects (§2.2)."""
        config = self.config if "config" in aspects else None
        state = self.state(now) if "state" in aspects else None
        report = self.report() if "report" in aspects else None
        metadata = self.metadata if "metadata" in aspects else None
        key = (id(config), id(state), id(report), id(metadata), self.created_at, self.updated_at)
        cached = self._views.get(aspects)
        if cached is None or cached[0] != key:
            view = Process.model_construct(
                id=self.id,
                type="ffmpeg",
                reference=self.config.reference,
                created_at=self.created_at,
                updated_at=self.updated_at,
                config=config,
                state=state,
                report=report,
                metadata=metadata,
            )
            self._views[aspects] = cached = (key, view)
        return cached[1]

    def report(self) -> ProcessReport:
        key = (id(self._report), self._log_version, id(self.history))
        if self._report_cache is None or self._report_cache[0] != key:
            self._report_cache = (key, self._build_report())
        return self._report_cache[1]

    def _build_report(self) -> ProcessReport:
        current = self._report.entry()
        return ProcessReport.model_construct(
            created_at=current.created_at,
            prelude=current.prelude,
            log=current.log,
            history=list(self.history),
        )

    # ------------------------------------------------------------------ internals

    def _set_exec(self, state: ExecState) -> None:
        if state != self._exec:
            self._exec = state
            self._exec_changed = time.time()

    def _log(self, line: str) -> None:
        self._report.log.append(line)
        self._log_version += 1

    async def _spawn(self) -> None:
        if self.prepared is None or self._closed:
            return
        # The previous run becomes history when the next one starts (§2.5).
        self.history = archive_run(self.history, self._report.entry(), self.settings.max_history)
        self._report = RunReport(created_at=int(time.time()), log=LogRing(self.settings.log_lines))
        self._tracker = ProgressTracker(
            [io.id for io in self.config.input], [io.id for io in self.config.output]
        )
        self._blocks = ProgressBlockParser()
        self._streams_known = False
        self._set_exec("starting")
        resolved = self.prepared.resolved
        mux_stats = supports_mux_stats(await _version(self.settings.binary))
        # At info and above stderr has the stream dump: the report would repeat it, costing
        # ffmpeg a second formatting of every message and us a wake-up per line while it
        # starts (~0.5 ms of each start, bench/README.md).
        self._reads_report = not stderr_shows_stream_dump(self.prepared.command)
        try:
            run = await FFmpegRun.start(
                self.settings.binary,
                self.prepared.command,
                _injected_flags,
                on_stderr_line=self._on_stderr_line,
                on_progress_line=self._on_progress_line,
                on_report_line=self._report.dump.add if self._reads_report else None,
                on_stats_line=self._on_stats_line,
                argv_for_stats=lambda path: instrumented_argv(resolved, path, mux_stats=mux_stats),
            )
        except FFmpegSpawnError as error:
            self._log(str(error))
            self._set_exec("failed")
            self._schedule_reconnect()
            return
        self._run = run
        self._set_exec("running")
        limits = self.config.limits
        monitor = RunMonitor(
            run,
            ResourceSampler(run.pid, capacity=_capacity()),
            StaleWatchdog(self.config.stale_timeout_seconds, time.monotonic()),
            LimitWatchdog(limits.cpu_usage, limits.memory_mbytes * MIB, limits.waitfor_seconds),
        )
        monitor.start()
        self._monitor = monitor
        self._waiter = asyncio.create_task(self._wait_for_exit(run, monitor))

    async def _wait_for_exit(self, run: FFmpegRun, monitor: RunMonitor) -> None:
        info = await run.wait()
        await monitor.close()
        reason = info.stop_reason or monitor.stop_reason
        if reason:
            self._log(f"Process stopped: {reason}")
        if info.signal is not None:
            self._log(f"Process killed by signal {info.signal}")
        elif info.exec_state == "failed":
            self._log(f"Process exited with status {info.returncode}")
        self._run = None
        self._set_exec(info.exec_state)
        self._schedule_reconnect()

    async def _stop_run(self, reason: str | None) -> None:
        run, waiter = self._run, self._waiter
        if run is None:
            return
        if run.running:
            self._set_exec("finishing")
            await run.stop(reason, grace=self.settings.stop_grace_s)
        if waiter is not None:
            await waiter

    def _schedule_reconnect(self) -> None:
        if self._closed or self.order != "start" or not self.config.reconnect:
            return
        self._cancel_reconnect()
        self._reconnect = asyncio.create_task(
            self._reconnect_after(float(self.config.reconnect_delay_seconds))
        )

    async def _reconnect_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        async with self._lock:
            self._reconnect = None
            if self.order == "start" and not self._closed and not self.running:
                self.restarts += 1
                await self._spawn()

    def _cancel_reconnect(self) -> None:
        task, self._reconnect = self._reconnect, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    # stderr and progress callbacks run in the event loop, from the run's pipe readers.

    def _on_stderr_line(self, line: str) -> None:
        parsed = self._report.stderr.feed(line)
        if parsed.kind == "log":
            self._report.log.append(line)
            self._log_version += 1
        if not self._streams_known and self._report.stderr.dump is not None:
            self._tracker.set_streams(self._report.stderr.dump)
            self._streams_known = True

    def _on_progress_line(self, line: str) -> None:
        block = self._blocks.feed(line)
        if block is None:
            return
        stderr = self._report.stderr
        if not stderr.prelude_complete and self._run is not None:
            # With -nostats the prelude ends at the first progress block (Core: at the first
            # stats line): what ffmpeg wrote to stderr before the block belongs to it.
            self._run.read_stderr_now()
            stderr.progress_seen()
        if not self._streams_known:
            # A filter graph with several inputs never completes the dump (Core's rule), so it
            # is read again at every block, from the report (every log level) or from stderr.
            if self._reads_report:
                report = self._report
                self._tracker.set_streams(report.dump.dump())
                self._streams_known = report.dump.complete
            else:
                dump = stderr.dump
                self._tracker.set_streams(dump if dump is not None else stderr.current_dump())
                self._streams_known = dump is not None
        now = time.monotonic()
        if self._tracker.update(block.sample(), now) and self._monitor is not None:
            self._monitor.stale.progress(now)

    def _on_stats_line(self, line: str) -> None:
        packet = parse_stream_stats_line(line)
        if packet is not None:
            self._tracker.add_packet(packet, time.monotonic())

    async def shutdown(self) -> None:
        """Cancel timers and stop the run without touching the order (server shutdown)."""
        self._closed = True
        self._cancel_reconnect()
        with contextlib.suppress(Exception):
            await self.stop("server shutdown")
