"""``/api/v3/metrics``: Core's metric collectors, read when queried.

Each metric is measured at query time: the machine the API runs on (``psutil``: CPU since the
previous query, memory, network counters), the file stores and the viewer sessions. Core keeps
a history for ``timerange_sec``; this server has none and answers every query with the current
sample (see ``docs/compatibility.md``).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ffmpeg_operator.api.files import FileStore
from ffmpeg_operator.api.sessions import COLLECTORS, SessionRegistry


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


DESCRIPTIONS: dict[str, tuple[str, list[str]]] = {
    "uptime_uptime": ("Current uptime in seconds", []),
    "cpu_ncpu": ("Number of logical CPUs in the system", []),
    "cpu_idle": ("Percentage of idle CPU", []),
    "cpu_user": ("Percentage of CPU used for the user", []),
    "cpu_system": ("Percentage of CPU used for the system", []),
    "cpu_other": ("Percentage of CPU used for other subsystems", []),
    "mem_total": ("Total available memory in bytes", []),
    "mem_free": ("Free memory in bytes", []),
    "net_rx": ("Number of received bytes", ["interface"]),
    "net_tx": ("Number of transmitted bytes", ["interface"]),
    "filesystem_limit": ("Total size of the filesystem in bytes, 0 for unlimited", ["name"]),
    "filesystem_usage": ("Number of used bytes in the filesystem", ["name"]),
    "filesystem_files": ("Number of files in the filesystem", ["name"]),
    "session_active": ("Number of currently active sessions", ["collector"]),
    "session_total": ("Total number of sessions", ["collector"]),
    "session_limit": ("Max. number of concurrent sessions, 0 for unlimited", ["collector"]),
    "session_txbytes": ("Number of transmitted bytes", ["collector"]),
    "session_rxbytes": ("Number of received bytes", ["collector"]),
    "session_txbitrate": ("Current transmit bitrate in bit per second", ["collector"]),
    "session_rxbitrate": ("Current receive bitrate in bit per second", ["collector"]),
    "session_maxtxbitrate": ("Max. allowed transmit bitrate, 0 for unlimited", ["collector"]),
    "session_maxrxbitrate": ("Max. allowed receive bitrate, 0 for unlimited", ["collector"]),
}


#: psutil's names of the CPU times in the first line of Linux's ``/proc/stat``, in order.
_PROC_STAT_TIMES = (
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice"
)  # fmt: skip


def _startup_cpu_times() -> dict[str, float]:
    """``psutil.cpu_times()`` as a dict, read from ``/proc/stat`` as psutil does on Linux.

    Taken when the server starts, so that psutil (0.9 MiB resident) is imported only by the
    first query of a CPU metric; elsewhere psutil itself.
    """
    try:
        with open("/proc/stat", "rb") as stat:
            values = stat.readline().split()[1 : len(_PROC_STAT_TIMES) + 1]
        ticks = os.sysconf("SC_CLK_TCK")
        pairs = zip(_PROC_STAT_TIMES, values, strict=False)
        return {name: float(value) / ticks for name, value in pairs}
    except (OSError, ValueError, AttributeError):
        import psutil

        return psutil.cpu_times()._asdict()


class _CpuMeter:
    """CPU shares since the previous reading (the first one: since the server started)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = _startup_cpu_times()

    def shares(self) -> dict[str, float]:
        import psutil  # at the first query (see _startup_cpu_times)

        with self._lock:
            now = psutil.cpu_times()._asdict()
            last, self._last = self._last, now
        deltas = {name: max(value - last.get(name, 0.0), 0.0) for name, value in now.items()}
        total = sum(deltas.values())
        if total <= 0:
            return {"idle": 100.0, "user": 0.0, "system": 0.0, "other": 0.0}
        idle = (deltas.get("idle", 0.0) + deltas.get("iowait", 0.0)) / total * 100
        user = (deltas.get("user", 0.0) + deltas.get("nice", 0.0)) / total * 100
        system = deltas.get("system", 0.0) / total * 100
        return {"idle": idle, "user": user, "system": system, "other": 100 - idle - user - system}


class ResourceMetrics:
    def __init__(
        self,
        stores: dict[str, FileStore],
        sessions: SessionRegistry,
        started: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._stores = stores
        self._sessions = sessions
        self._started = started
        self._clock = clock
        self._cpu = _CpuMeter()

    def describe(self) -> list[dict[str, Any]]:
        return [
            {"name": name, "description": text, "labels": labels}
            for name, (text, labels) in sorted(DESCRIPTIONS.items())
        ]

    def _samples(self, names: set[str]) -> list[Sample]:
        samples = [Sample("uptime_uptime", {}, int(self._clock() - self._started))]
        if names & {"cpu_idle", "cpu_user", "cpu_system", "cpu_other"}:
            shares = self._cpu.shares()
            samples += [Sample(f"cpu_{k}", {}, round(v, 3)) for k, v in shares.items()]
        import psutil  # at the first query (see _startup_cpu_times)

        samples.append(Sample("cpu_ncpu", {}, psutil.cpu_count() or 1))
        memory = psutil.virtual_memory()
        samples += [Sample("mem_total", {}, memory.total), Sample("mem_free", {}, memory.available)]
        if names & {"net_rx", "net_tx"}:
            for interface, counters in psutil.net_io_counters(pernic=True).items():
                labels = {"interface": interface}
                samples.append(Sample("net_rx", labels, counters.bytes_recv))
                samples.append(Sample("net_tx", labels, counters.bytes_sent))
        if names & {"filesystem_usage", "filesystem_files", "filesystem_limit"}:
            for name, store in self._stores.items():
                used, files = store.usage()
                labels = {"name": name}
                samples += [
                    Sample("filesystem_limit", labels, 0),
                    Sample("filesystem_usage", labels, used),
                    Sample("filesystem_files", labels, files),
                ]
        for collector in COLLECTORS:
            figures = self._sessions.figures(collector)
            labels = {"collector": collector}
            samples += [
                Sample("session_active", labels, figures["active"]),
                Sample("session_total", labels, figures["total"]),
                Sample("session_limit", labels, 0),
                Sample("session_txbytes", labels, figures["tx_bytes"]),
                Sample("session_rxbytes", labels, 0),
                Sample("session_txbitrate", labels, round(figures["tx_bitrate"], 3)),
                Sample("session_rxbitrate", labels, 0),
                Sample("session_maxtxbitrate", labels, 0),
                Sample("session_maxrxbitrate", labels, 0),
            ]
        return samples

    def query(self, patterns: list[tuple[str, dict[str, str]]]) -> list[dict[str, Any]]:
        """Core's ``metrics`` list for the patterns (label values are regular expressions)."""
        names = {name for name, _ in patterns}
        now = int(self._clock())
        found: list[dict[str, Any]] = []
        for sample in self._samples(names):
            if not any(_matches(sample, name, labels) for name, labels in patterns):
                continue
            found.append(
                {"name": sample.name, "labels": sample.labels, "values": [[now, sample.value]]}
            )
        return found


def _matches(sample: Sample, name: str, labels: dict[str, str]) -> bool:
    if sample.name != name:
        return False
    for key, pattern in labels.items():
        value = sample.labels.get(key)
        if value is None:
            return False
        try:
            if re.search(pattern, value) is None:
                return False
        except re.error:
            if value != pattern:
                return False
    return True
