"""``-progress`` key=value blocks (spec §9.4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ffmpeg_operator.core.ffmpeg.progress_block import (
    ProgressBlock,
    ProgressBlockParser,
    StreamQ,
    build_block,
)
from ffmpeg_operator.core.ffmpeg.sample import ProgressSample

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ffmpeg"

VIDEO_BLOCK = """frame=38
fps=37.98
stream_0_0_q=2.0
bitrate= 397.3kbits/s
total_size=176206
out_time_us=1520000
out_time_ms=1520000
out_time=00:00:01.520000
dup_frames=1
drop_frames=3
speed=1.52x
progress=continue
"""


def blocks(text: str) -> list[ProgressBlock]:
    parser = ProgressBlockParser()
    found = [parser.feed(line) for line in text.splitlines()]
    return [block for block in found if block is not None]


def block_of(**values: str) -> ProgressBlock:
    return build_block(values)


def test_block_is_yielded_only_at_the_progress_line() -> None:
    parser = ProgressBlockParser()
    lines = VIDEO_BLOCK.splitlines()
    assert [parser.feed(line) for line in lines[:-1]] == [None] * (len(lines) - 1)
    assert parser.feed(lines[-1]) is not None


def test_video_block_fields() -> None:
    (block,) = blocks(VIDEO_BLOCK)
    assert (block.frame, block.fps, block.bitrate_kbit, block.total_size) == (
        38,
        37.98,
        397.3,
        176206,
    )
    assert (block.out_time_us, block.dup_frames, block.drop_frames, block.speed) == (
        1520000,
        1,
        3,
        1.52,
    )
    assert block.stream_q == (StreamQ(0, 0, 2.0),)
    assert block.ended is False


def test_video_block_as_sample() -> None:
    (block,) = blocks(VIDEO_BLOCK)
    assert block.sample() == ProgressSample(
        frame=38, q=2.0, size_bytes=176206, time_sec=1.52, speed=1.52, drop=3, dup=1
    )


def test_progress_end_marks_the_last_block() -> None:
    (block,) = blocks(VIDEO_BLOCK.replace("progress=continue", "progress=end"))
    assert block.ended is True


@pytest.mark.parametrize(
    ("values", "field", "expected"),
    [
        ({"bitrate": "N/A"}, "bitrate_kbit", None),
        ({"total_size": "N/A"}, "total_size", None),
        ({"speed": "   0x"}, "speed", 0.0),
        ({"speed": "   2x"}, "speed", 2.0),
        ({"speed": "N/A"}, "speed", None),
        ({"fps": "0.00"}, "fps", 0.0),
        ({"out_time_us": "N/A"}, "out_time_us", None),
        # out_time_ms carries microseconds (ffmpeg quirk)
        ({"out_time_ms": "2000000"}, "out_time_us", 2000000),
        ({"out_time_us": "1000000", "out_time_ms": "999"}, "out_time_us", 1000000),
        ({"out_time": "00:01:02.280000"}, "out_time_us", 62280000),
        ({"out_time": "N/A"}, "out_time_us", None),
        # negative times at the start of a run are ignored
        ({"out_time_us": "-40000"}, "out_time_us", None),
        ({"out_time": "-00:00:00.040000"}, "out_time_us", None),
        ({"frame": "N/A"}, "frame", None),
        ({"fps": "1.2.3"}, "fps", None),
    ],
)
def test_block_value(values: dict[str, str], field: str, expected: object) -> None:
    assert getattr(block_of(**values), field) == expected


def test_audio_only_block_has_no_frame_and_no_q() -> None:
    (first, *_) = blocks((FIXTURES / "ffmpeg9_progress_audio.stdout").read_text())
    assert first.frame is None and first.fps is None and first.q is None
    assert first.sample() == ProgressSample(
        size_bytes=176206, time_sec=1.021678, speed=2.04, drop=0, dup=0
    )


def test_q_is_the_first_non_negative_stream_q() -> None:
    block = block_of(stream_0_0_q="-1.0", stream_0_1_q="27.0", stream_1_0_q="30.0")
    assert block.q == 27.0
    assert [entry.stream for entry in block.stream_q] == [0, 1, 0]


def test_unparsable_stream_q_is_skipped() -> None:
    assert block_of(stream_0_0_q="N/A").stream_q == ()


def test_raw_values_are_kept_stripped() -> None:
    (block,) = blocks(VIDEO_BLOCK)
    assert block.values["bitrate"] == "397.3kbits/s"


def test_lines_without_key_value_are_ignored() -> None:
    parser = ProgressBlockParser()
    assert parser.feed("") is None
    assert parser.feed("=5") is None
    assert parser.feed("garbage") is None
    block = parser.feed("progress=continue")
    assert block is not None and block.values == {}


def test_reset_drops_a_partial_block() -> None:
    parser = ProgressBlockParser()
    parser.feed("frame=10")
    parser.reset()
    block = parser.feed("progress=continue")
    assert block is not None and block.frame is None


def test_captured_video_blocks() -> None:
    found = blocks((FIXTURES / "ffmpeg9_progress_video.stdout").read_text())
    assert [block.frame for block in found] == [25, 38, 50, 50]
    assert [block.out_time_us for block in found] == [1000000, 1520000, None, 2000000]
    assert [block.speed for block in found] == [2.0, 1.52, None, 1.3]
    assert [block.ended for block in found] == [False, False, False, True]
    assert all(block.total_size is None for block in found)


def test_captured_audio_blocks_grow_in_size_and_time() -> None:
    found = blocks((FIXTURES / "ffmpeg9_progress_audio.stdout").read_text())
    assert [block.total_size for block in found] == [176206, 262144, 262144, 352878]
    assert [block.out_time_us for block in found] == [1021678, 1509297, 2000000, 2000000]
