"""The two reasons Core stops a running ffmpeg by itself: no progress (§4.6), limits (§4.7).

Both are plain state machines: the caller passes the time (a monotonic clock, seconds) and the
observations, and asks whether to stop. The 1 s ticking lives in :mod:`.monitor`.
"""

from __future__ import annotations

from ffmpeg_operator.supervision.sampler import ResourceSample

MIB = 1024 * 1024


class StaleWatchdog:
    """Stale timeout (§4.6): expired when more than ``timeout_s`` passed since the last progress.

    The clock starts at spawn (``started_at``), not at the first progress. 0 disables it.
    """

    def __init__(self, timeout_s: float, started_at: float) -> None:
        self.timeout_s = timeout_s
        self._last_progress = started_at

    @property
    def enabled(self) -> bool:
        return self.timeout_s > 0

    def progress(self, now: float) -> None:
        """Record that real progress happened at ``now``."""
        self._last_progress = now

    def expired(self, now: float) -> bool:
        # Core: strictly more than the timeout since the last progress.
        return self.enabled and now - self._last_progress > self.timeout_s

    def reason(self) -> str:
        return f"Stale timeout after {self.timeout_s:g} s, no progress from the process"


class _Threshold:
    """Core's hard-limit rule for one resource."""

    def __init__(self, limit: float, waitfor_s: float) -> None:
        self.limit = limit
        self.waitfor_s = waitfor_s
        # Core starts from a zero reading, so an opening sample above the limit starts the timer.
        self._previous = 0.0
        self._since = 0.0

    def observe(self, value: float, now: float) -> float | None:
        """Feed a reading; return the seconds over the limit when it is time to stop."""
        previous, self._previous = self._previous, value
        if self.limit <= 0 or value <= self.limit:
            return None
        if previous <= self.limit:
            self._since = now
        over_for = now - self._since
        return over_for if over_for >= self.waitfor_s else None


class LimitWatchdog:
    """Limits (§4.7): CPU % of the machine and RSS bytes, each with its own timer.

    A value strictly above its limit starts that resource's timer when the previous reading was
    not above; the process must be stopped once a later (or, for ``waitfor_s`` 0, the same)
    reading is still above and ``waitfor_s`` have passed since. A limit ≤ 0 is disabled.
    """

    def __init__(self, cpu_limit: float, memory_limit_bytes: int, waitfor_s: float) -> None:
        self._cpu = _Threshold(cpu_limit, waitfor_s)
        self._memory = _Threshold(float(memory_limit_bytes), waitfor_s)

    @property
    def enabled(self) -> bool:
        return self._cpu.limit > 0 or self._memory.limit > 0

    def observe(self, sample: ResourceSample, now: float) -> str | None:
        """Feed a sample taken at ``now``; return why to stop, or None to keep running."""
        reasons = []
        cpu_over = self._cpu.observe(sample.cpu_percent, now)
        if cpu_over is not None:
            reasons.append(
                f"CPU limit exceeded: {sample.cpu_percent:.1f}% > {self._cpu.limit:g}% "
                f"for {int(cpu_over)} s"
            )
        memory_over = self._memory.observe(float(sample.rss_bytes), now)
        if memory_over is not None:
            reasons.append(
                f"Memory limit exceeded: {sample.rss_bytes / MIB:.1f} MiB > "
                f"{self._memory.limit / MIB:g} MiB for {int(memory_over)} s"
            )
        return "; ".join(reasons) if reasons else None
