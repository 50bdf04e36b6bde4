"""The 1 s loop around a run: sample resources, check both watchdogs, stop ffmpeg when due.

The stale watchdog's ``progress()`` is fed from outside (by whoever parses the lines) with the
same clock the monitor uses, :func:`time.monotonic` unless one is injected.

Every monitor of an event loop ticks on one shared timer: a sleeping task per run woke the
server once a second for each running process, and each wake-up of an otherwise idle server
costs far more than the sample itself (bench/README.md: with 20 processes the per-run timers
were a quarter of the server's CPU). A run's first tick therefore comes up to one period after
its start, not exactly one; Core's checks are once a second too, with no fixed phase.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import ClassVar, Protocol

from ffmpeg_operator.supervision.sampler import NO_SAMPLE, ResourceSample
from ffmpeg_operator.supervision.watchdogs import LimitWatchdog, StaleWatchdog

log = logging.getLogger(__name__)

#: Core samples limits and checks staleness once a second (§4.6, §4.7).
TICK_S = 1.0


class Stoppable(Protocol):
    """What the monitor needs of a run (an :class:`~.run.FFmpegRun` fits)."""

    @property
    def running(self) -> bool: ...

    async def stop(self, reason: str | None = None, grace: float = ...) -> None: ...


class Sampler(Protocol):
    def sample(self) -> ResourceSample: ...


class RunMonitor:
    """Watches one run until it ends; :attr:`latest` is the newest resource sample."""

    def __init__(
        self,
        run: Stoppable,
        sampler: Sampler,
        stale: StaleWatchdog,
        limits: LimitWatchdog,
        *,
        tick_s: float = TICK_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._run = run
        self._sampler = sampler
        self.stale = stale
        self.limits = limits
        self._tick_s = tick_s
        self._clock = clock
        self.latest: ResourceSample = NO_SAMPLE
        self.stop_reason: str | None = None
        self._stop_task: asyncio.Task[None] | None = None
        self._ticker: _SharedTicker | None = None

    def start(self) -> None:
        """Begin ticking (in the running event loop)."""
        if self._ticker is None:
            self._ticker = _SharedTicker.of(asyncio.get_running_loop(), self._tick_s)
            self._ticker.add(self)

    async def close(self) -> None:
        """Stop ticking; the stop of ffmpeg already requested, if any, goes on."""
        self._leave()
        self.latest = NO_SAMPLE

    def tick(self) -> str | None:
        """One check: sample, feed the watchdogs, request the stop; return its reason."""
        now = self._clock()
        self.latest = self._sampler.sample()
        reason = self.limits.observe(self.latest, now)
        if reason is None and self.stale.expired(now):
            reason = self.stale.reason()
        if reason is not None and self._stop_task is None:
            self.stop_reason = reason
            self._stop_task = asyncio.create_task(self._run.stop(reason))
        return reason

    def _on_tick(self) -> None:
        if self._run.running:
            self.tick()
            return
        self._leave()
        self.latest = NO_SAMPLE

    def _leave(self) -> None:
        if self._ticker is not None:
            self._ticker.discard(self)


class _SharedTicker:
    """One timer calling every registered monitor once a period, in the order they came."""

    _instances: ClassVar[dict[tuple[asyncio.AbstractEventLoop, float], _SharedTicker]] = {}

    def __init__(self, loop: asyncio.AbstractEventLoop, period: float) -> None:
        self._loop = loop
        self._period = period
        self._monitors: dict[RunMonitor, None] = {}  # an ordered set
        self._handle: asyncio.TimerHandle | None = None

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop, period: float) -> _SharedTicker:
        """The ticker of ``loop`` for ``period``; it is forgotten once it has no monitor."""
        ticker = cls._instances.get((loop, period))
        if ticker is None:
            ticker = cls._instances[loop, period] = cls(loop, period)
        return ticker

    def add(self, monitor: RunMonitor) -> None:
        self._monitors[monitor] = None
        if self._handle is None:
            self._handle = self._loop.call_later(self._period, self._fire)

    def discard(self, monitor: RunMonitor) -> None:
        self._monitors.pop(monitor, None)
        if not self._monitors:
            if self._handle is not None:
                self._handle.cancel()
                self._handle = None
            self._instances.pop((self._loop, self._period), None)

    def _fire(self) -> None:
        self._handle = None
        for monitor in list(self._monitors):
            try:
                monitor._on_tick()
            except Exception:
                # One failing check must not stop the others' ticking.
                log.exception("run monitor tick failed")
        if self._monitors:
            self._handle = self._loop.call_later(self._period, self._fire)
