"""Core's per-line handling of stock ffmpeg stderr (spec §2.5, §4.6, §9.2, §9.3).

Every line is either *progress* (``frame=…``: never logged) or *log* (goes to the report log;
before the prelude is complete also to the prelude). At each ``frame=`` line while the prelude
is open, the collected prelude is parsed; it is complete when the output streams match the
stream mapping count (:attr:`PreludeDump.complete`). Only then does Core use progress lines.

:class:`StockStderr` reports that decision (:attr:`StderrLine.core_progress`) but also hands
out the counters of *every* stats line (:attr:`StderrLine.sample`), so a supervisor may keep
progress going when the prelude never completes (``-filter_complex``, audio-only, quiet
log levels) or take its counters from ``-progress`` instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ffmpeg_operator.core.ffmpeg.prelude import PreludeDump, parse_prelude
from ffmpeg_operator.core.ffmpeg.sample import ProgressSample
from ffmpeg_operator.core.ffmpeg.stats import is_progress_line, parse_stats_line
from ffmpeg_operator.core.report import PRELUDE_HEAD_LINES, PRELUDE_TAIL_LINES, PreludeCollector

#: What ffmpeg prints first on stderr when ``FFREPORT`` is set (the supervisor sets it to read
#: the stream dump at every log level). Core sets no report, so these lines are not shown.
_REPORT_BANNER = re.compile(
    r"^(?:\S+ started on [0-9]{4}-[0-9]{2}-[0-9]{2} at [0-9]{2}:[0-9]{2}:[0-9]{2}"
    r"|Report written to \".*\"|Log level: [0-9]+)$"
)


@dataclass(frozen=True, slots=True)
class StderrLine:
    """What one stderr line means."""

    #: ``hidden``: a line of the report banner, neither logged nor part of the prelude.
    kind: Literal["log", "progress", "hidden"]
    #: Counters of a stats line (also of audio-only ``size=`` lines, which Core logs).
    sample: ProgressSample | None = None
    #: True when Core would use this line as progress: a ``frame=`` line after the prelude
    #: completed (the line that completes it included).
    core_progress: bool = False


class StockStderr:
    """Feed stderr lines of one run in order; read the prelude and the parsed dump."""

    def __init__(
        self, head_lines: int = PRELUDE_HEAD_LINES, tail_lines: int = PRELUDE_TAIL_LINES
    ) -> None:
        self._collector = PreludeCollector(head_lines, tail_lines)
        self._dump: PreludeDump | None = None
        self._banner = True  # the report banner can only be the first lines

    @property
    def prelude_complete(self) -> bool:
        return self._dump is not None

    @property
    def dump(self) -> PreludeDump | None:
        """The parsed dump once the prelude is complete, else ``None``."""
        return self._dump

    def current_dump(self) -> PreludeDump:
        """The dump parsed from what was collected so far (complete or not)."""
        return self._dump if self._dump is not None else parse_prelude(self._collector.lines())

    def prelude(self) -> list[str]:
        """The report prelude: head, truncation marker, tail."""
        return self._collector.lines()

    def progress_seen(self) -> None:
        """A progress report came from elsewhere (``-progress``) where stderr has no stats line
        (``-nostats``): the prelude ends as it would at a ``frame=`` line, once complete.

        Feed every stderr line written before that report first.
        """
        if self._dump is None:
            self._close_if_complete()

    def _close_if_complete(self) -> None:
        dump = parse_prelude(self._collector.lines())
        if dump.complete:
            self._dump = dump
            self._collector.close()

    def feed(self, line: str) -> StderrLine:
        """Classify one line (already split, non-empty) and update the prelude state."""
        if self._banner:
            if _REPORT_BANNER.match(line):
                return StderrLine("hidden")
            self._banner = False
        sample = parse_stats_line(line)
        if not is_progress_line(line):
            self._collector.add(line)
            return StderrLine("log", sample)
        if self._dump is None and line.startswith("frame="):
            self._close_if_complete()
        core_progress = self._dump is not None and line.startswith("frame=")
        return StderrLine("progress", sample, core_progress)
