"""The reference for start latency: the same ffmpeg, started directly, until its first frame."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence


def first_progress_seconds(binary: str, argv: Sequence[str], timeout: float = 20.0) -> float:
    """Seconds from spawning ``binary -nostdin -progress pipe:1 argv`` to ``frame=`` > 0.

    These are the flags the server's supervisor adds in front of a process's command, so
    the only difference left is the server's own work.
    """
    started = time.perf_counter()
    child = subprocess.Popen(
        [binary, "-nostdin", "-progress", "pipe:1", *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert child.stdout is not None
    try:
        for line in child.stdout:
            if line.startswith(b"frame=") and int(line[6:].strip() or 0) > 0:
                return time.perf_counter() - started
            if time.perf_counter() - started > timeout:
                break
        raise RuntimeError(f"no progress from bare ffmpeg within {timeout} s")
    finally:
        child.kill()
        child.wait()
