"""Parsers for the output of a stock ffmpeg (spec §9.3–§9.5). Pure and line-oriented.

- :mod:`.sample`: :class:`ProgressSample`, the counters one progress report carries;
- :mod:`.stats`: the stderr stats line (``frame= … speed=``) and line classification;
- :mod:`.progress_block`: the ``-progress <url>`` key=value blocks;
- :mod:`.prelude`: the Input/Output/Stream mapping dump and Core's prelude-complete rule;
- :mod:`.stderr`: Core's per-line state machine for stock stderr (log vs progress, prelude);
- :mod:`.probe`: the probe result from an inputs-only run.
"""

from ffmpeg_operator.core.ffmpeg.prelude import PreludeDump, StreamInfo, parse_prelude, progress_ios
from ffmpeg_operator.core.ffmpeg.probe import parse_probe
from ffmpeg_operator.core.ffmpeg.progress_block import ProgressBlock, ProgressBlockParser
from ffmpeg_operator.core.ffmpeg.sample import ProgressSample
from ffmpeg_operator.core.ffmpeg.stats import is_progress_line, is_stats_line, parse_stats_line
from ffmpeg_operator.core.ffmpeg.stderr import StderrLine, StockStderr

__all__ = [
    "PreludeDump",
    "ProgressBlock",
    "ProgressBlockParser",
    "ProgressSample",
    "StderrLine",
    "StockStderr",
    "StreamInfo",
    "is_progress_line",
    "is_stats_line",
    "parse_prelude",
    "parse_probe",
    "parse_stats_line",
    "progress_ios",
]
