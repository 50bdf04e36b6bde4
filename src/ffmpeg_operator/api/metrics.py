"""Prometheus ``/metrics`` of the API server: processes by state, restarts, live figures.

The figures are read from the backend at scrape time into a fresh registry, so nothing is
cached between scrapes and both backends expose the same series. ``prometheus_client`` is
imported at the first scrape: a server nobody scrapes does not keep it in memory (~1.1 MiB
resident, bench/README.md).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from ffmpeg_operator.core.models import Process

if TYPE_CHECKING:
    from prometheus_client.core import GaugeMetricFamily

EXEC_STATES = ("finished", "starting", "running", "finishing", "failed", "killed")


class _Snapshot:
    def __init__(self, processes: list[Process], restarts: dict[str, int]) -> None:
        self.processes = processes
        self.restarts = restarts

    def collect(self) -> list[GaugeMetricFamily]:
        from prometheus_client.core import GaugeMetricFamily  # first scrape: see the module

        by_state = GaugeMetricFamily(
            "ffmpeg_processes", "Processes by exec state.", labels=["state"]
        )
        counts: Counter[str] = Counter(p.state.exec for p in self.processes if p.state is not None)
        for exec_state in EXEC_STATES:
            by_state.add_metric([exec_state], counts.get(exec_state, 0))
        labels = ["id", "reference"]
        fps = GaugeMetricFamily(
            "ffmpeg_process_fps", "Frames per second (30 s average).", labels=labels
        )
        bitrate = GaugeMetricFamily(
            "ffmpeg_process_bitrate_kbit", "Output bitrate in kbit/s (30 s average).", labels=labels
        )
        cpu = GaugeMetricFamily(
            "ffmpeg_process_cpu_usage_percent", "CPU usage, 100 = the whole machine.", labels=labels
        )
        memory = GaugeMetricFamily("ffmpeg_process_memory_bytes", "Resident memory.", labels=labels)
        restarts = GaugeMetricFamily(
            "ffmpeg_process_restarts", "Automatic restarts (reconnects) so far.", labels=labels
        )
        running = GaugeMetricFamily(
            "ffmpeg_process_running", "1 while ffmpeg runs, else 0.", labels=labels
        )
        for process in self.processes:
            key = [process.id, process.reference]
            state = process.state
            if state is None:
                continue
            fps.add_metric(key, state.progress.fps)
            bitrate.add_metric(key, state.progress.bitrate_kbit)
            cpu.add_metric(key, state.cpu_usage)
            memory.add_metric(key, state.memory_bytes)
            running.add_metric(key, 1 if state.exec == "running" else 0)
            restarts.add_metric(key, self.restarts.get(process.id, 0))
        return [by_state, fps, bitrate, cpu, memory, restarts, running]


def render_metrics(processes: list[Process], restarts: dict[str, int]) -> bytes:
    """The text exposition of the given processes (each with its ``state`` aspect)."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(processes, restarts))
    return generate_latest(registry)
