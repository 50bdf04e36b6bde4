"""core imports nothing but the standard library and pydantic (design §1)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import ffmpeg_operator.core

CORE = Path(ffmpeg_operator.core.__file__).parent
ALLOWED_THIRD_PARTY = {"pydantic", "pydantic_core", "typing_extensions"}


def _imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_core_imports_only_stdlib_and_pydantic() -> None:
    offenders = {}
    for path in sorted(CORE.rglob("*.py")):
        foreign = {
            name
            for name in _imported_top_levels(path)
            if name not in sys.stdlib_module_names
            and name not in ALLOWED_THIRD_PARTY
            and name != "ffmpeg_operator"
        }
        if foreign:
            offenders[str(path.relative_to(CORE))] = sorted(foreign)
    assert offenders == {}


def test_core_imports_no_other_layer_of_the_package() -> None:
    for path in sorted(CORE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("ffmpeg_operator.")
            ):
                assert node.module.startswith("ffmpeg_operator.core"), (path, node.module)
