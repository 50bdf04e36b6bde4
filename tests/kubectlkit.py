"""What the tiers that drive a real cluster through kubectl share: tests/e2e (kind) and
tests/realcluster (the local cluster of tests/cluster). Their kits import it by name: pytest puts
tests/ on sys.path for tests/conftest.py, as for livesrv and backends."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def eventually(probe: Callable[[], T | None], timeout: float, what: str, every: float = 1) -> T:
    """The first truthy result of ``probe`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def found_object(result: subprocess.CompletedProcess[str]) -> dict[str, Any] | None:
    """The object ``kubectl get KIND NAME -o json`` printed; None when kubectl said NotFound,
    any other failure raised."""
    if result.returncode != 0:
        if "NotFound" in result.stderr:
            return None
        raise AssertionError(result.stderr)
    found: dict[str, Any] = json.loads(result.stdout)
    return found
