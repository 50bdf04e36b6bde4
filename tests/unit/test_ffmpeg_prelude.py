"""The stock Input/Output/Stream mapping dump and Core's completion rule (spec §9.3, §9.4)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ffmpeg_operator.core.ffmpeg.prelude import (
    PreludeDump,
    StreamInfo,
    io_id,
    parse_prelude,
    progress_ios,
)
from ffmpeg_operator.core.models import ProgressIO

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ffmpeg"


def stderr_lines(name: str) -> list[str]:
    text = (FIXTURES / name).read_bytes().decode()
    return [line for line in re.split(r"[\r\n]", text) if line]


def dump_of(name: str) -> PreludeDump:
    return parse_prelude(stderr_lines(name))


def test_header_gives_format_and_address_of_following_streams() -> None:
    dump = parse_prelude(
        [
            "Input #3, mov,mp4,m4a,3gp,3g2,mj2, from 'movie.mp4':",
            "  Stream #3:1(por): Subtitle: subrip",
            "Output #0, hls, to './data/testsrc.m3u8':",
            "  Stream #0:0: Video: h264, yuv420p, 1280x720, 25 fps",
        ]
    )
    assert (dump.inputs[0].format, dump.inputs[0].address) == (
        "mov,mp4,m4a,3gp,3g2,mj2",
        "movie.mp4",
    )
    assert (dump.outputs[0].format, dump.outputs[0].address) == ("hls", "./data/testsrc.m3u8")


# One row per stream-line form of §9.3: (line, expected attributes).
STREAM_ROWS = [
    (
        "  Stream #0:0: Video: rawvideo (RGB[24] / 0x18424752), rgb24, 1280x720 "
        "[SAR 1:1 DAR 16:9], 25 tbr, 25 tbn, 25 tbc",
        {
            "index": 0,
            "stream": 0,
            "type": "video",
            "codec": "rawvideo",
            "pix_fmt": "rgb24",
            "width": 1280,
            "height": 720,
            "fps": 0.0,
            "language": "und",
        },
    ),
    (
        "  Stream #1:0: Audio: pcm_u8, 44100 Hz, stereo, u8, 705 kb/s",
        {
            "index": 1,
            "type": "audio",
            "codec": "pcm_u8",
            "sampling_hz": 44100,
            "layout": "stereo",
            "bitrate_kbps": 705.0,
        },
    ),
    (
        "  Stream #0:0: Video: h264 (libx264), yuv420p(progressive), 1280x720 [SAR 1:1 DAR 16:9], "
        "q=-1--1, 25 fps, 90k tbn, 25 tbc",
        {"codec": "h264", "pix_fmt": "yuv420p", "width": 1280, "height": 720, "fps": 25.0},
    ),
    (
        "  Stream #0:1: Audio: aac (LC), 44100 Hz, stereo, fltp, 64 kb/s",
        {
            "stream": 1,
            "codec": "aac",
            "sampling_hz": 44100,
            "layout": "stereo",
            "bitrate_kbps": 64.0,
        },
    ),
    (
        "  Stream #4:0[0x100]: Video: h264 (Main) ([27][0][0][0] / 0x001B), yuv420p(tv, smpte170m/"
        "bt709/bt709, progressive), 1920x1080 [SAR 1:1 DAR 16:9], 25 tbr, 90k tbn",
        {"index": 4, "stream": 0, "pix_fmt": "yuv420p", "width": 1920, "height": 1080},
    ),
    (
        "  Stream #4:1[0x101]: Audio: aac (LC) ([15][0][0][0] / 0x000F), 48000 Hz, 5.1(side), "
        "fltp, 162 kb/s",
        {"sampling_hz": 48000, "layout": "5.1(side)", "bitrate_kbps": 162.0},
    ),
    (
        "  Stream #3:0(eng): Video: h264 (Main) (avc1 / 0x31637661), yuvj420p(pc, bt709), "
        "2560x1440 [SAR 1:1 DAR 16:9], 5894 kb/s, 23.98 fps, 25 tbr, 90k tbn, 50 tbc (default)",
        {
            "language": "eng",
            "pix_fmt": "yuvj420p",
            "width": 2560,
            "height": 1440,
            "fps": 23.98,
            "bitrate_kbps": 5894.0,
        },
    ),
    (
        "  Stream #3:1(por): Subtitle: subrip",
        {"type": "subtitle", "codec": "subrip", "language": "por"},
    ),
    # only three-letter languages are kept
    ("  Stream #0:0(english): Audio: aac, 48000 Hz, mono", {"language": "und", "layout": "mono"}),
    (
        "  Stream #0:0[0x1](und): Video: h264 (High), yuv420p(progressive), 640x360, 30 fps",
        {"language": "und", "width": 640, "fps": 30.0},
    ),
    # ffmpeg 9 names lavfi video wrapped_avframe
    (
        "  Stream #0:0: Video: wrapped_avframe, rgb24, 160x120 [SAR 1:1 DAR 4:3], 25 fps, 25 tbr",
        {"codec": "wrapped_avframe", "pix_fmt": "rgb24", "width": 160, "height": 120},
    ),
    # tab indentation (mpegts programs)
    (
        "\tStream #4:1[0x101]: Audio: aac (LC), 48000 Hz, stereo, fltp, 162 kb/s",
        {"index": 4, "stream": 1, "codec": "aac"},
    ),
]


@pytest.mark.parametrize(("line", "expected"), STREAM_ROWS)
def test_stream_line(line: str, expected: dict[str, object]) -> None:
    dump = parse_prelude(["Input #0, lavfi, from 'x':", line])
    (info,) = dump.inputs
    assert {name: getattr(info, name) for name in expected} == expected


def test_data_streams_are_not_parsed_like_core() -> None:
    dump = parse_prelude(["Input #0, mpegts, from 'x':", "  Stream #0:2[0x102]: Data: timed_id3"])
    assert dump.inputs == ()


def test_stream_line_before_any_header_is_ignored() -> None:
    assert parse_prelude(["  Stream #0:0: Video: h264, yuv420p, 640x360"]).inputs == ()


@pytest.mark.parametrize(
    ("line", "seconds"),
    [
        ("  Duration: 00:01:02.28, start: 0.000000, bitrate: 5895 kb/s", 62.28),
        ("  Duration: 01:00:00.50, start: 0.000000, bitrate: 5895 kb/s", 3600.5),
        ("  Duration: N/A, start: 0.000000, bitrate: N/A", 0.0),
    ],
)
def test_duration_applies_to_the_streams_after_it(line: str, seconds: float) -> None:
    dump = parse_prelude(["Input #0, mp4, from 'm.mp4':", line, "  Stream #0:0: Audio: aac"])
    assert dump.inputs[0].duration_sec == seconds


def test_duration_resets_at_the_next_header() -> None:
    dump = parse_prelude(
        [
            "Input #0, mp4, from 'm.mp4':",
            "  Duration: 00:01:02.28, start: 0.000000, bitrate: 5895 kb/s",
            "Input #1, lavfi, from 'anullsrc':",
            "  Stream #1:0: Audio: pcm_u8, 44100 Hz, stereo, u8, 705 kb/s",
        ]
    )
    assert dump.inputs[0].duration_sec == 0.0


# Stream mapping block forms of §9.4: (block lines, count).
MAPPING_ROWS = [
    (["  Stream #0:0 -> #0:0 (rawvideo (native) -> h264 (libx264))"], 1),
    (
        [
            "  Stream #0:0 -> #0:0 (rawvideo (native) -> h264 (libx264))",
            "  Stream #1:0 -> #0:1 (pcm_u8 (native) -> aac (native))",
        ],
        2,
    ),
    (
        [
            "  Stream #0:0 (rawvideo) -> scale:default",
            "  scale:default -> Stream #0:0 (wrapped_avframe)",
        ],
        1,
    ),
    (
        [
            "  Stream #0:0 (wrapped_avframe) -> hstack",
            "  Stream #1:0 (wrapped_avframe) -> hstack",
            "  hstack:default -> Stream #0:0 (wrapped_avframe)",
        ],
        2,
    ),
    ([], 0),
]


@pytest.mark.parametrize(("block", "count"), MAPPING_ROWS)
def test_mapping_count_counts_lines_starting_with_stream(block: list[str], count: int) -> None:
    lines = ["Stream mapping:", *block, "Press [q] to stop, [?] for help"]
    assert parse_prelude(lines).mapping_count == count


def test_mapping_lines_are_not_taken_for_stream_lines() -> None:
    dump = parse_prelude(
        [
            "Output #0, null, to 'pipe:':",
            "Stream mapping:",
            "  Stream #0:0 -> #0:0 (wrapped_avframe (native) -> wrapped_avframe (native))",
        ]
    )
    assert dump.outputs == ()


def test_output_header_right_after_the_mapping_is_parsed() -> None:
    dump = parse_prelude(
        [
            "Input #0, lavfi, from 'anullsrc':",
            "Stream mapping:",
            "  Stream #0:0 -> #0:0 (pcm_u8 (native) -> pcm_s16le (native))",
            "Output #0, null, to 'pipe:':",
            "  Stream #0:0: Audio: pcm_s16le, 44100 Hz, stereo, s16, 1411 kb/s",
        ]
    )
    assert len(dump.outputs) == 1 and dump.complete


@pytest.mark.parametrize(
    ("fixture", "inputs", "outputs", "mapping", "complete"),
    [
        ("ffmpeg9_video_null.stderr", 1, 1, 1, True),
        ("ffmpeg9_audio_only.stderr", 1, 1, 1, True),
        ("ffmpeg9_multi_stream.stderr", 2, 2, 2, True),
        # two filter inputs are counted, one output stream exists: never complete (§4.6)
        ("ffmpeg9_filter_complex.stderr", 2, 1, 2, False),
        ("ffmpeg9_loglevel_error_stats.stderr", 0, 0, 0, True),
        ("ffmpeg51_video_x264.stderr", 1, 1, 1, True),
        ("ffmpeg51_audio_only.stderr", 1, 1, 1, True),
    ],
)
def test_captured_dump(
    fixture: str, inputs: int, outputs: int, mapping: int, complete: bool
) -> None:
    dump = dump_of(fixture)
    assert (len(dump.inputs), len(dump.outputs), dump.mapping_count, dump.complete) == (
        inputs,
        outputs,
        mapping,
        complete,
    )


def test_captured_multi_stream_details() -> None:
    dump = dump_of("ffmpeg9_multi_stream.stderr")
    video, audio = dump.outputs
    assert video == StreamInfo(
        direction="output", address="/dev/null", format="mpegts", index=0, stream=0,
        type="video", codec="mpeg4", bitrate_kbps=200.0, fps=25.0, pix_fmt="yuv420p",
        width=160, height=120,
    )  # fmt: skip
    assert (audio.codec, audio.sampling_hz, audio.layout, audio.bitrate_kbps) == (
        "aac",
        44100,
        "stereo",
        128.0,
    )
    assert [info.address for info in dump.inputs] == [
        "testsrc=size=160x120:rate=25",
        "anullsrc=r=44100:cl=stereo",
    ]


def test_output_to_dash_is_printed_as_pipe() -> None:
    assert dump_of("ffmpeg9_video_null.stderr").outputs[0].address == "pipe:"


@pytest.mark.parametrize(("index", "expected"), [(0, "video"), (1, "audio"), (2, ""), (-1, "")])
def test_io_id_by_file_index(index: int, expected: str) -> None:
    assert io_id(["video", "audio"], index) == expected


def test_progress_ios_carry_static_data_and_config_ids() -> None:
    dump = dump_of("ffmpeg9_multi_stream.stderr")
    inputs = progress_ios(dump.inputs, ["in_video", "in_audio"])
    assert inputs[0] == ProgressIO(
        id="in_video", address="testsrc=size=160x120:rate=25", index=0, stream=0,
        format="lavfi", type="video", codec="wrapped_avframe", pix_fmt="rgb24",
        width=160, height=120,
    )  # fmt: skip
    assert (inputs[1].id, inputs[1].sampling_hz, inputs[1].layout) == ("in_audio", 44100, "stereo")


def test_progress_ios_leave_counters_at_zero() -> None:
    (entry,) = progress_ios(dump_of("ffmpeg9_video_null.stderr").outputs, ["null"])
    assert (entry.frame, entry.packet, entry.fps, entry.bitrate_kbit, entry.coder) == (
        0,
        0,
        0.0,
        0.0,
        "",
    )
    assert "channels" not in entry.model_dump()


def test_progress_ios_of_unknown_file_index_get_empty_id() -> None:
    (entry,) = progress_ios(dump_of("ffmpeg9_video_null.stderr").outputs, [])
    assert entry.id == ""
