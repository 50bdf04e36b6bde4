"""``ffmpeg-operator operator`` as the Helm chart runs it: flags, environment, peering."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from emulator import FFMPEG_PROCESSES, PODS, RunningEmulator, kubeconfig_env
from harness import NAMESPACE, spec_of

from ffmpeg_operator.kube.settings import peering_priority
from livesrv import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

POD_NAME = "ffmpeg-operator-operator-7c9f-x2k4p"


@pytest.fixture
def operator_process(emulator: RunningEmulator, tmp_path: Path) -> Iterator[str]:
    """The operator command in a subprocess, with the chart's flags and environment."""
    emulator.call(emulator.handler.register_kopf_peering)
    emulator.create(
        "kopf.dev/v1/kopfpeerings", {"metadata": {"name": "ffmpeg-operator"}}, NAMESPACE
    )
    liveness = f"http://127.0.0.1:{free_port()}/healthz"
    env = {
        **kubeconfig_env(emulator),
        "FFMPEG_OPERATOR_POD_NAME": POD_NAME,
        "FFMPEG_OPERATOR_IMAGE": "registry.example/ffmpeg-operator:9.9",
        "FFMPEG_OPERATOR_DISKFS_CLAIM": "media-disk",
        "FFMPEG_OPERATOR_DISKFS_PATH": str(tmp_path / "diskfs"),
        "FFMPEG_OPERATOR_NODE_CPUS": "4",
    }
    command = [
        sys.executable,
        "-m",
        "ffmpeg_operator",
        "operator",
        f"--liveness={liveness}",
        "--peering=ffmpeg-operator",
        f"--namespace={NAMESPACE}",
    ]
    with (tmp_path / "operator.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield liveness
    finally:
        _stop(process)


def test_the_command_runs_the_operator_with_the_charts_settings(
    emulator: RunningEmulator, operator_process: str, tmp_path: Path
) -> None:
    emulator.create(
        FFMPEG_PROCESSES, {"metadata": {"name": "cam1"}, "spec": spec_of("cam1")}, NAMESPACE
    )

    pod = emulator.wait_for(
        lambda: emulator.get(PODS, NAMESPACE, "cam1-1"),
        20,
        "no run Pod: " + (tmp_path / "operator.log").read_text()[-2000:],
    )

    spec = pod["spec"]
    assert {c["image"] for c in spec["containers"] + spec["initContainers"]} == {
        "registry.example/ffmpeg-operator:9.9"
    }
    diskfs = next(v for v in spec["volumes"] if v["name"] == "diskfs")
    assert diskfs["persistentVolumeClaim"]["claimName"] == "media-disk"
    assert httpx.get(operator_process, timeout=5).status_code == 200
    peers = emulator.get("kopf.dev/v1/kopfpeerings", NAMESPACE, "ffmpeg-operator")["status"]
    assert [peer["priority"] for peer in peers.values()] == [peering_priority(POD_NAME)]


def test_the_command_needs_a_namespace_choice() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ffmpeg_operator", "operator"],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
        env={k: v for k, v in os.environ.items() if k != "FFMPEG_OPERATOR_NAMESPACE"},
    )

    assert result.returncode != 0
    assert "--all-namespaces" in result.stderr


@pytest.fixture
def emulator_without_crds(tmp_path: Path) -> Iterator[RunningEmulator]:
    (tmp_path / "emulator").mkdir()
    with RunningEmulator(tmp_path / "emulator", ffmpeg_processes_served=False) as running:
        yield running


def test_the_operator_waits_for_its_crds_not_ready_then_serves_without_a_restart(
    emulator_without_crds: RunningEmulator, tmp_path: Path
) -> None:
    from emulator import CRDS

    from ffmpeg_operator.kube.crd import crd

    emulator = emulator_without_crds
    port = free_port()
    liveness = f"http://127.0.0.1:{port}/healthz"
    command = [
        sys.executable, "-m", "ffmpeg_operator", "operator", f"--liveness={liveness}",
        "--peering=ffmpeg-operator", f"--namespace={NAMESPACE}",
    ]  # fmt: skip
    log_path = tmp_path / "operator.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            env={**kubeconfig_env(emulator), "FFMPEG_OPERATOR_POD_NAME": POD_NAME},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        # Alive (liveness) but not ready (readiness), and saying why in its log.
        emulator.wait_for(lambda: _status(liveness) == 200, 20, "no liveness answer")
        assert _status(liveness + "?ready") == 503
        text = log_path.read_text()
        assert "waiting for the CRDs of ffmpegprocesses.ffmpeg-operator.io" in text
        assert "kopfpeerings.kopf.dev" in text

        emulator.create(CRDS, crd())
        emulator.call(emulator.handler.register_kopf_peering)
        emulator.create(
            "kopf.dev/v1/kopfpeerings", {"metadata": {"name": "ffmpeg-operator"}}, NAMESPACE
        )
        emulator.create(
            FFMPEG_PROCESSES, {"metadata": {"name": "cam1"}, "spec": spec_of("cam1")}, NAMESPACE
        )

        emulator.wait_for(
            lambda: emulator.get(PODS, NAMESPACE, "cam1-1"),
            30,
            "no run Pod after the CRDs appeared: " + log_path.read_text()[-2000:],
        )
        assert process.poll() is None  # the same process: no restart
        assert _status(liveness + "?ready") == 200
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as Kubernetes stops the Pod; SIGKILL after 15 s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _status(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.HTTPError:
        return None
