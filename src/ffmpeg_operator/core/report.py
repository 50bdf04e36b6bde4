"""Rules of the process report (spec §2.5): prelude truncation and the run history.

The prelude is what ffmpeg wrote to stderr before progress began. Core keeps its first 100
lines and its last 50; when more than 50 lines fell between them a marker line
``... truncated N lines ...`` stands in for them. The history holds up to three earlier runs,
and a run joins it only when its prelude is not empty.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

from ffmpeg_operator.core.models import ReportHistoryEntry

#: Core's prelude head and tail sizes.
PRELUDE_HEAD_LINES = 100
PRELUDE_TAIL_LINES = 50
#: Core's ``ffmpeg.log.max_history`` default.
DEFAULT_MAX_HISTORY = 3


class PreludeCollector:
    """Collects prelude lines as they come: the head in full, the rest in a tail ring."""

    def __init__(
        self, head_lines: int = PRELUDE_HEAD_LINES, tail_lines: int = PRELUDE_TAIL_LINES
    ) -> None:
        self._head_lines = head_lines
        self._tail_lines = tail_lines
        self._head: list[str] = []
        self._tail: deque[str] = deque(maxlen=tail_lines)
        self._after_head = 0
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once the prelude is complete; later lines are not collected."""
        return self._closed

    def add(self, line: str) -> None:
        """Collect ``line`` unless the prelude is closed. Give it no progress lines."""
        if self._closed:
            return
        if len(self._head) < self._head_lines:
            self._head.append(line)
            return
        self._after_head += 1
        self._tail.append(line)

    def close(self) -> None:
        """Mark the prelude complete (progress began)."""
        self._closed = True

    def lines(self) -> list[str]:
        """The prelude as the report shows it (head, marker if any, tail)."""
        return _assemble(self._head, self._after_head, list(self._tail), self._tail_lines)

    def __len__(self) -> int:
        return len(self._head) + len(self._tail)


def truncate_prelude(
    lines: Iterable[str],
    head_lines: int = PRELUDE_HEAD_LINES,
    tail_lines: int = PRELUDE_TAIL_LINES,
) -> list[str]:
    """All prelude lines reduced to what the report keeps (150 -> 150, 300 -> 151)."""
    collector = PreludeCollector(head_lines, tail_lines)
    for line in lines:
        collector.add(line)
    return collector.lines()


def _assemble(head: list[str], after_head: int, tail: list[str], tail_lines: int) -> list[str]:
    # Core counts every line past the head, then subtracts the tail it still shows; the marker
    # appears only when that leaves something (so 150 lines give 150 entries, no marker).
    dropped = after_head - tail_lines
    marker = [f"... truncated {dropped} lines ..."] if dropped > 0 else []
    return [*head, *marker, *tail]


def archive_run(
    history: Sequence[ReportHistoryEntry],
    run: ReportHistoryEntry,
    max_history: int = DEFAULT_MAX_HISTORY,
) -> list[ReportHistoryEntry]:
    """The history after ``run`` ended (Core archives it when the next run starts).

    Oldest first, at most ``max_history`` entries. A run with an empty prelude (ffmpeg said
    nothing, e.g. it could not be spawned) is not archived.
    """
    if max_history <= 0:
        return []
    entries = list(history)
    if run.prelude:
        entries.append(run)
    return entries[-max_history:]
