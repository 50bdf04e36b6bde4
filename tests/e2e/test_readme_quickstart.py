"""The README's Kubernetes quick start, run verbatim against the kind cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from e2ekit import Kubectl, Settings

from readme_blocks import readme_blocks

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.e2e
def test_readme_quick_start_runs_a_process(
    kubectl: Kubectl, settings: Settings, tmp_path: Path
) -> None:
    # The README's commands name no context: give them a kubeconfig whose current context is
    # the e2e cluster, so they can never reach another cluster.
    config = tmp_path / "kubeconfig"
    view = kubectl.run("config", "view", "--raw", "--minify", "--flatten")
    config.write_text(view.stdout)
    env = {
        **os.environ,
        "KUBECONFIG": str(config),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    ((_, script),) = readme_blocks("e2e")
    image = os.environ.get("E2E_IMAGE_REPOSITORY", "ffmpeg-operator")
    tag = os.environ.get("E2E_IMAGE_TAG", "e2e")
    script = script.replace(
        "--create-namespace",
        f"--create-namespace --set image.repository={image} --set image.tag={tag} --wait",
    )
    try:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            check=False,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr
        assert "testsrc-null" in result.stdout
    finally:
        # Processes first, while their operator still runs to remove its finalizers: uninstalled
        # first, it leaves them (and the namespace) terminating for good, which the next run
        # on a kept cluster meets (found on the local cluster, make e2e-local).
        subprocess.run(
            [settings.kubectl, "delete", "ffp", "--all", "--namespace", "media",
             "--timeout=120s"],
            check=False,
            env=env,
            capture_output=True,
            timeout=140,
        )  # fmt: skip
        subprocess.run(
            ["helm", "uninstall", "ffmpeg-operator", "--namespace", "media"],
            check=False,
            env=env,
            capture_output=True,
            timeout=120,
        )
        subprocess.run(
            [settings.kubectl, "delete", "namespace", "media", "--wait=false"],
            check=False,
            env=env,
            capture_output=True,
            timeout=60,
        )
