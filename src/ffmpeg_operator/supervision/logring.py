"""The report log of one run (spec §2.5): the last N non-progress stderr lines with their time.

Which lines are progress lines is the parser's business; the caller appends only the others.
"""

from __future__ import annotations

import time
from collections import deque

from ffmpeg_operator.core.models import LogEntry

#: Core's ``ffmpeg.log.max_lines`` default.
DEFAULT_MAX_LINES = 50


class LogRing:
    """Ring of ``(unix seconds as a string, line)`` entries, oldest first."""

    def __init__(self, max_lines: int = DEFAULT_MAX_LINES) -> None:
        self._entries: deque[LogEntry] = deque(maxlen=max(0, max_lines))

    def append(self, line: str, at: float | None = None) -> None:
        """Add a line seen at ``at`` (unix time, default now); the oldest falls out when full."""
        stamp = time.time() if at is None else at
        self._entries.append((str(int(stamp)), line))

    def entries(self) -> list[LogEntry]:
        """A copy of the entries, oldest first."""
        return list(self._entries)

    @property
    def last_line(self) -> str:
        """The newest line (``state.last_logline``), ``""`` when empty."""
        return self._entries[-1][1] if self._entries else ""

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
