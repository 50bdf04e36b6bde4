"""Shared fixtures: a live embedded server for HTTP tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

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
    with server.client() as client:
        before = {
            p["id"] for p in client.get("/api/v3/process", params={"filter": "config"}).json()
        }
        yield client
        after = client.get("/api/v3/process", params={"filter": "config"}).json()
        for process in after:
            if process["id"] not in before:
                client.delete(f"/api/v3/process/{_quote(process['id'])}")


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server of its own (restart and persistence tests)."""
    with live_server(tmp_path / "data") as running:
        yield running


def _quote(pid: str) -> str:
    from urllib.parse import quote

    return quote(pid, safe="")
