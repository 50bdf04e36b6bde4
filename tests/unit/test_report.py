"""Report rules (spec §2.5, §12 case 42): prelude truncation and run history."""

from __future__ import annotations

import pytest

from ffmpeg_operator.core.models import ReportHistoryEntry
from ffmpeg_operator.core.report import PreludeCollector, archive_run, truncate_prelude


def numbered(count: int) -> list[str]:
    return [f"line {n}" for n in range(1, count + 1)]


# (prelude lines seen, entries kept) — 150 and 300 are Core's test data.
@pytest.mark.parametrize(
    ("seen", "kept"),
    [(0, 0), (1, 1), (100, 100), (120, 120), (150, 150), (151, 151), (300, 151)],
)
def test_prelude_entry_count(seen: int, kept: int) -> None:
    assert len(truncate_prelude(numbered(seen))) == kept


def test_prelude_of_300_lines_is_head_marker_tail() -> None:
    prelude = truncate_prelude(numbered(300))
    assert prelude[:100] == numbered(100)
    assert prelude[100] == "... truncated 150 lines ..."
    assert prelude[101:] == numbered(300)[250:]


def test_prelude_of_150_lines_has_no_marker() -> None:
    assert truncate_prelude(numbered(150)) == numbered(150)


def test_marker_counts_dropped_minus_tail() -> None:
    # 151 lines: 51 after the head, 50 shown in the tail, 1 dropped.
    prelude = truncate_prelude(numbered(151))
    assert prelude[100] == "... truncated 1 lines ..."
    assert prelude[-1] == "line 151" and prelude[101] == "line 102"


def test_collector_ignores_lines_after_close() -> None:
    collector = PreludeCollector()
    collector.add("Input #0, lavfi, from 'x':")
    collector.close()
    collector.add("late line")
    assert collector.closed
    assert collector.lines() == ["Input #0, lavfi, from 'x':"]


def test_collector_with_custom_sizes() -> None:
    collector = PreludeCollector(head_lines=2, tail_lines=1)
    for line in numbered(5):
        collector.add(line)
    assert collector.lines() == ["line 1", "line 2", "... truncated 2 lines ...", "line 5"]
    assert len(collector) == 3


def run(created_at: int, prelude: list[str] | None = None) -> ReportHistoryEntry:
    return ReportHistoryEntry(
        created_at=created_at,
        prelude=["Input #0, lavfi, from 'x':"] if prelude is None else prelude,
        log=[(str(created_at), "Input #0, lavfi, from 'x':")],
    )


def test_start_stop_start_stop_gives_history_of_one() -> None:
    # case 42: the first run is archived when the second one starts.
    assert archive_run([], run(1)) == [run(1)]


def test_history_keeps_the_last_three_runs_oldest_first() -> None:
    history: list[ReportHistoryEntry] = []
    for created_at in range(1, 6):
        history = archive_run(history, run(created_at))
    assert [entry.created_at for entry in history] == [3, 4, 5]


def test_run_with_empty_prelude_is_not_archived() -> None:
    assert archive_run([run(1)], run(2, prelude=[])) == [run(1)]


@pytest.mark.parametrize(("max_history", "kept"), [(0, []), (1, [2]), (5, [1, 2])])
def test_history_length_follows_max_history(max_history: int, kept: list[int]) -> None:
    history = archive_run([run(1)], run(2), max_history=max_history)
    assert [entry.created_at for entry in history] == kept


def test_archive_does_not_change_the_given_history() -> None:
    history = [run(1)]
    archive_run(history, run(2))
    assert history == [run(1)]
