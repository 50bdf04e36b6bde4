"""Per-stream statistics lines of stock ffmpeg and the live figures they give an output."""

from __future__ import annotations

from ffmpeg_operator.core.ffmpeg.prelude import DumpCollector, parse_prelude
from ffmpeg_operator.core.ffmpeg.sample import ProgressSample
from ffmpeg_operator.core.ffmpeg.streamstats import (
    StreamPacket,
    parse_mux_stats_line,
    parse_stream_stats_line,
    parse_vstats_line,
    supports_mux_stats,
)
from ffmpeg_operator.core.progress import ProgressTracker

VSTATS_5_1 = (
    "out=  0 st=  0 frame=     1 q= 28.0 f_size=    166 s_size=        2kB time= 0.010 "
    "br=    33.2kbits/s avg_br=  1994.4kbits/s type= P"
)
VSTATS_9 = (
    "out=  0 st=  0 frame=     0 q= 28.0 f_size=   2520 s_size=        0KiB time= 0.010 "
    "br=   504.0kbits/s avg_br=     0.0kbits/s type= I"
)
DUMP = [
    "Input #0, lavfi, from 'testsrc=size=160x120:rate=25':",
    "  Duration: N/A, start: 0.000000, bitrate: N/A",
    "  Stream #0:0: Video: rawvideo (RGB[24] / 0x18424752), rgb24, 160x120, 25 tbr, 25 tbn",
    "Input #1, lavfi, from 'sine':",
    "  Stream #1:0: Audio: pcm_s16le, 44100 Hz, mono, s16, 705 kb/s",
    "Stream mapping:",
    "  Stream #0:0 -> #0:0 (rawvideo (native) -> h264 (libx264))",
    "  Stream #1:0 -> #0:1 (pcm_s16le (native) -> aac (native))",
    "Output #0, mpegts, to 'pipe:':",
    "  Stream #0:0: Video: h264, yuv444p(tv, progressive), 160x120, q=2-31, 25 fps, 90k tbn",
    "  Stream #0:1: Audio: aac (LC), 44100 Hz, mono, fltp, 69 kb/s",
]


def test_a_mux_stats_line_is_one_packet_counted_from_one() -> None:
    assert parse_mux_stats_line("0 1 41 218 K") == StreamPacket(0, 1, 42, 218, True)


def test_other_lines_are_not_packets() -> None:
    assert parse_stream_stats_line("frame=1 fps=0") is None


def test_vstats_lines_of_5_1_and_9_are_encoded_frames_with_their_quantizer() -> None:
    assert parse_vstats_line(VSTATS_5_1) == StreamPacket(0, 0, 2, 166, False, 28.0)
    assert parse_vstats_line(VSTATS_9) == StreamPacket(0, 0, 1, 2520, True, 28.0)


def test_mux_stats_exist_from_ffmpeg_6_1_and_in_unnamed_builds() -> None:
    assert [supports_mux_stats(v) for v in ("5.1.9", "6.0", "6.1.1", "9.0.2", "")] == [
        False, False, True, True, True,
    ]  # fmt: skip


def test_the_report_dump_is_complete_after_the_last_output_stream() -> None:
    collector = DumpCollector()
    for line in DUMP[:-1]:
        collector.add(line)
    assert not collector.complete
    collector.add(DUMP[-1])
    collector.add("  Stream #9:9: Video: ignored after completion")
    assert collector.complete
    assert collector.dump() == parse_prelude(DUMP)


def test_a_stream_with_its_own_counters_gets_frames_size_and_rates() -> None:
    tracker = ProgressTracker(["in", "audio"], ["out"])
    tracker.set_streams(parse_prelude(DUMP))
    for second in range(3):
        for n in range(25):
            count = second * 25 + n + 1
            tracker.add_packet(StreamPacket(0, 0, count, 1024, n == 0), second + n / 25)
    tracker.update(ProgressSample(frame=75, size_bytes=100_000), 3.0)

    video, audio = tracker.progress.outputs
    assert (video.id, video.frame, video.packet, video.keyframe, video.size_kb) == (
        "out", 75, 75, 3, 75,
    )  # fmt: skip
    assert video.fps == 25.0
    assert video.bitrate_kbit == 25 * 1024 * 8 / 1024
    # No counters of its own, not the first video stream, not alone in its file.
    assert (audio.frame, audio.size_kb) == (0, 0)


def test_without_own_counters_the_first_video_stream_takes_the_totals_frames() -> None:
    tracker = ProgressTracker([], ["out"])
    tracker.set_streams(parse_prelude(DUMP))
    tracker.update(ProgressSample(frame=10, q=23.0, size_bytes=4096), 0.0)
    tracker.update(ProgressSample(frame=35, q=23.0, size_bytes=8192), 1.5)

    progress = tracker.progress
    video = progress.outputs[0]
    assert (video.frame, video.fps, video.q) == (35, progress.fps, 23.0)
    assert video.fps > 0
    assert video.size_kb == 0  # the file has two streams: its size is not the video's
