"""Size and kbit/s of outputs written to this server's memfs, from the bytes it received.

ffmpeg cannot say how much it wrote over HTTP (HLS with ``-method PUT``): its totals and the
output entries stay at 0 kB and 0 kbit/s. The memfs routes count every write
(:class:`~ffmpeg_operator.core.memfs_traffic.MemfsTraffic`); this fills those zeros in the
``state`` of a running process, the same way on both backends (run Pods write to the API's
memfs too):

- an output file in memfs with a single stream gets its file's figures (a file with several
  streams keeps the per-stream figures ffmpeg gives, since the bytes are not per stream);
- the totals, when ffmpeg reported no size, get the sum over the process's memfs outputs.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ffmpeg_operator.core.memfs_traffic import MemfsTraffic, memfs_stem
from ffmpeg_operator.core.models import Process, ProcessState

StateOverlay = Callable[[ProcessState], ProcessState]


def memfs_overlay(
    traffic: MemfsTraffic,
    base_url: str,
    clock: Callable[[], float] = time.monotonic,
) -> StateOverlay:
    """The function completing a state with memfs figures (the same state when none apply)."""

    def overlay(state: ProcessState) -> ProcessState:
        if state.exec != "running" or not state.progress.outputs:
            return state
        stems: dict[int, str] = {}
        for entry in state.progress.outputs:
            stem = memfs_stem(entry.address, base_url)
            if stem is not None:
                stems[entry.index] = stem
        if not stems:
            return state
        now = clock()
        # runtime_seconds is whole seconds since the run started: the start lies within
        # the second before; the middle of it is the best guess.
        since = now - state.runtime_seconds - 0.5
        figures = {index: traffic.figures(stem, since, now) for index, stem in stems.items()}
        progress = state.progress.model_copy(deep=True)
        for index, (size_bytes, kbit) in figures.items():
            streams = [entry for entry in progress.outputs if entry.index == index]
            if len(streams) == 1 and streams[0].size_kb == 0:
                streams[0].size_kb = size_bytes // 1024
                streams[0].bitrate_kbit = kbit
        if progress.size_kb == 0:
            progress.size_kb = sum(size for size, _ in figures.values()) // 1024
            progress.bitrate_kbit = sum(kbit for _, kbit in figures.values())
        return state.model_copy(update={"progress": progress})

    return overlay


def overlay_process(process: Process, overlay: StateOverlay) -> Process:
    """``process`` with its state (if selected) passed through ``overlay``."""
    if process.state is None:
        return process
    state = overlay(process.state)
    if state is process.state:
        return process
    return process.model_copy(update={"state": state})
