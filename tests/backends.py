"""What a test needs to know about the API server of one backend (``backend_server`` fixture)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livesrv import LiveServer


@dataclass(frozen=True)
class BackendServer:
    """A live API server of one backend and what its placeholders resolve to."""

    #: "local" (embedded engine) or "kubernetes" (FFmpegProcess objects).
    kind: str
    live: LiveServer
    #: ``{memfs}`` of this server's processes (with the memfs credentials).
    memfs_url: str
    #: ``{diskfs}`` of this server's processes.
    disk_dir: str
    #: Where the files of ``{diskfs}`` are on this machine.
    disk_files: Path
    #: The Kubernetes stand-in (``kubeenv.KubeEnvironment``) of the kubernetes backend.
    kube: Any = None


def require_runs(backend: BackendServer) -> None:
    """Skip when ``backend`` cannot run processes (kubernetes without the operator)."""
    import pytest

    if backend.kind == "kubernetes" and not backend.kube.has_operator:
        pytest.skip("the operator is not available: no process can run on the kubernetes side")
