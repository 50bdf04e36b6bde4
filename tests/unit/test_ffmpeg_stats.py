"""Stock ffmpeg stats lines (spec §9.3, §9.4) and progress/log line classification (§2.5)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ffmpeg_operator.core.ffmpeg.sample import ProgressSample
from ffmpeg_operator.core.ffmpeg.stats import is_progress_line, is_stats_line, parse_stats_line

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ffmpeg"

CORE_TEST_LINE = (
    "frame= 5968 fps= 25 q=19.4 size=443kB time=00:03:58.44 bitrate=5632kbits/s speed=0.999x "
    "skip=9733 drop=3522 dup=87463"
)


def stderr_lines(name: str) -> list[str]:
    """A fixture split like Core's scanner: on \\n, \\r or \\r\\n, empty lines dropped."""
    text = (FIXTURES / name).read_bytes().decode()
    return [line for line in re.split(r"[\r\n]", text) if line]


def test_core_test_line_gives_cores_values() -> None:
    assert parse_stats_line(CORE_TEST_LINE) == ProgressSample(
        frame=5968, q=19.4, size_bytes=453632, time_sec=238.44, speed=0.999, drop=3522, dup=87463
    )


def test_core_test_line_size_is_443_kib() -> None:
    sample = parse_stats_line(CORE_TEST_LINE)
    assert sample is not None and sample.size_bytes is not None
    assert sample.size_bytes // 1024 == 443


# One row per format item of §9.3/§9.4: (line, field, expected value).
STATS_ROWS = [
    # frame=%5d, padded
    (
        "frame=    1 fps=0.0 q=0.0 size=       0kB time=00:00:00.00 bitrate=N/A speed=N/A",
        "frame",
        1,
    ),
    # fps is ignored (not in the sample at all), q=%3.1f
    (
        "frame=   26 fps= 25 q=28.0 size=      27kB time=00:00:00.48 bitrate= 461.4kbits/s "
        "speed=0.942x",
        "q",
        28.0,
    ),
    # size=%8.0fkB
    (
        "frame=   26 fps= 25 q=28.0 size=      27kB time=00:00:00.48 bitrate= 461.4kbits/s "
        "speed=0.942x",
        "size_bytes",
        27 * 1024,
    ),
    # ffmpeg >= 6.1 writes KiB
    (
        "frame=   25 fps=0.0 q=1.6 size=      29KiB time=00:00:01.00 bitrate= 239.1kbits/s "
        "speed=   2x",
        "size_bytes",
        29 * 1024,
    ),
    # final line: Lsize=
    (
        "frame=   50 fps= 25 q=-1.0 Lsize=     104kB time=00:00:01.92 bitrate= 443.7kbits/s "
        "dup=0 drop=2 speed=0.958x",
        "size_bytes",
        104 * 1024,
    ),
    # size=N/A leaves the size unknown
    (
        "frame=   25 fps=0.0 q=-0.0 size=N/A time=00:00:01.00 bitrate=N/A speed=   2x",
        "size_bytes",
        None,
    ),
    # time=HH:MM:SS.cc
    (
        "frame=   26 fps= 25 q=28.0 size=      27kB time=00:00:00.48 bitrate= 461.4kbits/s "
        "speed=0.942x",
        "time_sec",
        0.48,
    ),
    (
        "frame= 5968 fps= 25 q=19.4 size=443kB time=01:03:58.44 bitrate=5632kbits/s speed=1x",
        "time_sec",
        3838.44,
    ),
    # negative time is ignored
    (
        "frame=   13 fps=0.0 q=28.0 size=       0kB time=-00:00:00.04 bitrate=N/A speed=N/A",
        "time_sec",
        None,
    ),
    # speed=%4.3gx, padded
    ("frame=   25 fps=0.0 q=-0.0 size=N/A time=00:00:01.00 bitrate=N/A speed=   2x", "speed", 2.0),
    (
        "frame=   26 fps= 25 q=28.0 size=      27kB time=00:00:00.48 bitrate=N/A speed=0.942x",
        "speed",
        0.942,
    ),
    # %g switches to exponent form when very fast
    ("size=     345kB time=00:00:02.00 bitrate=1411.4kbits/s speed=1.23e+03x", "speed", 1230.0),
    # speed=N/A
    (
        "frame=    1 fps=0.0 q=0.0 size=       0kB time=00:00:00.00 bitrate=N/A speed=N/A",
        "speed",
        None,
    ),
    # dup/drop only when non-zero
    (
        "frame=   38 fps= 25 q=28.0 size=      59kB time=00:00:00.96 bitrate= 503.4kbits/s "
        "dup=0 drop=2 speed=0.965x",
        "drop",
        2,
    ),
    (
        "frame=   38 fps= 25 q=28.0 size=      59kB time=00:00:00.96 bitrate= 503.4kbits/s "
        "dup=5 drop=0 speed=0.965x",
        "dup",
        5,
    ),
    (
        "frame=   26 fps= 25 q=28.0 size=      27kB time=00:00:00.48 bitrate=N/A speed=0.942x",
        "drop",
        None,
    ),
    # q=-1.0 is not captured
    (
        "frame=   50 fps= 25 q=-1.0 Lsize=     104kB time=00:00:01.92 bitrate= 443.7kbits/s "
        "speed=0.958x",
        "q",
        None,
    ),
    # extra video outputs add q= only: the first non-negative one wins
    (
        "frame=  100 fps= 25 q=-1.0 q=27.0 size=     200kB time=00:00:04.00 bitrate= 409.6kbits/s "
        "speed=   1x",
        "q",
        27.0,
    ),
    (
        "frame=  100 fps= 25 q=28.0 q=27.0 size=     200kB time=00:00:04.00 bitrate= 409.6kbits/s "
        "speed=   1x",
        "q",
        28.0,
    ),
    # audio-only outputs start with size= and have no frame/q
    ("size=     173kB time=00:00:01.00 bitrate=1411.8kbits/s speed=1.99x", "frame", None),
    ("size=     173kB time=00:00:01.00 bitrate=1411.8kbits/s speed=1.99x", "q", None),
    (
        "size=     173kB time=00:00:01.00 bitrate=1411.8kbits/s speed=1.99x",
        "size_bytes",
        173 * 1024,
    ),
    ("Lsize=     345kB time=00:00:02.00 bitrate=1411.4kbits/s speed=1.32x", "time_sec", 2.0),
    # the packet counter never comes from a stats line
    (CORE_TEST_LINE, "packet", None),
]


