"""Start, stop, reconnect and restart of a process through the operator (spec §3.5, §4)."""

from __future__ import annotations

import time

import pytest
from harness import OperatorHarness, monotonic_until

from ffmpeg_operator.kube.pod import RESTART_REQUEST_ANNOTATION

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

SHORT_RUN = {"output": [{"id": "out", "address": "-", "options": ["-t", "1", "-f", "null"]}]}


def test_a_new_process_runs_in_its_first_run_pod(cluster: OperatorHarness) -> None:
    cluster.start_operator()
    cluster.create("cam1")

    status = cluster.wait_running("cam1")

    assert cluster.run_pods("cam1") == ["cam1-1"]
    assert cluster.ffmpeg_state("cam1-1").get("running")
    assert status["state"] == "running"
    assert status["order"] == "start"
    assert status["run"] == 1
    assert status["observedGeneration"] == 1
    assert status["runningSince"] == status["startedAt"]
    assert status["command"][-3:] == ["-f", "null", "-"]
    assert cluster.condition("cam1", "Ready")["status"] == "True"
    assert cluster.condition("cam1", "ConfigValid")["status"] == "True"


def test_stopping_deletes_the_run_pod_and_ffmpeg_finishes(cluster: OperatorHarness) -> None:
    cluster.start_operator()
    cluster.create("cam1")
    cluster.wait_running("cam1")
    cluster.wait_progress("cam1")  # past ffmpeg's signal set-up: SIGTERM then exits 255

    cluster.patch_spec("cam1", desiredState="stopped")

    status = cluster.wait_state("cam1", "finished", "failed", "killed")
    assert status["state"] == "finished"  # SIGTERM -> ffmpeg exits 255 -> finished
    assert status["lastExitCode"] == 255
    assert status["order"] == "stop"
    cluster.wait(lambda: cluster.run_pods("cam1") == [], 10, "the stopped run's Pod stays")
    ready = cluster.condition("cam1", "Ready")
    assert (ready["status"], ready["reason"]) == ("True", "Stopped")


def test_a_stopped_process_starts_again_with_the_next_run(cluster: OperatorHarness) -> None:
    cluster.start_operator()
    cluster.create("cam1", desiredState="stopped")
    cluster.wait(lambda: cluster.status("cam1").get("order") == "stop")
    assert cluster.run_pods("cam1") == []

    cluster.patch_spec("cam1", desiredState="running")

    status = cluster.wait_running("cam1")
    assert status["run"] == 1
    cluster.patch_spec("cam1", desiredState="stopped")
    cluster.wait(lambda: cluster.run_pods("cam1") == [], 15, "the run Pod stays")
    cluster.patch_spec("cam1", desiredState="running")
    assert cluster.wait_running("cam1")["run"] == 2
    assert cluster.run_pods("cam1") == ["cam1-2"]


def test_reconnect_starts_the_next_run_after_exactly_the_delay(cluster: OperatorHarness) -> None:
    cluster.start_operator()
    cluster.create("cam1", reconnect=True, reconnectDelaySeconds=3, **SHORT_RUN)
    cluster.wait(lambda: cluster.ffmpeg_state("cam1-1").get("running"), 20, "run 1 never ran")

    ended = monotonic_until(lambda: cluster.ffmpeg_state("cam1-1").get("terminated"), 15)
    created = monotonic_until(lambda: cluster.pod("cam1-2") is not None, 15)

    assert abs(created - ended - 3) <= 1, created - ended


def test_without_reconnect_an_ended_run_stays_down(cluster: OperatorHarness) -> None:
    cluster.start_operator()
    cluster.create("cam1", reconnect=False, **SHORT_RUN)

    # A bound on the test's duration, not a speed target (a loaded machine starts Pods slowly).
    status = cluster.wait_state("cam1", "finished", "failed", "killed", timeout=60)

    assert status["lastExitCode"] == 0
    time.sleep(2)  # what must not happen: a next run
    assert cluster.run_pods("cam1") == ["cam1-1"]
    assert cluster.status("cam1")["order"] == "start"
    assert cluster.condition("cam1", "Ready")["reason"] == "NotRunning"


def test_a_restart_request_ends_the_run_and_reconnect_brings_it_back(
    cluster: OperatorHarness,
) -> None:
    cluster.start_operator()
    cluster.create("cam1", reconnect=True, reconnectDelaySeconds=1)
    cluster.wait_running("cam1")
    cluster.wait_progress("cam1")  # past ffmpeg's signal set-up: SIGTERM then exits 255

    cluster.patch_spec("cam1", restartRequest="token-1")

    status = cluster.wait(
        lambda: (s := cluster.status("cam1")).get("run") == 2 and s["state"] == "running" and s,
        20,
        "no second run",
    )
    assert status["lastExitCode"] == 255
    pod = cluster.pod("cam1-2")
    assert pod is not None
    assert pod["metadata"]["annotations"][RESTART_REQUEST_ANNOTATION] == "token-1"


def test_a_restart_request_without_reconnect_leaves_the_process_down(
    cluster: OperatorHarness,
) -> None:
    cluster.start_operator()
    cluster.create("cam1", reconnect=False)
    cluster.wait_running("cam1")

    cluster.patch_spec("cam1", restartRequest="token-1")

    status = cluster.wait_state("cam1", "finished", "failed", "killed")
    assert status["order"] == "start"  # datarhei: restart keeps the order
    time.sleep(1.5)
    assert cluster.status("cam1")["run"] == 1
    assert cluster.pod("cam1-2") is None
