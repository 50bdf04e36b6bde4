"""An operator that restarts, and two that share a peering (design §4)."""

from __future__ import annotations

import time

import pytest
from emulator import PODS
from harness import NAMESPACE, OperatorHarness

from ffmpeg_operator.kube.names import PROCESS_LABEL, RUN_LABEL

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]


def _stray_pod(process: str, run: int) -> dict[str, object]:
    return {
        "metadata": {
            "name": f"{process}-{run}",
            "labels": {PROCESS_LABEL: process, RUN_LABEL: str(run)},
        },
        "spec": {"containers": [{"name": "ffmpeg", "image": "x", "command": ["sleep", "60"]}]},
    }


def test_a_restarted_operator_creates_no_duplicates_and_removes_orphans(
    cluster: OperatorHarness,
) -> None:
    first = cluster.start_operator()
    cluster.create("cam1")
    before = cluster.wait_running("cam1")
    cluster.stop_operator(first)
    # While no operator runs: a run Pod whose process does not exist.
    cluster.emulator.create(PODS, _stray_pod("ghost", 1), NAMESPACE)

    second = cluster.start_operator()

    cluster.wait(lambda: cluster.pod("ghost-1") is None, 10, "the orphan stays")
    time.sleep(1)  # what must not happen: a second run or a rewrite of the status
    assert cluster.run_pods("cam1") == ["cam1-1"]
    assert second.counters.pods_created == 0
    assert second.counters.status_writes == 0  # nothing changed
    after = cluster.status("cam1")
    assert (after["state"], after["run"], after["startedAt"]) == ("running", 1, before["startedAt"])


def test_only_the_active_peer_acts_and_the_standby_takes_over(cluster: OperatorHarness) -> None:
    active = cluster.start_operator(peering="ffmpeg", priority=200)
    standby = cluster.start_operator(peering="ffmpeg", priority=100)
    cluster.create("cam1")
    cluster.wait_running("cam1")
    time.sleep(1)  # what must not happen: the standby writing too

    assert active.counters.pods_created == 1
    assert standby.counters.total == 0

    cluster.stop_operator(active)
    cluster.patch_spec("cam1", desiredState="stopped")

    cluster.wait_state("cam1", "finished", "failed", "killed")
    assert standby.counters.pods_deleted == 1
    assert standby.counters.pods_created == 0