@pytest.mark.parametrize(("line", "field", "expected"), STATS_ROWS)
def test_stats_line_field(line: str, field: str, expected: object) -> None:
    sample = parse_stats_line(line)
    assert sample is not None
    assert getattr(sample, field) == expected


def test_malformed_number_is_ignored_not_an_error() -> None:
    sample = parse_stats_line("frame=    1 q=1.2.3 speed=.x")
    assert sample is not None and sample.q is None and sample.speed is None


@pytest.mark.parametrize(
    "line",
    [
        "Stream mapping:",
        "[out#0/null @ 0x5634c6dc1700] video:21KiB audio:0KiB subtitle:0KiB",
        "Press [q] to stop, [?] for help",
    ],
)
def test_non_stats_line_gives_no_sample(line: str) -> None:
    assert parse_stats_line(line) is None


@pytest.mark.parametrize(
    ("line", "progress"),
    [
        ("frame=   25 fps=0.0 q=-0.0 size=N/A time=00:00:01.00 bitrate=N/A speed=   2x", True),
        ('ffmpeg.progress:{"frame":2}', True),
        ('avstream.progress:{"address":"x"}', True),
        # Core looks at the line start only: the audio-only stats line is logged
        ("size=     173kB time=00:00:01.00 bitrate=1411.8kbits/s speed=1.99x", False),
        ("Lsize=     345kB time=00:00:02.00 bitrate=1411.4kbits/s speed=1.32x", False),
        ("Input #0, lavfi, from 'anullsrc':", False),
        ("  frame=1", False),
        ("Exiting normally, received signal 2.", False),
    ],
)
def test_is_progress_line_follows_cores_prefixes(line: str, progress: bool) -> None:
    assert is_progress_line(line) is progress


@pytest.mark.parametrize(
    ("line", "stats"),
    [
        ("frame=   25 fps=0.0 q=-0.0 size=N/A time=00:00:01.00", True),
        ("size=N/A time=00:00:02.00 bitrate=N/A speed= 1.3x", True),
        ("Lsize=     345kB time=00:00:02.00", True),
        ('ffmpeg.progress:{"frame":2}', False),
        ("video:0kB audio:345kB subtitle:0kB", False),
    ],
)
def test_is_stats_line_includes_audio_only_lines(line: str, stats: bool) -> None:
    assert is_stats_line(line) is stats


def test_captured_video_run_final_line() -> None:
    samples = [parse_stats_line(line) for line in stderr_lines("ffmpeg9_video_null.stderr")]
    parsed = [sample for sample in samples if sample is not None]
    assert [sample.frame for sample in parsed] == [25, 38, 50, 50]
    assert parsed[-1] == ProgressSample(frame=50, time_sec=2.0, speed=1.3)


def test_captured_stats_lines_are_cr_terminated() -> None:
    raw = (FIXTURES / "ffmpeg9_video_null.stderr").read_bytes()
    assert b"speed=1.52x elapsed=0:00:01.00    \rframe=   50" in raw


def test_captured_audio_only_run_has_time_but_no_frame() -> None:
    samples = [parse_stats_line(line) for line in stderr_lines("ffmpeg9_audio_only.stderr")]
    parsed = [sample for sample in samples if sample is not None]
    assert [sample.time_sec for sample in parsed] == [1.02, 1.5, 2.0, 2.0]
    assert all(sample.frame is None for sample in parsed)


def test_captured_kib_sizes_are_read() -> None:
    samples = [parse_stats_line(line) for line in stderr_lines("ffmpeg9_multi_stream.stderr")]
    sizes = [sample.size_bytes for sample in samples if sample is not None]
    assert sizes == [29 * 1024, 45 * 1024, 62 * 1024, 70 * 1024]


def test_ffmpeg51_run_sizes_in_kb() -> None:
    samples = [parse_stats_line(line) for line in stderr_lines("ffmpeg51_video_x264.stderr")]
    parsed = [sample for sample in samples if sample is not None]
    assert [sample.size_bytes for sample in parsed] == [0, 0, 27648, 60416, 106496]
    assert [sample.time_sec for sample in parsed] == [0.0, None, 0.48, 0.96, 1.92]


def test_loglevel_error_with_stats_still_prints_a_stats_line() -> None:
    lines = stderr_lines("ffmpeg9_loglevel_error_stats.stderr")
    assert len(lines) == 1 and is_progress_line(lines[0])


def test_loglevel_error_without_stats_prints_nothing() -> None:
    assert stderr_lines("ffmpeg9_loglevel_error.stderr") == []
