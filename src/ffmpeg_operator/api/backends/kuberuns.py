"""What the API reads from run Pods: the agent's live ``/state`` and ffmpeg's log.

Both are cached per Pod (by uid), so polling clients and a list over many processes do not turn
into a request per process per call. The operator deletes the Pod of a stopped or restarted run
(and its log with it), so the last report entry read of a Pod outlives it here, in memory, as
datarhei keeps a stopped run's report (:meth:`RunObserver.archived`):

- the agent's ``/state`` at most :attr:`RunObserver.state_ttl` old (live progress must be at
  most 2 s old); an unreachable agent gives None and the caller falls back to the status;
- the log of a run whose Pod is over never changes and is read once; a live run's log is read
  again after :attr:`RunObserver.log_ttl`. A log is read as its head (the prelude is at the start,
  :data:`HEAD_BYTES`) and, only when it is longer, its last :data:`TAIL_LINES` lines (the
  report keeps the last 50 non-progress lines), with kubelet's timestamps. A run's prelude is
  kept once complete: after kubelet rotated a long run's log, its head is no longer ffmpeg's
  start (an API restarted after a rotation has only what the log still holds).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp

from ffmpeg_operator.api.backends.kubeclient import KubeApiError, KubeClient
from ffmpeg_operator.api.backends.kubeviews import RunView, log_lines, run_report_entry
from ffmpeg_operator.core.models import ReportHistoryEntry
from ffmpeg_operator.core.redact import Redactor
from ffmpeg_operator.kube.pod import FFMPEG_CONTAINER

__all__ = ["HEAD_BYTES", "TAIL_LINES", "RunObserver"]

T = TypeVar("T")

log = logging.getLogger(__name__)

#: Bytes of a log read for the prelude (Core keeps its first 100 and last 50 lines).
HEAD_BYTES = 256 * 1024
#: Lines read from the end of a long log for the report's log ring (50 non-progress lines).
TAIL_LINES = 200
#: Report entries of vanished runs kept per process: the current run and three before it.
ARCHIVED_RUNS = 4


@dataclass
class _LogEntry:
    entry: ReportHistoryEntry
    read_at: float
    final: bool


@dataclass
class _AgentEntry:
    document: dict[str, Any] | None
    read_at: float


@dataclass
class RunObserver:
    """Cached reads of run Pods (see the module docstring)."""

    client: KubeClient
    state_ttl: float = 1.0
    log_ttl: float = 1.0
    agent_timeout: float = 1.0
    #: Concurrent reads (agents and logs): a list over many processes must not flood.
    concurrency: int = 32
    max_log_lines: int = 50
    #: Secret values (the memfs password) that ffmpeg logs in the URLs it opens.
    redactor: Redactor = field(default_factory=Redactor)
    _logs: dict[str, _LogEntry] = field(default_factory=dict)
    _agents: dict[str, _AgentEntry] = field(default_factory=dict)
    #: Pod uid -> the run's prelude, once complete (a log line followed it). kubelet rotates a
    #: long run's log (10 Mi by default): its head is then no longer ffmpeg's start.
    _preludes: dict[str, list[str]] = field(default_factory=dict)
    #: owner (FFmpegProcess) uid -> run number -> the last report entry read of a vanished Pod
    _archive: dict[str, dict[int, ReportHistoryEntry]] = field(default_factory=dict)
    _inflight: dict[tuple[str, str], asyncio.Future[Any]] = field(default_factory=dict)
    _session: aiohttp.ClientSession | None = None
    _semaphore: asyncio.Semaphore | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def forget(self, run: RunView) -> None:
        """The Pod is gone: keep the report entry last read of it, drop the rest."""
        self._agents.pop(run.uid, None)
        self._preludes.pop(run.uid, None)
        cached = self._logs.pop(run.uid, None)
        if cached is None or not run.owner_uid:
            return
        runs = self._archive.setdefault(run.owner_uid, {})
        runs[run.number] = cached.entry
        for number in sorted(runs)[:-ARCHIVED_RUNS]:
            del runs[number]

    def archived(self, owner_uid: str) -> dict[int, ReportHistoryEntry]:
        """Report entries of the vanished runs of a process, by run number."""
        return dict(self._archive.get(owner_uid) or {})

    def drop_archive(self, owner_uid: str) -> None:
        """The process is gone: so is the report of its vanished runs."""
        self._archive.pop(owner_uid, None)

    def _limit(self) -> asyncio.Semaphore:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.concurrency)
        return self._semaphore

    async def _once(self, key: tuple[str, str], factory: Callable[[], Awaitable[T]]) -> T:
        """Run ``factory()`` once for concurrent callers asking for the same ``key``."""
        pending = self._inflight.get(key)
        if pending is not None:
            result: T = await asyncio.shield(pending)
            return result
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result = await factory()
        except BaseException as error:
            future.set_exception(error)
            # Nobody else may be waiting: keep asyncio from warning about it.
            future.exception()
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._inflight[key]

    # ------------------------------------------------------------------ agent

    async def agent_state(self, run: RunView, *, ended: bool = False) -> dict[str, Any] | None:
        """The agent's ``/state`` document of a live run (``ended``: also of a run whose ffmpeg
        ended, while the agent still answers), or None when it cannot be had."""
        if not run.pod_ip or (not run.live and not ended) or run.settled:
            return None
        cached = self._agents.get(run.uid)
        # An ended run's reason is news: not from a document of while it ran.
        if not ended and cached is not None and time.monotonic() - cached.read_at < self.state_ttl:
            return cached.document
        document = await self._once(("agent", run.uid), lambda: self._read_agent(run))
        self._agents[run.uid] = _AgentEntry(document, time.monotonic())
        return document

    async def _read_agent(self, run: RunView) -> dict[str, Any] | None:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.agent_timeout)
            )
        host = f"[{run.pod_ip}]" if ":" in run.pod_ip else run.pod_ip
        url = f"http://{host}:{run.agent_port}/state"
        try:
            async with self._limit(), self._session.get(url) as response:
                if response.status != 200:
                    return None
                document = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError, OSError) as error:
            log.debug("agent of %s did not answer: %s", run.name, error)
            return None
        return self.redactor.value(document) if isinstance(document, dict) else None

    # ------------------------------------------------------------------ logs

    async def report_entry(
        self, run: RunView, created_at: int, *, fresh: bool = False
    ) -> ReportHistoryEntry:
        """The report entry (prelude, log) of a run; empty while its log cannot be read.

        ``fresh`` reads a live run's log even when the cached one is recent (the run is about
        to end and its Pod to go).
        """
        cached = self._logs.get(run.uid)
        recent = (
            not fresh
            and cached is not None
            and (time.monotonic() - cached.read_at < self.log_ttl and cached.final == run.settled)
        )
        if cached is not None and (cached.final or recent):
            return cached.entry
        # Decided before the read: a Pod that settles after it is read once more. Not before
        # it settled: the agent's reason for the end comes with its termination.
        final = run.settled
        entry = await self._once(("log", run.uid), lambda: self._read_log(run, created_at))
        if entry is None:
            # Not readable (not started yet, or the Pod is going): what was read before.
            return cached.entry if cached is not None else ReportHistoryEntry(created_at=created_at)
        pinned = self._preludes.get(run.uid)
        if pinned is not None:
            entry = entry.model_copy(update={"prelude": pinned})
        elif entry.prelude and entry.log:
            self._preludes[run.uid] = list(entry.prelude)
        self._logs[run.uid] = _LogEntry(entry, time.monotonic(), final)
        return entry

    async def _read_log(self, run: RunView, created_at: int) -> ReportHistoryEntry | None:
        path = f"/api/v1/namespaces/{self.client.namespace}/pods/{run.name}/log"
        base = [("container", FFMPEG_CONTAINER), ("timestamps", "true")]
        try:
            async with self._limit():
                head = await self.client.text(path, query=[*base, ("limitBytes", str(HEAD_BYTES))])
                tail = None
                if len(head.encode("utf-8", "replace")) >= HEAD_BYTES:
                    tail = await self.client.text(
                        path, query=[*base, ("tailLines", str(TAIL_LINES))]
                    )
        except KubeApiError as error:
            # Not started yet ("waiting to start"), or gone: no log to show.
            log.debug("log of %s not readable: %s", run.name, error)
            return None
        default_time = run.started_at or created_at
        ended_at = run.finished_at or default_time
        redact = self.redactor.text
        return run_report_entry(
            log_lines(redact(head), default_time),
            None if tail is None else log_lines(redact(tail), default_time),
            created_at,
            self.max_log_lines,
            extra=[(ended_at, redact(line)) for line in run.end_lines],
        )
