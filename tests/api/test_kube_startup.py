"""The API started before the FFmpegProcess CRD exists (a fresh cluster, a one-shot GitOps
apply): it stays up, not ready, with a clear log line, and serves once the CRD appears,
without a restart. Against the emulator; not yet proven on a real apiserver."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from acceptance_helpers import error_body

from ffmpeg_operator.kube.crd import crd
from kubeenv import NAMESPACE
from livesrv import LiveServer, free_port

KUBE_TESTS = Path(__file__).resolve().parents[1] / "kube"


@pytest.fixture
def emulator_without_crd(tmp_path: Path) -> Iterator[object]:
    from emulator import RunningEmulator

    (tmp_path / "emulator").mkdir()
    with RunningEmulator(tmp_path / "emulator", ffmpeg_processes_served=False) as emulator:
        yield emulator


@pytest.fixture
def api_without_crd(emulator_without_crd: object, tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(
        data_dir=tmp_path / "api",
        port=free_port(),
        env={"KUBECONFIG": str(emulator_without_crd.kubeconfig)},  # type: ignore[attr-defined]
        args=("--backend", "kubernetes", "--namespace", NAMESPACE),
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _eventually(check: object, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "not within the timeout"
        time.sleep(0.2)


def test_api_without_the_crd_is_alive_but_not_ready_and_says_why(
    api_without_crd: LiveServer,
) -> None:
    with api_without_crd.client() as api:
        assert api.get("/ping").status_code == 200
        ready = api.get("/ready")
        assert ready.status_code == 503
        assert "FFmpegProcess CRD" in ready.text
        listed = api.get("/api/v3/process")
        assert listed.status_code == 503
        assert listed.json() == error_body(503, "Service Unavailable", ready.text)
    assert api_without_crd.log_path is not None
    assert "waiting for the FFmpegProcess CRD" in api_without_crd.log_path.read_text()


def test_api_serves_once_the_crd_appears_without_a_restart(
    emulator_without_crd: object, api_without_crd: LiveServer
) -> None:
    from emulator import CRDS

    with api_without_crd.client() as api:
        assert api.get("/ready").status_code == 503
        emulator_without_crd.create(CRDS, crd())  # type: ignore[attr-defined]
        _eventually(lambda: api.get("/ready").status_code == 200, 10)
        assert api.get("/api/v3/process").json() == []
        assert api_without_crd.process is not None and api_without_crd.process.poll() is None
