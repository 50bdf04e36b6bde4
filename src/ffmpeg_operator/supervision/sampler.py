"""CPU and memory of one ffmpeg process, as ``state.cpu_usage`` / ``memory_bytes`` report them.

CPU is normalised to the whole machine (spec §2.3): 100 means every logical CPU is busy, or,
when we run in a cgroup with a CPU quota, the whole quota is used. Like Core's psutil package,
the quota comes from cgroup v2 ``cpu.max`` or cgroup v1 ``cpu.cfs_quota_us/cfs_period_us``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil  # imported where used: only off Linux (the server samples through /proc)

CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class ResourceSample:
    """One reading: CPU % of the machine (0–100) and resident memory in bytes."""

    cpu_percent: float = 0.0
    rss_bytes: int = 0


#: What a process that is not running reads (spec §2.3: 0 when not running).
NO_SAMPLE = ResourceSample()


def _read_first_line(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").splitlines()[0].strip()
    except (OSError, IndexError, UnicodeDecodeError):
        return None


def cgroup_cpu_quota(root: Path = CGROUP_ROOT) -> float | None:
    """CPUs granted by the cgroup quota (e.g. 1.5), or None when there is no quota."""
    v2 = _read_first_line(root / "cpu.max")
    if v2 is not None:
        fields = v2.split()
        if len(fields) != 2 or fields[0] == "max":
            return None
        return _ratio(fields[0], fields[1])
    quota = _read_first_line(root / "cpu" / "cpu.cfs_quota_us")
    period = _read_first_line(root / "cpu" / "cpu.cfs_period_us")
    if quota is None or period is None:
        return None
    return _ratio(quota, period)


def _ratio(quota: str, period: str) -> float | None:
    try:
        q, p = float(quota), float(period)
    except ValueError:
        return None
    # v1 writes -1 for "no quota".
    return q / p if q > 0 and p > 0 else None


def cpu_capacity(root: Path = CGROUP_ROOT) -> float:
    """How many CPUs count as 100 %: the cgroup quota if set, else the logical CPU count.

    Core uses the quota as is, even when it exceeds the CPU count; so do we.
    """
    quota = cgroup_cpu_quota(root)
    if quota is not None:
        return quota
    # os.cpu_count() is psutil's logical count (sysconf _SC_NPROCESSORS_ONLN) without
    # importing psutil into a server that samples through /proc.
    return float(os.cpu_count() or 1)


class ResourceSampler:
    """Samples one PID. CPU is measured between calls, so the first sample reads 0.

    On Linux a sample is one read of ``/proc/<pid>/stat`` (CPU ticks and resident pages), once
    a second for every running process: psutil's ``oneshot`` read two files and asked for
    the CPU count each time, a fifth of the supervisor's own CPU with 20 processes running
    (bench/README.md). Elsewhere psutil does it.
    """

    def __init__(
        self,
        pid: int,
        capacity: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity = capacity if capacity and capacity > 0 else cpu_capacity()
        self._clock = clock
        self._stat_path: str | None = f"/proc/{pid}/stat"
        self._previous: tuple[float, float] | None = None  # (clock, CPU seconds)
        self._process: psutil.Process | None = None
        if not _PROC_STAT:
            import psutil

            self._stat_path = None
            try:
                self._process = psutil.Process(pid)
            except psutil.Error:
                self._process = None
        elif not os.path.exists(self._stat_path):
            self._stat_path = None

    def sample(self) -> ResourceSample:
        """Read CPU and RSS now; a vanished process reads as zero."""
        if self._stat_path is not None:
            return self._sample_proc(self._stat_path)
        if self._process is None:
            return NO_SAMPLE
        import psutil

        try:
            with self._process.oneshot():
                # psutil: percent of one CPU since the previous call (0.0 on the first).
                cpu_one_core = self._process.cpu_percent(interval=None)
                rss = self._process.memory_info().rss
        except psutil.Error:
            self._process = None
            return NO_SAMPLE
        return ResourceSample(cpu_percent=cpu_one_core / self._capacity, rss_bytes=int(rss))

    def _sample_proc(self, path: str) -> ResourceSample:
        try:
            with open(path, "rb") as stat:
                raw = stat.read()
        except OSError:
            self._stat_path = None
            return NO_SAMPLE
        # The command name may hold spaces and parentheses: fields start after the last ")".
        fields = raw[raw.rindex(b")") + 2 :].split()
        if fields[0] == b"Z":  # exited, not reaped yet
            self._stat_path = None
            return NO_SAMPLE
        now = self._clock()
        cpu_s = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime, stime
        rss = int(fields[21]) * _PAGE_SIZE
        previous, self._previous = self._previous, (now, cpu_s)
        if previous is None or now <= previous[0]:
            return ResourceSample(cpu_percent=0.0, rss_bytes=rss)
        one_core = 100.0 * (cpu_s - previous[1]) / (now - previous[0])
        return ResourceSample(cpu_percent=one_core / self._capacity, rss_bytes=rss)


_PROC_STAT = sys.platform.startswith("linux") and os.path.exists("/proc/self/stat")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if _PROC_STAT else 100
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if _PROC_STAT else 4096
