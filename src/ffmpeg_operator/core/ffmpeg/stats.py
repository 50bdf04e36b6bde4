"""The stats line stock ffmpeg writes to stderr (spec §9.3, §9.4), and line classification.

``frame=   50 fps= 25 q=28.0 size=     256kB time=00:00:01.92 bitrate=1092.3kbits/s dup=1
drop=3 speed=0.999x`` — each field is read on its own, like Core's regexes, so fields that are
missing or ``N/A`` are simply absent from the sample. Audio-only outputs print the same line
without ``frame=``/``fps=``/``q=``; the last line of a run says ``Lsize=``; ffmpeg ≥ 6.1
prints ``KiB`` where 5.1 printed ``kB`` (both mean 1024 bytes here, as in Core).
"""

from __future__ import annotations

import re

from ffmpeg_operator.core.ffmpeg.sample import ProgressSample

# Lines Core never logs and never keeps in the prelude (spec §2.5). Core's rule looks only at
# the start of the line, so an audio-only stats line (``size=…``) is *not* one of them: Core
# logs it. We keep that so report/last_logline match Core.
_PROGRESS_PREFIXES = ("frame=", "ffmpeg.progress:", "avstream.progress:")
# Every stats line, including audio-only ones.
_STATS_PREFIXES = ("frame=", "size=", "Lsize=")

_FRAME = re.compile(r"frame=\s*([0-9]+)")
# [0-9.] cannot match '-': `q=-1.0`/`q=-0.0` are skipped and the search goes on to the next
# `q=` (a later video output), i.e. the first non-negative q wins, as in Core.
_Q = re.compile(r"q=\s*([0-9.]+)")
# `size=` also matches inside `Lsize=`; `N/A` does not match and leaves the size unknown.
_SIZE = re.compile(r"size=\s*([0-9]+)(?:kB|KiB)")
# A negative time (`time=-00:00:00.04`) does not match and is ignored.
_TIME = re.compile(r"time=\s*([0-9]+):([0-9]{2}):([0-9]{2})\.([0-9]{2})")
# ffmpeg prints speed with %4.3g, which turns into `1.23e+03x` when very fast; Core's regex
# misses that form, we accept it.
_SPEED = re.compile(r"speed=\s*([0-9.]+(?:e[+-]?[0-9]+)?)x")
_DROP = re.compile(r"drop=\s*([0-9]+)")
_DUP = re.compile(r"dup=\s*([0-9]+)")


def is_progress_line(line: str) -> bool:
    """True for the lines Core treats as progress: never logged, never in the prelude."""
    return line.startswith(_PROGRESS_PREFIXES)


def is_stats_line(line: str) -> bool:
    """True for any stock stats line, the audio-only form (``size=…``) included."""
    return line.startswith(_STATS_PREFIXES)


def parse_stats_line(line: str) -> ProgressSample | None:
    """The counters of a stock stats line; ``None`` when ``line`` is not a stats line."""
    if not is_stats_line(line):
        return None
    size_kib = _int(_SIZE, line)
    return ProgressSample(
        frame=_int(_FRAME, line),
        q=_float(_Q, line),
        size_bytes=None if size_kib is None else size_kib * 1024,
        time_sec=_time(line),
        speed=_float(_SPEED, line),
        drop=_int(_DROP, line),
        dup=_int(_DUP, line),
    )


def parse_clock(hours: str, minutes: str, seconds: str, fraction: str) -> float:
    """Seconds of ``HH:MM:SS.ffff`` parts; exact for centiseconds (``238.44`` stays 238.44)."""
    scale = int(10 ** len(fraction))
    whole = int(hours) * 3600 + int(minutes) * 60 + int(seconds)
    return (whole * scale + int(fraction)) / scale


def _time(line: str) -> float | None:
    match = _TIME.search(line)
    return None if match is None else parse_clock(*match.groups())


def _int(pattern: re.Pattern[str], line: str) -> int | None:
    match = pattern.search(line)
    return None if match is None else int(match.group(1))


def _float(pattern: re.Pattern[str], line: str) -> float | None:
    match = pattern.search(line)
    if match is None:
        return None
    try:
        return float(match.group(1))
    except ValueError:  # e.g. "1.2.3": Core's ParseFloat fails and keeps the old value
        return None
