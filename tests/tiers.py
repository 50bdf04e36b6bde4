"""The rule for a tier whose needs may be missing on a user's machine: there it skips, and
under ``CI=true``, where ``make test`` has installed everything, it fails instead."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(message: str) -> NoReturn:
    """Skip the calling test (or fixture) with ``message``; fail with it when ``CI=true``."""
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
