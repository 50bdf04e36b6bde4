"""The agent's Prometheus ``/metrics``: the live figures of its one run.

Series names match the API server's (``ffmpeg_process_*``, label ``id``), so dashboards work
for both modes; the agent adds the frame counter and the seconds without progress.
``prometheus_client`` is imported at the first scrape, as the API server's (api/metrics.py):
it brings ``http.server`` and ``html`` along, which an agent nobody scrapes need not keep in
memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ffmpeg_operator.agent.run_agent import RunAgent

if TYPE_CHECKING:
    from prometheus_client.core import GaugeMetricFamily


class _RunCollector:
    def __init__(self, agent: RunAgent) -> None:
        self._agent = agent

    def collect(self) -> list[GaugeMetricFamily]:
        from prometheus_client.core import GaugeMetricFamily  # first scrape: see the module

        agent = self._agent
        state = agent.state()
        key = [agent.options.process_id]

        def gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
            family = GaugeMetricFamily(name, documentation, labels=["id"])
            family.add_metric(key, value)
            return family

        progress = state.progress
        return [
            gauge("ffmpeg_process_fps", "Frames per second (30 s average).", progress.fps),
            gauge(
                "ffmpeg_process_bitrate_kbit",
                "Output bitrate in kbit/s (30 s average).",
                progress.bitrate_kbit,
            ),
            gauge("ffmpeg_process_frame", "Frames written so far in this run.", progress.frame),
            gauge(
                "ffmpeg_process_cpu_usage_percent",
                "CPU usage, 100 = the CPUs granted to ffmpeg.",
                state.cpu_usage,
            ),
            gauge("ffmpeg_process_memory_bytes", "Resident memory.", state.memory_bytes),
            gauge(
                "ffmpeg_process_stale_seconds",
                "Seconds since ffmpeg last made progress (0 when not running).",
                agent.stale_seconds(),
            ),
            gauge(
                "ffmpeg_process_running",
                "1 while ffmpeg runs, else 0.",
                1 if state.exec == "running" else 0,
            ),
        ]


def render_agent_metrics(agent: RunAgent) -> bytes:
    """The text exposition of ``agent``'s run, read at scrape time."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_RunCollector(agent))
    return generate_latest(registry)
