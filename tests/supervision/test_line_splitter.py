"""Splitting ffmpeg's stderr into lines (spec §9.2)."""

from __future__ import annotations

import pytest

from ffmpeg_operator.supervision.lines import LineSplitter


def split_all(*chunks: bytes, max_line_bytes: int | None = None) -> list[str]:
    splitter = LineSplitter() if max_line_bytes is None else LineSplitter(max_line_bytes)
    lines: list[str] = []
    for chunk in chunks:
        lines += splitter.feed(chunk)
    return lines + splitter.flush()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"a\nb\n", ["a", "b"]),
        (b"a\rb\r", ["a", "b"]),
        (b"a\r\nb\r\n", ["a", "b"]),
        (b"frame=1\rframe=2\rdone\n", ["frame=1", "frame=2", "done"]),
        (b"a\n\n\r\r\nb\n", ["a", "b"]),
        (b"\r\n\n", []),
        (b"  \n", ["  "]),
    ],
    ids=["lf", "cr", "crlf", "stats-cr-then-lf", "empty-lines-skipped", "only-ends", "blank"],
)
def test_lines_end_at_lf_cr_or_crlf_and_empty_lines_are_skipped(
    data: bytes, expected: list[str]
) -> None:
    assert split_all(data) == expected


def test_a_line_cut_at_every_position_comes_out_whole() -> None:
    data = "Stream #0:0 → é\r\nframe=  10\rlast".encode()
    for cut in range(len(data) + 1):
        assert split_all(data[:cut], data[cut:]) == ["Stream #0:0 → é", "frame=  10", "last"]


def test_byte_by_byte_feeding_gives_the_same_lines() -> None:
    data = b"one\r\ntwo\rthree\n"
    assert split_all(*(data[i : i + 1] for i in range(len(data)))) == ["one", "two", "three"]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    assert split_all(b"bad \xff byte\n") == ["bad \ufffd byte"]


def test_unterminated_last_line_is_returned_by_flush_only() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"tail") == []
    assert splitter.flush() == ["tail"]
    assert splitter.flush() == []


def test_an_endless_line_is_emitted_in_pieces() -> None:
    assert split_all(b"abcdefgh", max_line_bytes=3) == ["abc", "def", "gh"]
