"""Per-stream statistics files of stock ffmpeg: one line per packet or per encoded frame.

Stock ffmpeg prints per-stream counters only at the end of a run. Two options write them live:

- ffmpeg ≥ 6.1: ``-stats_mux_pre <file> -stats_mux_pre_fmt <fmt>`` (an output option, for
  every *encoded* stream of that output): one line per packet handed to the muxer. We ask for
  :data:`MUX_STATS_FORMAT`, ``"<file> <stream> <packet index> <size bytes> <K|N>"``::

      0 1 41 218 K

- every version: ``-vstats_file <file>`` (global): one line per encoded *video* frame::

      out=  0 st=  0 frame=    41 q= 28.0 f_size=   166 s_size=    12kB time= 1.640 br= ...

Neither covers stream copies (ffmpeg opens the files for encoders only). Both become a
:class:`StreamPacket`; :class:`StreamCounters` (in :mod:`ffmpeg_operator.core.progress`) sums
them per output stream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The line format asked of ``-stats_mux_pre_fmt`` (ffmpeg ≥ 6.1).
MUX_STATS_FORMAT = "{fidx} {sidx} {n} {size} {key}"

_MUX_LINE = re.compile(r"^([0-9]+) ([0-9]+) ([0-9]+) ([0-9]+) ([KN])$")
_VSTATS_LINE = re.compile(
    r"^out=\s*([0-9]+)\s+st=\s*([0-9]+)\s+frame=\s*([0-9]+)\s+q=\s*(-?[0-9.]+)"
    r".*?f_size=\s*([0-9]+).*?type=\s*([A-Z?])"
)


@dataclass(frozen=True, slots=True)
class StreamPacket:
    """One packet (or encoded frame) of output ``file``'s stream ``stream``.

    ``count`` is how many the stream has had so far, this one included.
    """

    file: int
    stream: int
    count: int
    size_bytes: int
    keyframe: bool
    q: float | None = None


def parse_mux_stats_line(line: str) -> StreamPacket | None:
    """A line written with :data:`MUX_STATS_FORMAT`; ``None`` for anything else."""
    match = _MUX_LINE.match(line.strip())
    if match is None:
        return None
    file, stream, index, size, key = match.groups()
    return StreamPacket(int(file), int(stream), int(index) + 1, int(size), key == "K")


def parse_vstats_line(line: str) -> StreamPacket | None:
    """A ``-vstats_file`` line (format version 2, ffmpeg's default since 4.x); else ``None``."""
    match = _VSTATS_LINE.match(line.strip())
    if match is None:
        return None
    file, stream, frame, q, size, picture_type = match.groups()
    try:
        quantizer: float | None = float(q)
    except ValueError:
        quantizer = None
    # ffmpeg numbers the frames from 0 in this file.
    return StreamPacket(
        int(file), int(stream), int(frame) + 1, int(size), picture_type == "I", quantizer
    )


def parse_stream_stats_line(line: str) -> StreamPacket | None:
    """Either form; the agent and the runtime read one channel that may carry both."""
    return parse_mux_stats_line(line) or parse_vstats_line(line)


def supports_mux_stats(version: str) -> bool:
    """Whether an ffmpeg of ``version`` (``"6.1.1"``, ``"9.0.2"``; ``""`` unknown) has
    ``-stats_mux_pre``. An unknown version (a git build) is taken as recent.
    """
    match = re.match(r"([0-9]+)\.([0-9]+)", version)
    if match is None:
        return True
    return (int(match.group(1)), int(match.group(2))) >= (6, 1)
