"""Probe results from the stock input dump (spec §2.8, §9.5, §12 case 41)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ffmpeg_operator.core.ffmpeg.probe import parse_probe
from ffmpeg_operator.core.models import DATARHEI_NUMBERS, ProbeIO

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ffmpeg"


def stderr_lines(name: str) -> list[str]:
    text = (FIXTURES / name).read_bytes().decode()
    return [line for line in re.split(r"[\r\n]", text) if line]


def test_case_41_captured_lavfi_probe() -> None:
    (stream,) = parse_probe(stderr_lines("ffmpeg9_probe_testsrc.stderr")).streams
    # ffmpeg 9 names the lavfi codec wrapped_avframe (ffmpeg 5.1: rawvideo, see next test)
    assert stream == ProbeIO(
        url="testsrc=size=1280x720:rate=25", format="lavfi", index=0, stream=0, type="video",
        codec="wrapped_avframe", pix_fmt="rgb24", width=1280, height=720, language="und",
        fps=25.0,
    )  # fmt: skip


def test_case_41_ffmpeg51_lavfi_probe() -> None:
    (stream,) = parse_probe(stderr_lines("ffmpeg51_probe_testsrc.stderr")).streams
    assert (stream.url, stream.format, stream.index, stream.stream, stream.type) == (
        "testsrc=size=1280x720:rate=25",
        "lavfi",
        0,
        0,
        "video",
    )
    assert (stream.codec, stream.pix_fmt, stream.width, stream.height, stream.language) == (
        "rawvideo",
        "rgb24",
        1280,
        720,
        "und",
    )


def test_probe_log_is_every_line() -> None:
    lines = stderr_lines("ffmpeg9_probe_testsrc.stderr")
    probe = parse_probe(lines)
    assert probe.log == lines
    assert probe.log[-1] == "At least one output file must be specified"


MULTI = parse_probe(stderr_lines("ffmpeg51_probe_multi.stderr")).streams


def test_multi_probe_has_one_entry_per_stream_without_data_streams() -> None:
    assert [(s.index, s.stream, s.type) for s in MULTI] == [
        (0, 0, "video"), (1, 0, "audio"), (2, 0, "video"), (2, 1, "subtitle"),
        (3, 0, "video"), (3, 1, "audio"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        (
            2,
            {
                "url": "movie.mp4",
                "format": "mov,mp4,m4a,3gp,3g2,mj2",
                "language": "eng",
                "codec": "h264",
                "bitrate_kbps": 5894.0,
                "duration_sec": 62.28,
                "fps": 23.98,
                "pix_fmt": "yuvj420p",
                "width": 2560,
                "height": 1440,
            },
        ),
        (
            3,
            {
                "url": "movie.mp4",
                "language": "por",
                "type": "subtitle",
                "codec": "subrip",
                "duration_sec": 62.28,
                "bitrate_kbps": 0.0,
            },
        ),
        (
            1,
            {
                "url": "anullsrc=r=44100:cl=stereo",
                "format": "lavfi",
                "type": "audio",
                "codec": "pcm_u8",
                "bitrate_kbps": 705.0,
                "sampling_hz": 44100,
                "layout": "stereo",
                "duration_sec": 0.0,
                "language": "und",
            },
        ),
        (
            4,
            {
                "format": "mpegts",
                "codec": "h264",
                "pix_fmt": "yuv420p",
                "width": 1920,
                "height": 1080,
                "fps": 25.0,
            },
        ),
        (
            5,
            {
                "language": "deu",
                "codec": "aac",
                "sampling_hz": 48000,
                "layout": "5.1(side)",
                "bitrate_kbps": 162.0,
            },
        ),
    ],
)
def test_multi_probe_stream(position: int, expected: dict[str, object]) -> None:
    stream = MULTI[position]
    assert {name: getattr(stream, name) for name in expected} == expected


def test_stock_probe_never_fills_coder_or_channels() -> None:
    assert {(s.coder, s.channels) for s in MULTI} == {("", 0)}


def test_probe_numbers_use_rule_a() -> None:
    data = MULTI[2].model_dump(context={DATARHEI_NUMBERS: True})
    assert [data[key].text for key in ("bitrate_kbps", "duration_sec", "fps")] == [
        "5894",
        "62.280",
        "23.980",
    ]


def test_jsonstats_inputs_line_wins_over_the_dump() -> None:
    item = {"url": "https://x/y.m3u8", "format": "playout", "index": 0, "stream": 0,
            "type": "video", "codec": "h264", "coder": "h264", "fps": 20.666666,
            "pix_fmt": "yuvj420p", "width": 1280, "height": 720, "language": "und"}  # fmt: skip
    lines = ["foobar", "ffmpeg.inputs:" + json.dumps([item]),
             *stderr_lines("ffmpeg9_probe_testsrc.stderr")]  # fmt: skip
    probe = parse_probe(lines)
    assert probe.streams == [ProbeIO.model_validate(item)]
    assert probe.log[0] == "foobar"


@pytest.mark.parametrize("payload", ["not json", "42", '[{"index": "x"}]'])
def test_broken_jsonstats_line_falls_back_to_the_dump(payload: str) -> None:
    lines = ["ffmpeg.inputs:" + payload, *stderr_lines("ffmpeg9_probe_testsrc.stderr")]
    assert [s.codec for s in parse_probe(lines).streams] == ["wrapped_avframe"]


def test_missing_input_probe_has_no_streams() -> None:
    lines = [
        "[in#0 @ 0x55e99970dd00] Error opening input: No such file or directory",
        "Error opening input file /nonexistent/file.mp4.",
    ]
    assert parse_probe(lines).streams == []
