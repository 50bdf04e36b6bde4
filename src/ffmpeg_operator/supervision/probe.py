"""Run an ffmpeg probe: the inputs of a process without outputs (spec §9.5, ``GET …/probe``).

The argv (``<global options> (<input options> -i <address>)…``, references and placeholders
resolved) is built by the caller. ffmpeg dumps the inputs to stderr and exits with
"At least one output file must be specified"; a live input (``-re``, a network stream) may
keep it running, so like Core it is killed after ``timeout`` seconds (20 by default). The run
is independent of the process state and counts against no process limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import Sequence

from ffmpeg_operator.core.ffmpeg.probe import parse_probe
from ffmpeg_operator.core.models import Probe
from ffmpeg_operator.supervision.lines import LineSplitter
from ffmpeg_operator.supervision.run import child_environment

#: Seconds Core lets a probe run before killing it.
PROBE_TIMEOUT = 20.0

_READ_CHUNK = 64 * 1024


async def _collect(process: asyncio.subprocess.Process, lines: list[str]) -> int:
    # Appends as it goes, so the lines read before a timeout are kept.
    assert process.stderr is not None  # started with stderr=PIPE
    splitter = LineSplitter()
    while chunk := await process.stderr.read(_READ_CHUNK):
        lines.extend(splitter.feed(chunk))
    lines.extend(splitter.flush())
    return await process.wait()


async def run_probe(
    binary: str, argv: Sequence[str], timeout: float = PROBE_TIMEOUT
) -> tuple[list[str], int]:
    """Run ``binary argv…``; return its non-empty stderr lines and its exit code.

    Killed (SIGKILL) when still running after ``timeout`` seconds; the exit code is then
    negative (``-9``). Raises :class:`OSError` when the binary cannot be started. ffmpeg
    gets the same environment as a process run (:func:`child_environment`, no ``PATH``), so a
    bare binary name is looked up on our ``PATH`` first.
    """
    if os.sep not in binary:
        binary = shutil.which(binary) or binary
    process = await asyncio.create_subprocess_exec(
        binary,
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=child_environment(),
    )
    lines: list[str] = []
    finished = asyncio.ensure_future(_collect(process, lines))
    try:
        # shield: on timeout the collector must go on to read what the killed process left.
        await asyncio.wait_for(asyncio.shield(finished), timeout)
    except TimeoutError:
        pass
    finally:
        # Also on cancellation of the caller: never leave a probe running.
        if not finished.done():
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await finished
    return lines, finished.result()


async def probe_process(binary: str, argv: Sequence[str], timeout: float = PROBE_TIMEOUT) -> Probe:
    """Run a probe and parse it: the ``GET /api/v3/process/{id}/probe`` body (spec §2.8)."""
    lines, _ = await run_probe(binary, argv, timeout)
    return parse_probe(lines)
