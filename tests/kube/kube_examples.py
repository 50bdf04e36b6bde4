"""The example FFmpegProcess files (examples/crs) and a minimal valid CR to vary."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_FILES = sorted((ROOT / "examples" / "crs").glob("*.yaml"))

MINIMAL_CR: dict[str, Any] = {
    "apiVersion": "ffmpeg-operator.io/v1alpha1",
    "kind": "FFmpegProcess",
    "metadata": {
        "name": "minimal",
        "namespace": "media",
        "uid": "6f1d2b8e-3c2a-4c55-9a1e-2f0b7d9c1a42",
    },
    "spec": {
        "id": "minimal",
        "input": [
            {"id": "in", "address": "testsrc=size=160x120:rate=10", "options": ["-f", "lavfi"]}
        ],
        "output": [{"id": "out", "address": "-", "options": ["-f", "null"]}],
    },
}


def load_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def all_example_crs() -> list[dict[str, Any]]:
    return [doc for path in EXAMPLE_FILES for doc in load_documents(path)]


def minimal_cr(**spec_changes: Any) -> dict[str, Any]:
    """A copy of :data:`MINIMAL_CR` with spec fields replaced."""
    cr = copy.deepcopy(MINIMAL_CR)
    cr["spec"].update(copy.deepcopy(spec_changes))
    return cr
