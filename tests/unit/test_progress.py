"""Progress accounting (spec §2.4) and the stale-watchdog notion of progress (§4.6, §9.4)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ffmpeg_operator.core.ffmpeg.prelude import parse_prelude
from ffmpeg_operator.core.ffmpeg.progress_block import ProgressBlockParser
from ffmpeg_operator.core.ffmpeg.sample import ProgressSample
from ffmpeg_operator.core.ffmpeg.stats import parse_stats_line
from ffmpeg_operator.core.models import Progress
from ffmpeg_operator.core.progress import ProgressTracker, SlidingAverage, advanced

FIXTURES = Path(__file__).parents[1] / "fixtures" / "ffmpeg"
CORE_TEST_LINE = (
    "frame= 5968 fps= 25 q=19.4 size=443kB time=00:03:58.44 bitrate=5632kbits/s speed=0.999x "
    "skip=9733 drop=3522 dup=87463"
)


def feed_steady(tracker: ProgressTracker, seconds: int, fps: int, bytes_per_s: int = 0) -> None:
    """One sample at the start of each second 0..seconds, a second's worth of output each."""
    for second in range(seconds + 1):
        done = second + 1
        tracker.update(ProgressSample(frame=fps * done, size_bytes=bytes_per_s * done), second)


def test_counters_are_copied_from_the_core_test_line() -> None:
    tracker = ProgressTracker()
    sample = parse_stats_line(CORE_TEST_LINE)
    assert sample is not None
    tracker.update(sample, 0.0)
    progress = tracker.progress
    assert (progress.frame, progress.q, progress.size_kb, progress.time) == (
        5968,
        19.4,
        443,
        238.44,
    )
    assert (progress.speed, progress.drop, progress.dup, progress.packet) == (0.999, 3522, 87463, 0)


def test_size_kb_is_bytes_divided_by_1024() -> None:
    tracker = ProgressTracker()
    tracker.update(ProgressSample(size_bytes=352878), 0.0)
    assert tracker.progress.size_kb == 344


def test_ffmpegs_own_fps_is_not_used_fps_is_zero_in_the_first_second() -> None:
    tracker = ProgressTracker()
    tracker.update(ProgressSample(frame=25), 0.0)
    tracker.update(ProgressSample(frame=40), 0.9)
    assert tracker.progress.fps == 0


def test_fps_is_the_average_of_completed_one_second_buckets() -> None:
    tracker = ProgressTracker()
    tracker.update(ProgressSample(frame=25), 0.0)
    tracker.update(ProgressSample(frame=50), 1.0)
    assert tracker.progress.fps == 25
    tracker.update(ProgressSample(frame=100), 2.5)  # second 2 is not complete yet
    assert tracker.progress.fps == 25
    tracker.update(ProgressSample(frame=100), 3.0)
    assert tracker.progress.fps == pytest.approx(100 / 3)


def test_fps_averages_at_most_the_last_30_seconds() -> None:
    tracker = ProgressTracker()
    feed_steady(tracker, 40, fps=25)
    assert tracker.progress.fps == 25


def test_seconds_without_samples_count_as_zero() -> None:
    tracker = ProgressTracker()
    feed_steady(tracker, 30, fps=30)  # buckets 0..30 hold 30 frames each
    tracker.update(ProgressSample(frame=31 * 30 + 30), 45.0)  # after 14 silent seconds
    # window = buckets 15..44: 16 busy ones (15..30), 14 empty ones
    assert tracker.progress.fps == 16 * 30 / 30


def test_bitrate_is_bytes_per_second_times_8_over_1024() -> None:
    tracker = ProgressTracker()
    feed_steady(tracker, 10, fps=25, bytes_per_s=128 * 1024)
    assert tracker.progress.bitrate_kbit == 1024


def test_missing_values_keep_the_previous_ones() -> None:
    tracker = ProgressTracker()
    tracker.update(ProgressSample(frame=10, size_bytes=2048, time_sec=1.0, q=28.0), 0.0)
    tracker.update(ProgressSample(frame=20), 0.5)  # size=N/A, q=-1.0, no time
    progress = tracker.progress
    assert (progress.frame, progress.size_kb, progress.time, progress.q) == (20, 2, 1.0, 28.0)


def test_a_counter_going_back_adds_nothing() -> None:
    tracker = ProgressTracker()
    tracker.update(ProgressSample(frame=100), 0.0)
    tracker.update(ProgressSample(frame=10), 0.5)
    tracker.update(ProgressSample(frame=10), 1.0)
    assert tracker.progress.fps == 100  # only the first delta (100 - 0) in second 0


