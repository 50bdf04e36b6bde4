"""Core's handling of stock stderr line by line: log vs progress, prelude (§2.5, §4.6, §9.3)."""

from __future__ import annotations

import re
from pathlib import Path

from ffmpeg_operator.core.ffmpeg.stderr import StderrLine, StockStderr

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ffmpeg"


def stderr_lines(name: str) -> list[str]:
    text = (FIXTURES / name).read_bytes().decode()
    return [line for line in re.split(r"[\r\n]", text) if line]


def run(name: str) -> tuple[StockStderr, list[tuple[str, StderrLine]]]:
    parser = StockStderr()
    return parser, [(line, parser.feed(line)) for line in stderr_lines(name)]


def test_video_run_completes_prelude_at_first_frame_line() -> None:
    parser, events = run("ffmpeg9_video_null.stderr")
    first_frame = next(i for i, (line, _) in enumerate(events) if line.startswith("frame="))
    assert events[first_frame][1].core_progress is True
    assert all(not event.core_progress for _, event in events[:first_frame])
    assert parser.prelude_complete


def test_prelude_holds_the_lines_before_progress() -> None:
    parser, _ = run("ffmpeg9_video_null.stderr")
    prelude = parser.prelude()
    assert prelude[0] == "Input #0, lavfi, from 'testsrc=size=160x120:rate=25':"
    assert prelude[-1] == "      encoder         : Lavc63.1.102 wrapped_avframe"
    assert not any(line.startswith("[out#0") for line in prelude)


def test_frame_lines_are_progress_and_never_log() -> None:
    _, events = run("ffmpeg9_video_null.stderr")
    kinds = {line.split("=")[0]: event.kind for line, event in events if line.startswith("frame=")}
    assert kinds == {"frame": "progress"}
    logged = [line for line, event in events if event.kind == "log"]
    assert logged[-1].startswith("[out#0/null")


def test_every_stats_line_carries_its_sample() -> None:
    _, events = run("ffmpeg9_video_null.stderr")
    frames = [event.sample.frame for _, event in events if event.sample is not None]
    assert frames == [25, 38, 50, 50]


def test_dump_after_first_frame_line_completes_later() -> None:
    # Core test "DefaultDelayed": the output dump follows the first stats line.
    parser, events = run("ffmpeg51_output_dump_delayed.stderr")
    progress = [event.core_progress for line, event in events if line.startswith("frame=")]
    assert progress == [False, True, True]
    assert parser.dump is not None and len(parser.dump.outputs) == 1
    assert parser.prelude()[-1].startswith("  Stream #0:0: Video: h264")


def test_filter_complex_prelude_never_completes_but_samples_flow() -> None:
    parser, events = run("ffmpeg9_filter_complex.stderr")
    assert not parser.prelude_complete
    assert not any(event.core_progress for _, event in events)
    assert [event.sample.frame for _, event in events if event.sample] == [25, 38, 50, 50]
    assert len(parser.current_dump().outputs) == 1


def test_audio_only_stats_lines_are_logged_like_core() -> None:
    parser, events = run("ffmpeg9_audio_only.stderr")
    stats = [(event.kind, event.sample is not None) for line, event in events
             if line.startswith("size=")]  # fmt: skip
    assert stats == [("log", True)] * 4
    assert not parser.prelude_complete
    assert parser.prelude()[-1].startswith("size=N/A time=00:00:02.00")


def test_quiet_log_level_with_stats_completes_on_empty_dump() -> None:
    parser, events = run("ffmpeg9_loglevel_error_stats.stderr")
    assert [event.core_progress for _, event in events] == [True]
    assert parser.dump is not None and parser.dump.outputs == ()
    assert parser.prelude() == []


def test_lines_after_prelude_completion_are_not_added() -> None:
    parser, _ = run("ffmpeg9_sigint.stderr")
    assert "Exiting normally, received signal 2." not in parser.prelude()


def test_jsonstats_progress_lines_are_progress_without_sample() -> None:
    parser = StockStderr()
    event = parser.feed('ffmpeg.progress:{"frame":2}')
    assert event == StderrLine("progress", None, False)
    assert parser.prelude() == []


def test_current_dump_before_completion_parses_collected_lines() -> None:
    parser = StockStderr()
    parser.feed("Input #0, lavfi, from 'anullsrc':")
    parser.feed("  Stream #0:0: Audio: pcm_u8, 44100 Hz, stereo, u8, 705 kb/s")
    assert parser.dump is None
    assert len(parser.current_dump().inputs) == 1


def test_the_report_banner_ffreport_prints_first_is_neither_logged_nor_prelude() -> None:
    stderr = StockStderr()
    banner = [
        "ffmpeg started on 2026-12-07 at 12:53:56",
        'Report written to "/dev/fd/7"',
        "Log level: 32",
    ]
    kinds = [stderr.feed(line).kind for line in [*banner, "Input #0, lavfi, from 'x':"]]

    assert kinds == ["hidden", "hidden", "hidden", "log"]
    assert stderr.prelude() == ["Input #0, lavfi, from 'x':"]
    assert stderr.feed("Log level: 32").kind == "log"  # later it is an ordinary line


def _without_stats(name: str) -> list[str]:
    # What stderr carries under -nostats: everything but the periodic stats lines.
    return [line for line in stderr_lines(name) if not line.startswith("frame=")]


def test_a_progress_report_from_elsewhere_ends_a_complete_prelude() -> None:
    parser = StockStderr()
    lines = _without_stats("ffmpeg9_video_null.stderr")
    encoder = lines.index("      encoder         : Lavc63.1.102 wrapped_avframe")
    for line in lines[: encoder + 1]:
        parser.feed(line)
    parser.progress_seen()
    for line in lines[encoder + 1 :]:
        parser.feed(line)
    assert parser.prelude_complete
    assert parser.prelude()[-1] == "      encoder         : Lavc63.1.102 wrapped_avframe"
    assert "Exiting normally, received signal 2." not in parser.prelude()


def test_a_progress_report_from_elsewhere_leaves_an_incomplete_prelude_open() -> None:
    parser = StockStderr()
    for line in _without_stats("ffmpeg9_filter_complex.stderr"):
        parser.feed(line)
    parser.progress_seen()
    parser.feed("[hstack @ 0x1] a warning after the first progress report")
    assert not parser.prelude_complete
    assert parser.prelude()[-1] == "[hstack @ 0x1] a warning after the first progress report"
