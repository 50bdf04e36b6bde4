"""``make e2e-kind`` refuses at once, and says why, when docker, kind or helm cannot work."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from shipkit import ROOT

HEADLINE = "make e2e-kind: cannot run the kind end-to-end suite:"
#: "Fails fast": the preflight runs before anything is installed, built or created.
FAST = 10.0


def _make_e2e_kind(**env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    environment = {
        key: value
        for key, value in os.environ.items()
        # Not the flags of a `make test` this suite may run under.
        if key not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")
    }
    environment.update(env)
    started = time.monotonic()
    result = subprocess.run(
        ["make", "--no-print-directory", "e2e-kind"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result, time.monotonic() - started


def _fake_tool(directory: Path, name: str, log: Path, script: str = "") -> str:
    """An executable that appends its arguments to ``log`` and then runs ``script``."""
    path = directory / name
    path.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\n{script}\n')
    path.chmod(0o755)
    return str(path)


def _docker_daemon_answers() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        probe = subprocess.run([docker, "info"], capture_output=True, timeout=15, check=False)
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0


def test_fails_fast_with_a_clear_message_on_this_machine() -> None:
    if _docker_daemon_answers():
        pytest.skip("a Docker daemon runs here: make e2e-kind would start the real suite")
    result, elapsed = _make_e2e_kind()
    assert result.returncode != 0
    assert elapsed < FAST
    assert HEADLINE in result.stderr
    assert "the Docker daemon is not running or not reachable" in result.stderr or (
        "'docker' not found on PATH" in result.stderr
    )


def test_names_every_missing_tool_at_once(tmp_path: Path) -> None:
    result, elapsed = _make_e2e_kind(
        DOCKER=str(tmp_path / "docker"), KIND=str(tmp_path / "kind"), HELM=str(tmp_path / "helm")
    )
    assert result.returncode != 0
    assert elapsed < FAST
    missing = [line.strip() for line in result.stderr.splitlines() if "not found" in line]
    assert missing == [
        f"- '{tmp_path / tool}' not found on PATH" for tool in ("docker", "kind", "helm")
    ]


def test_stops_before_creating_or_building_when_the_daemon_is_down(tmp_path: Path) -> None:
    calls = tmp_path / "calls.log"
    docker = _fake_tool(
        tmp_path,
        "docker",
        calls,
        'echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock." >&2; exit 1',
    )
    kind = _fake_tool(tmp_path, "kind", calls)
    helm = _fake_tool(tmp_path, "helm", calls)
    result, elapsed = _make_e2e_kind(DOCKER=docker, KIND=kind, HELM=helm)
    assert result.returncode != 0
    assert elapsed < FAST
    assert (
        "  - the Docker daemon is not running or not reachable "
        "(Cannot connect to the Docker daemon at unix:///var/run/docker.sock.)"
    ) in result.stderr.splitlines()
    # Only the daemon probe ran: no cluster created, no image built, nothing installed.
    assert calls.read_text().splitlines() == ["docker info --format {{.ServerVersion}}"]


def test_ci_workflow_runs_make_e2e_kind_on_ubuntu() -> None:
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "e2e-kind.yml").read_text())
    (job,) = workflow["jobs"].values()
    assert job["runs-on"] == "ubuntu-latest"
    commands = [step.get("run", "") for step in job["steps"]]
    assert any(command.startswith("make e2e-kind") for command in commands)
    installed = " ".join(step.get("uses", "") for step in job["steps"])
    assert "setup-helm" in installed and "kind-action" in installed
