"""tests/cluster/images.py's cache: keyed by the inputs, so a second run builds nothing.

The pause image (a static C binary on scratch) is cheap enough to build here for real, into a
podman storage of the test's own; the project key is computed over a copy of the repository's
build inputs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from imagekit import images_module, require_tools
from shipkit import ROOT

images = images_module()
SCRIPT = ROOT / "tests" / "cluster" / "images.py"


@dataclass(frozen=True)
class Storage:
    """A cache directory and a podman storage of the test's own."""

    cache: Path
    root: Path
    runroot: Path

    def podman_flags(self) -> list[str]:
        return ["--root", str(self.root), "--runroot", str(self.runroot), "--storage-driver", "vfs"]


def _images_cli(storage: Storage, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--cache-dir", str(storage.cache), *storage.podman_flags(),
         *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture
def private_storage(tmp_path: Path) -> Iterator[Storage]:
    require_tools("podman", "runc", "gcc")
    # podman refuses a runroot path longer than 50 characters.
    runroot = Path(tempfile.mkdtemp(prefix="ffo-run-", dir="/tmp"))
    storage = Storage(tmp_path / "cache", tmp_path / "storage", runroot)
    try:
        yield storage
    finally:
        subprocess.run(
            ["podman", *storage.podman_flags(), "system", "reset", "--force"],
            capture_output=True, timeout=120, check=False,
        )  # fmt: skip
        shutil.rmtree(runroot, ignore_errors=True)


def _archive_config(archive: Path) -> tuple[list[str], dict[str, Any]]:
    """RepoTags and image config of a docker-archive tar."""
    with tarfile.open(archive) as tar:
        manifest_file = tar.extractfile("manifest.json")
        assert manifest_file is not None
        (manifest,) = json.load(manifest_file)
        config_file = tar.extractfile(manifest["Config"])
        assert config_file is not None
        config: dict[str, Any] = json.load(config_file)["config"]
    return manifest["RepoTags"], config


def test_second_build_finds_the_archive_and_builds_nothing(private_storage: Storage) -> None:
    first = _images_cli(private_storage, "build", "--only", "pause")
    assert first.returncode == 0, first.stderr
    assert "pause: built in" in first.stderr
    (archive,) = private_storage.cache.glob("pause-*.tar")
    built_at = archive.stat().st_mtime_ns

    second = _images_cli(private_storage, "build", "--only", "pause")

    assert second.returncode == 0, second.stderr
    assert "pause: cached" in second.stderr
    assert "building" not in second.stderr
    assert archive.stat().st_mtime_ns == built_at
    listing = json.loads(_images_cli(private_storage, "list", "--only", "pause").stdout)
    assert listing["pause"]["present"] is True
    assert listing["pause"]["archive"] == str(archive)


def test_pause_archive_is_the_sandbox_image_containerd_asks_for(private_storage: Storage) -> None:
    built = _images_cli(private_storage, "build", "--only", "pause")
    assert built.returncode == 0, built.stderr
    (archive,) = private_storage.cache.glob("pause-*.tar")
    tags, config = _archive_config(archive)
    assert tags == [images.PAUSE_REF]
    assert config["Entrypoint"] == ["/pause"]
    assert config["User"] == "65535:65535"


@pytest.fixture
def build_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of what the project image is built from, which images.py then reads."""
    root = tmp_path / "repo"
    for name in ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md",
                 "requirements.lock", "requirements-build.lock"):  # fmt: skip
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, root / name)
    shutil.copytree(ROOT / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "helm" / "ffmpeg-operator", root / "helm" / "ffmpeg-operator")
    (root / "tests").mkdir()
    (root / "tests" / "test_x.py").write_text("x = 1\n")
    monkeypatch.setattr(images, "ROOT", root)
    monkeypatch.setattr(images, "DOCKERFILE", root / "Dockerfile")
    monkeypatch.setattr(images, "DOCKERIGNORE", root / ".dockerignore")
    monkeypatch.setattr(images, "CHART", root / "helm" / "ffmpeg-operator")
    return root


def test_project_key_changes_with_a_file_of_the_build_context(build_inputs: Path) -> None:
    before = images.project_key()
    module = build_inputs / "src" / "ffmpeg_operator" / "__init__.py"
    module.write_text(module.read_text() + "\n# changed\n")
    assert images.project_key() != before


def test_project_key_changes_with_the_dockerfile(build_inputs: Path) -> None:
    before = images.project_key()
    dockerfile = build_inputs / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "\n# changed\n")
    assert images.project_key() != before


def test_project_key_ignores_files_outside_the_build_context(build_inputs: Path) -> None:
    before = images.project_key()
    (build_inputs / "tests" / "test_x.py").write_text("x = 2\n")
    cache = build_inputs / "src" / "ffmpeg_operator" / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "cli.cpython-311.pyc").write_bytes(b"\0")
    assert images.project_key() == before


def test_base_ref_is_the_image_the_dockerfile_names(build_inputs: Path) -> None:
    dockerfile = build_inputs / "Dockerfile"
    text = dockerfile.read_text().replace(
        "ARG DEBIAN_IMAGE=debian:bookworm-slim", "ARG DEBIAN_IMAGE=debian:trixie-slim"
    )
    dockerfile.write_text(text)
    assert images.base_ref() == "docker.io/library/debian:trixie-slim"


def test_missing_tool_skips_the_tier_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(pytest.skip.Exception, match="image tier: podman not installed"):
        require_tools("podman")


def test_missing_tool_fails_the_tier_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(pytest.fail.Exception, match="image tier: podman not installed"):
        require_tools("podman")
