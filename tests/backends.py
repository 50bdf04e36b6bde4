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


def local_backend(live: LiveServer) -> BackendServer:
    """The embedded backend of ``live`` (started with ``tests/livesrv.py``'s memfs password)."""
    disk_files = live.data_dir.resolve() / "disk"
    return BackendServer(
        "local",
        live,
        memfs_url=f"http://admin:memfspw@127.0.0.1:{live.port}/memfs",
        disk_dir=str(disk_files),
        disk_files=disk_files,
    )


def require_runs(backend: BackendServer) -> None:
    """Skip when ``backend`` cannot run processes (kubernetes without the operator)."""
    import pytest

    if backend.kind == "kubernetes" and not backend.kube.has_operator:
        pytest.skip("the operator is not available: no process can run on the kubernetes side")
