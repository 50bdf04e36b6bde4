"""Waiting in tests for something that happens elsewhere (a server, a child process)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(
    check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.1, what: str = "condition"
) -> Any:
    """Poll ``check()`` until it returns something truthy; returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not reached within {timeout} s (last: {value!r})")
        time.sleep(interval)
