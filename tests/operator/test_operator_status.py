"""The status is written on change only, and a running process's progress at most every 30 s."""

from __future__ import annotations

import time

import pytest
from harness import OperatorHarness

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]


def test_a_steady_running_process_is_not_written_for_20_seconds(
    cluster: OperatorHarness,
) -> None:
    operator = cluster.start_operator()
    cluster.create("cam1")
    cluster.wait_running("cam1")
    time.sleep(1)  # start-up writes are done
    mark = cluster.request_mark()
    writes = operator.counters.status_writes

    time.sleep(20)

    assert cluster.status_patches("cam1", mark) <= 1
    assert operator.counters.status_writes - writes <= 1
    assert cluster.status("cam1")["state"] == "running"


def test_progress_reaches_the_status_once_per_interval(cluster: OperatorHarness) -> None:
    operator = cluster.start_operator(progress_interval=2.0)
    cluster.create("cam1")
    cluster.wait_running("cam1")
    writes = operator.counters.status_writes

    progress = cluster.wait(
        lambda: (p := cluster.status("cam1")["progress"]).get("fps", 0) > 0 and p, 10
    )
    time.sleep(5)

    assert progress["frame"] > 0
    assert progress["updatedAt"]
    # Progress changes every poll; it is written once per interval: about 7 s / 2 s.
    assert 2 <= operator.counters.status_writes - writes <= 5
