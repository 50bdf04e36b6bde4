"""Helpers of the image tier: tests/cluster/images.py, and the tools the tier needs."""

from __future__ import annotations

import shutil
from types import ModuleType

from shipkit import ROOT, tests_module

from tiers import unavailable


def images_module() -> ModuleType:
    """tests/cluster/images.py (the builder of the base, project and pause images)."""
    return tests_module("images", ROOT / "tests" / "cluster" / "images.py")


def require_tools(*tools: str) -> None:
    """Skip the calling test when a tool is missing; fail instead under ``CI=true``."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return
    unavailable(f"image tier: {', '.join(missing)} not installed (make test installs them)")
