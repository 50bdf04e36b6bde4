"""How runs end, as the status tells it: the agent's stale and limit stops, the run history."""

from __future__ import annotations

import pytest
from harness import OperatorHarness

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]


def test_a_stale_stop_reaches_the_status(cluster: OperatorHarness) -> None:
    cluster.start_operator()
    # Waits for an HTTP client that never comes: no progress at all.
    waiting = {"id": "in", "address": "http://127.0.0.1:1", "options": ["-listen", "1"]}
    cluster.create("cam1", input=[waiting], staleTimeoutSeconds=2)

    stalled = cluster.wait(
        lambda: (c := cluster.condition("cam1", "Stalled")).get("status") == "True" and c, 25
    )

    status = cluster.status("cam1")
    assert status["lastExitReason"].startswith("Stale timeout after 2 s")
    assert stalled["reason"] == "StaleTimeout"
    assert status["state"] == "finished"  # SIGINT -> 255
    assert cluster.condition("cam1", "LimitExceeded")["status"] == "False"


def test_a_memory_limit_stop_reaches_the_status(cluster: OperatorHarness) -> None:
    cluster.start_operator()
    cluster.create("cam1", limits={"memoryMbytes": 1, "waitforSeconds": 0})

    # A bound on the test's duration, not a speed target: a loaded machine starts Pods slowly.
    exceeded = cluster.wait(
        lambda: (c := cluster.condition("cam1", "LimitExceeded")).get("status") == "True" and c,
        60,
        "no LimitExceeded condition",
    )

    assert exceeded["reason"] == "LimitExceeded"
    assert cluster.status("cam1")["lastExitReason"].startswith("Memory limit exceeded")
    assert cluster.condition("cam1", "Stalled")["status"] == "False"


def test_the_last_three_finished_run_pods_are_kept(cluster: OperatorHarness) -> None:
    cluster.start_operator()
    quick = [{"id": "out", "address": "-", "options": ["-frames:v", "3", "-f", "null"]}]
    cluster.create("cam1", reconnect=True, reconnectDelaySeconds=0, output=quick)
    cluster.wait(lambda: cluster.status("cam1").get("run", 0) >= 5, 40, "fewer than 5 runs")

    cluster.patch_spec("cam1", desiredState="stopped")

    cluster.wait_state("cam1", "finished", "failed", "killed")
    last = cluster.status("cam1")["run"]

    def kept() -> list[str]:
        pods = cluster.run_pods("cam1")
        return pods if len(pods) == 3 else []

    pods = cluster.wait(kept, 10, f"not 3 run Pods: {cluster.run_pods('cam1')}")
    newest = int(pods[-1].rsplit("-", 1)[1])
    assert newest in (last - 1, last)  # the stopped run's Pod is deleted, a finished one kept
    assert pods == [f"cam1-{run}" for run in range(newest - 2, newest + 1)]
