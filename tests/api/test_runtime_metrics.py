"""``/metrics`` of the embedded server: processes by exec state and live per-process figures."""

from __future__ import annotations

import httpx
from acceptance_helpers import JsonDict, create, light_fixture, wait_for, wait_until
from prometheus_client.parser import text_string_to_metric_families

from livesrv import LiveServer

MIB = 1024 * 1024


def _samples(api: httpx.Client) -> dict[tuple[str, str], float]:
    """``(metric name, id or state label) -> value`` of one scrape."""
    response = api.get("/metrics")
    assert response.status_code == 200
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            key = sample.labels.get("id") or sample.labels.get("state", "")
            found[(sample.name, key)] = sample.value
    return found


def _running_with_fps(current: JsonDict) -> bool:
    return bool(current["exec"] == "running" and current["progress"]["fps"] > 0)


def _with_cpu(metrics: dict[tuple[str, str], float], pid: str) -> dict[tuple[str, str], float]:
    return metrics if metrics[("ffmpeg_process_cpu_usage_percent", pid)] > 0 else {}


def test_metrics_count_processes_by_state_with_live_figures(fresh_server: LiveServer) -> None:
    running = light_fixture(autostart=True)
    # A real encoder, so the 1 s CPU samples are never all below the clock tick.
    running["output"][0]["options"] = ["-c:v", "mpeg4", "-f", "null"]
    stopped = light_fixture(autostart=False)
    with fresh_server.client() as api:
        create(api, running)
        create(api, stopped)
        wait_for(api, running["id"], _running_with_fps)
        # CPU needs two samples of the 1 s sampler.
        metrics = wait_until(lambda: _with_cpu(_samples(api), running["id"]), 10, what="CPU")

    assert metrics[("ffmpeg_processes", "running")] == 1
    assert metrics[("ffmpeg_processes", "finished")] == 1
    # 10 fps plus the initial -re burst.
    assert 5 <= metrics[("ffmpeg_process_fps", running["id"])] <= 20
    assert 0 < metrics[("ffmpeg_process_cpu_usage_percent", running["id"])] < 100
    assert MIB < metrics[("ffmpeg_process_memory_bytes", running["id"])] < 1024 * MIB
    assert metrics[("ffmpeg_process_running", running["id"])] == 1
    assert metrics[("ffmpeg_process_running", stopped["id"])] == 0
    assert metrics[("ffmpeg_process_memory_bytes", stopped["id"])] == 0
    assert metrics[("ffmpeg_process_restarts", running["id"])] == 0


def test_metrics_count_automatic_restarts(api: httpx.Client) -> None:
    config = light_fixture(autostart=True, reconnect=True, reconnect_delay_seconds=0)
    config["output"][0]["options"] = ["-t", "0.5", "-f", "null"]
    create(api, config)

    wait_until(
        lambda: _samples(api).get(("ffmpeg_process_restarts", config["id"]), 0) >= 2,
        5,
        what="two automatic restarts",
    )
