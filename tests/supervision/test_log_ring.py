"""The report log ring (spec §2.5)."""

from __future__ import annotations

import time

from ffmpeg_operator.supervision.logring import DEFAULT_MAX_LINES, LogRing


def test_default_ring_keeps_the_last_50_lines_oldest_first() -> None:
    ring = LogRing()
    for number in range(120):
        ring.append(f"line {number}", at=1000.0 + number)
    entries = ring.entries()
    assert DEFAULT_MAX_LINES == 50
    assert len(entries) == 50
    assert entries[0] == ("1070", "line 70")
    assert entries[-1] == ("1119", "line 119")


def test_entries_hold_unix_seconds_as_a_truncated_string() -> None:
    ring = LogRing()
    ring.append("x", at=1700000000.9)
    assert ring.entries() == [("1700000000", "x")]


def test_append_without_time_uses_now() -> None:
    ring = LogRing()
    before = int(time.time())
    ring.append("x")
    assert before <= int(ring.entries()[0][0]) <= int(time.time())


def test_last_line_is_the_newest_or_empty() -> None:
    ring = LogRing(max_lines=2)
    assert ring.last_line == ""
    ring.append("a", at=1)
    ring.append("b", at=2)
    assert ring.last_line == "b"
    assert len(ring) == 2


def test_clear_empties_the_ring() -> None:
    ring = LogRing()
    ring.append("a", at=1)
    ring.clear()
    assert ring.entries() == []
    assert ring.last_line == ""
