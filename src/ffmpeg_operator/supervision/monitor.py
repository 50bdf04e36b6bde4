"""The 1 s loop around a run: sample resources, check both watchdogs, stop ffmpeg when due.

The stale watchdog's ``progress()`` is fed from outside (by whoever parses the lines) with the
same clock the monitor uses, :func:`time.monotonic` unless one is injected.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Protocol

from ffmpeg_operator.supervision.sampler import NO_SAMPLE, ResourceSample
from ffmpeg_operator.supervision.watchdogs import LimitWatchdog, StaleWatchdog

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
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin ticking (in the running event loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop())

    async def close(self) -> None:
        """Stop ticking; the stop of ffmpeg already requested, if any, goes on."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
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

    async def _loop(self) -> None:
        while self._run.running:
            await asyncio.sleep(self._tick_s)
            if not self._run.running:
                break
            self.tick()
        self.latest = NO_SAMPLE
