"""The ``-progress <url>`` output of stock ffmpeg (spec §9.4).

One block per stats period, ``key=value`` lines ending with ``progress=continue`` (or
``progress=end`` for the last one)::

    frame=38                 (video only)
    fps=37.98                (video only)
    stream_0_0_q=2.0         (one per video output stream)
    bitrate= 397.3kbits/s    or N/A
    total_size=176206        bytes, or N/A
    out_time_us=1520000
    out_time_ms=1520000      microseconds too: an ffmpeg quirk
    out_time=00:00:01.520000
    dup_frames=0
    drop_frames=0
    speed=1.52x              padded (`   2x`) or N/A
    progress=continue

Unlike the stderr stats line it is printed whatever the log level, so the supervisor can take
its counters from here without depending on the stderr prelude.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ffmpeg_operator.core.ffmpeg.sample import ProgressSample
from ffmpeg_operator.core.ffmpeg.stats import parse_clock

_STREAM_Q_KEY = re.compile(r"stream_([0-9]+)_([0-9]+)_q")
_OUT_TIME = re.compile(r"(-?)([0-9]+):([0-9]{2}):([0-9]{2})\.([0-9]+)")
_NUMBER_WITH_UNIT = re.compile(r"(-?[0-9.]+(?:e[+-]?[0-9]+)?)\s*(?:kbits/s|x)?")


@dataclass(frozen=True, slots=True)
class StreamQ:
    """The quantizer of one video output stream (``stream_<file>_<stream>_q``)."""

    file: int
    stream: int
    q: float


@dataclass(frozen=True, slots=True)
class ProgressBlock:
    """One completed ``-progress`` block. ``None`` = key missing or ``N/A``."""

    values: Mapping[str, str] = field(default_factory=dict)
    frame: int | None = None
    fps: float | None = None
    stream_q: tuple[StreamQ, ...] = ()
    bitrate_kbit: float | None = None  # ffmpeg's own figure, kbit = 1000 bit
    total_size: int | None = None
    out_time_us: int | None = None  # negative times are dropped
    dup_frames: int | None = None
    drop_frames: int | None = None
    speed: float | None = None
    ended: bool = False  # progress=end: the last block of the run

    @property
    def q(self) -> float | None:
        """The first non-negative stream quantizer, the same choice as on the stats line."""
        return next((entry.q for entry in self.stream_q if entry.q >= 0), None)

    def sample(self) -> ProgressSample:
        """The block's counters as a :class:`ProgressSample`."""
        return ProgressSample(
            frame=self.frame,
            q=self.q,
            size_bytes=self.total_size,
            time_sec=None if self.out_time_us is None else self.out_time_us / 1_000_000,
            speed=self.speed,
            drop=self.drop_frames,
            dup=self.dup_frames,
        )


class ProgressBlockParser:
    """Incremental: :meth:`feed` lines, get a :class:`ProgressBlock` when one is complete."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}

    def feed(self, line: str) -> ProgressBlock | None:
        """Add one line; return the block it completes, else ``None``. Lines without ``=``
        (blank lines, noise) are ignored.
        """
        key, sep, value = line.strip().partition("=")
        if not sep or not key:
            return None
        value = value.strip()
        if key != "progress":
            self._values[key] = value
            return None
        values, self._values = self._values, {}
        return build_block(values, ended=value == "end")

    def reset(self) -> None:
        """Drop a partly read block (a new run starts)."""
        self._values = {}


def build_block(values: Mapping[str, str], *, ended: bool = False) -> ProgressBlock:
    """A :class:`ProgressBlock` from the ``key -> value`` pairs of one block."""
    stream_q = []
    for key, value in values.items():
        # Only stream_*_q keys need the regexes (a dozen keys a block, two blocks a second).
        if not key.startswith("stream_"):
            continue
        match = _STREAM_Q_KEY.fullmatch(key)
        q = None if match is None else _float(value)
        if match is not None and q is not None:
            stream_q.append(StreamQ(int(match.group(1)), int(match.group(2)), q))
    return ProgressBlock(
        values=dict(values),
        frame=_int(values.get("frame")),
        fps=_float(values.get("fps")),
        stream_q=tuple(stream_q),
        bitrate_kbit=_float(values.get("bitrate")),
        total_size=_int(values.get("total_size")),
        out_time_us=_out_time_us(values),
        dup_frames=_int(values.get("dup_frames")),
        drop_frames=_int(values.get("drop_frames")),
        speed=_float(values.get("speed")),
        ended=ended,
    )


def _out_time_us(values: Mapping[str, str]) -> int | None:
    # out_time_ms carries microseconds as well (ffmpeg quirk), so it is a fallback only.
    for key in ("out_time_us", "out_time_ms"):
        micros = _int(values.get(key))
        if micros is not None:
            return micros if micros >= 0 else None
    match = _OUT_TIME.fullmatch(values.get("out_time", "").strip())
    if match is None or match.group(1) == "-":
        return None
    return round(parse_clock(*match.groups()[1:]) * 1_000_000)


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:  # N/A
        return None


def _float(value: str | None) -> float | None:
    match = _NUMBER_WITH_UNIT.fullmatch((value or "").strip())
    if match is None:
        return None
    try:
        return float(match.group(1))
    except ValueError:
        return None
