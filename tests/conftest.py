"""Shared fixtures: a live embedded server for HTTP tests, and the same API on both backends.

- ``server`` / ``api`` / ``fresh_server``: the embedded server (see each fixture).
- ``backend_server`` / ``backend_api``: parametrized over ``local`` (the session ``server``)
  and ``kubernetes`` (``serve --backend kubernetes`` over the emulator, the pod runner and the
  operator, see :mod:`kubeenv`). A module whose cases are backend-independent overrides its
  ``api`` fixture with ``backend_api``. Marks for what Kubernetes cannot match (each one
  explained in ``docs/compatibility.md``, "Kubernetes backend"):
  ``@pytest.mark.kubernetes_xfail(reason=...)`` (strict) and
  ``@pytest.mark.kubernetes_skip(reason=...)``; ``@pytest.mark.needs_operator`` skips the
  Kubernetes variant while the operator cannot be imported.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backends import BackendServer, local_backend, require_runs
from livesrv import LiveServer, live_server

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the project; tests that read it skip cleanly when it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not present")
    return SHARED


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One embedded server for the session; tests use their own process IDs."""
    with live_server(tmp_path_factory.mktemp("server") / "data") as running:
        yield running


@pytest.fixture
def api(server: LiveServer) -> Iterator[httpx.Client]:
    """A client of the session server; every process created during the test is deleted."""
    with _deleting_new_processes(server) as client:
        yield client


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server of its own (restart and persistence tests)."""
    with live_server(tmp_path / "data") as running:
        yield running


@contextlib.contextmanager
def _deleting_new_processes(live: LiveServer) -> Iterator[httpx.Client]:
    """A client of ``live``; the processes that were not there before are deleted at the end."""
    with live.client() as client:
        before = {
            p["id"] for p in client.get("/api/v3/process", params={"filter": "config"}).json()
        }
        yield client
        after = client.get("/api/v3/process", params={"filter": "config"}).json()
        for process in after:
            if process["id"] not in before:
                client.delete(f"/api/v3/process/{_quote(process['id'])}")


def _quote(pid: str) -> str:
    from urllib.parse import quote

    return quote(pid, safe="")


# --- the same API on both backends -------------------------------------------------------------

BACKENDS = ("local", "kubernetes")


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "kubernetes_xfail(reason): the kubernetes variant is expected to fail (strict)",
        "kubernetes_skip(reason): the kubernetes variant is skipped",
        "needs_operator: the kubernetes variant needs the operator to run processes",
    ):
        config.addinivalue_line("markers", line)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or callspec.params.get("backend_server") != "kubernetes":
            continue
        xfail = item.get_closest_marker("kubernetes_xfail")
        if xfail is not None:
            item.add_marker(pytest.mark.xfail(strict=True, reason=xfail.kwargs["reason"]))
        skip = item.get_closest_marker("kubernetes_skip")
        if skip is not None:
            item.add_marker(pytest.mark.skip(reason=skip.kwargs["reason"]))


@pytest.fixture(scope="session")
def kube_backend_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendServer]:
    """``serve --backend kubernetes`` with its Kubernetes stand-in, for the session."""
    from kubeenv import kube_environment

    with kube_environment(tmp_path_factory.mktemp("kube")) as env:
        yield BackendServer(
            "kubernetes", env.server, env.memfs_url, env.disk_dir, env.disk_files, env
        )


@pytest.fixture(scope="session", params=BACKENDS)
def backend_server(request: pytest.FixtureRequest) -> BackendServer:
    if request.param == "kubernetes":
        kube: BackendServer = request.getfixturevalue("kube_backend_server")
        return kube
    local: LiveServer = request.getfixturevalue("server")
    return local_backend(local)


@pytest.fixture
def backend_api(
    backend_server: BackendServer, request: pytest.FixtureRequest
) -> Iterator[httpx.Client]:
    """``api`` on the backend of the parameter; every process created here is deleted."""
    if request.node.get_closest_marker("needs_operator") is not None:
        require_runs(backend_server)
    with _deleting_new_processes(backend_server.live) as client:
        yield client