def test_streams_come_from_the_prelude_with_config_ids() -> None:
    text = (FIXTURES / "ffmpeg9_multi_stream.stderr").read_text()
    dump = parse_prelude(line for line in re.split(r"[\r\n]", text) if line)
    tracker = ProgressTracker(["video", "audio"], ["out"])
    tracker.set_streams(dump)
    progress = tracker.progress
    assert [(io.id, io.type) for io in progress.inputs] == [("video", "video"), ("audio", "audio")]
    assert [(io.id, io.stream, io.codec) for io in progress.outputs] == [
        ("out", 0, "mpeg4"), ("out", 1, "aac"),
    ]  # fmt: skip


def test_set_ids_changes_the_ids_of_later_stream_entries() -> None:
    dump = parse_prelude(["Input #0, lavfi, from 'a':", "  Stream #0:0: Audio: pcm_u8"])
    tracker = ProgressTracker()
    tracker.set_ids(["in"], [])
    tracker.set_streams(dump)
    assert tracker.progress.inputs[0].id == "in"


def test_reset_returns_to_all_zero() -> None:
    tracker = ProgressTracker(["video"], ["out"])
    feed_steady(tracker, 5, fps=25, bytes_per_s=1000)
    tracker.set_streams(parse_prelude(["Input #0, lavfi, from 'a':", "  Stream #0:0: Audio: x"]))
    tracker.reset()
    assert tracker.progress == Progress()
    assert tracker.last_sample.frame == 0
    tracker.update(ProgressSample(frame=5), 100.0)
    assert (tracker.progress.frame, tracker.progress.fps) == (5, 0)


def test_progress_is_a_copy() -> None:
    tracker = ProgressTracker()
    tracker.progress.frame = 99
    assert tracker.progress.frame == 0


def test_progress_blocks_drive_the_tracker_for_audio_only_runs() -> None:
    parser = ProgressBlockParser()
    tracker = ProgressTracker()
    results = []
    now = 0.0
    for line in (FIXTURES / "ffmpeg9_progress_audio.stdout").read_text().splitlines():
        block = parser.feed(line)
        if block is not None:
            now += 0.5
            results.append(tracker.update(block.sample(), now))
    assert results == [True, True, True, True]  # size or time grew each time
    assert (tracker.progress.time, tracker.progress.size_kb) == (2.0, 344)


# advanced(previous, current): rows of the stale rule (wider than Core's frame-only rule).
ADVANCED_ROWS = [
    (None, ProgressSample(frame=1), True),
    (None, ProgressSample(frame=0), False),
    (None, ProgressSample(), False),
    (ProgressSample(frame=10), ProgressSample(frame=11), True),
    (ProgressSample(frame=10), ProgressSample(frame=10), False),
    (ProgressSample(frame=10), ProgressSample(frame=None), False),
    # audio-only: no frame counter, time grows
    (ProgressSample(time_sec=1.0), ProgressSample(time_sec=1.5), True),
    # filter_complex / stalled timestamps: the output still grows
    (
        ProgressSample(size_bytes=1000, time_sec=1.0),
        ProgressSample(size_bytes=2000, time_sec=1.0),
        True,
    ),
    (
        ProgressSample(frame=5, size_bytes=1000, time_sec=1.0),
        ProgressSample(frame=5, size_bytes=1000, time_sec=1.0, speed=1.0),
        False,
    ),
    # speed, q, drop, dup moving is no progress
    (ProgressSample(frame=5, drop=1, dup=1), ProgressSample(frame=5, drop=9, dup=9, q=30.0), False),
]


@pytest.mark.parametrize(("previous", "current", "expected"), ADVANCED_ROWS)
def test_advanced(previous: ProgressSample | None, current: ProgressSample, expected: bool) -> None:
    assert advanced(previous, current) is expected


def test_update_reports_advancement_against_carried_values() -> None:
    tracker = ProgressTracker()
    assert tracker.update(ProgressSample(time_sec=1.0), 0.0) is True
    assert tracker.update(ProgressSample(time_sec=None), 0.5) is False  # out_time=N/A
    assert tracker.update(ProgressSample(time_sec=1.0), 1.0) is False
    assert tracker.update(ProgressSample(time_sec=1.5), 1.5) is True


def test_sliding_average_is_zero_before_any_value() -> None:
    assert SlidingAverage().average(10.0) == 0


def test_sliding_average_forgets_after_a_long_gap() -> None:
    average = SlidingAverage()
    average.add(100, 0.0)
    assert average.average(1.0) == 100
    assert average.average(100.0) == 0


def test_sliding_average_reset() -> None:
    average = SlidingAverage(buckets=3)
    average.add(6, 0.0)
    average.reset()
    average.add(3, 50.0)
    assert average.average(51.0) == 3


def test_sliding_average_small_window_divides_by_its_size() -> None:
    average = SlidingAverage(buckets=3)
    for second in range(6):
        average.add(second, float(second))
    assert average.average(6.0) == (3 + 4 + 5) / 3
