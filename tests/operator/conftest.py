"""Fixtures of the operator tests: the real operator (kopf) against the emulator, with the pod
runner playing kubelet, so run Pods run the real agent and the real ffmpeg.

- ``cluster``: an :class:`OperatorHarness` per test: emulator (graceful Pod deletion, as
  kubelet does it), pod runner (each Pod on its own loopback address, the ``diskfs`` claim on
  ``harness.disk``), and one operator started with :meth:`OperatorHarness.start_operator`
  (more for restart and peering tests).
- The kube fixtures (``emulator``, ``kubeconfig``, ``kopf_runner_factory``) are those of
  ``tests/kube/conftest.py``.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

KUBE_TESTS = Path(__file__).resolve().parents[1] / "kube"
if str(KUBE_TESTS) not in sys.path:
    sys.path.insert(0, str(KUBE_TESTS))


def _kube_fixtures() -> object:
    spec = importlib.util.spec_from_file_location("kube_fixtures", KUBE_TESTS / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_fixtures = _kube_fixtures()
emulator = _fixtures.emulator  # type: ignore[attr-defined]
kubeconfig = _fixtures.kubeconfig  # type: ignore[attr-defined]
kopf_runner_factory = _fixtures.kopf_runner_factory  # type: ignore[attr-defined]

from harness import OperatorHarness  # noqa: E402
from podrunner import PodRunner  # noqa: E402


@pytest.fixture
def cluster(
    emulator: object, kopf_runner_factory: object, tmp_path: Path
) -> Iterator[OperatorHarness]:
    emulator.handler.graceful_pod_deletion = True  # type: ignore[attr-defined]
    disk = tmp_path / "disk"
    disk.mkdir()
    with PodRunner(
        emulator,  # type: ignore[arg-type]
        tmp_path / "pods",
        isolate_loopback=True,
        pvc_paths={"diskfs": disk},
        max_grace_s=5.0,
    ) as pods:
        yield OperatorHarness(emulator, pods, kopf_runner_factory, disk)  # type: ignore[arg-type]
