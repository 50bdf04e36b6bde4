"""Attributing memfs writes to outputs, and their size and rate per run."""

from __future__ import annotations

import pytest

from ffmpeg_operator.core.memfs_traffic import MemfsTraffic, memfs_stem

BASE = "http://admin:secret@127.0.0.1:8080/memfs"


@pytest.mark.parametrize(
    ("address", "stem"),
    [
        ("http://admin:secret@127.0.0.1:8080/memfs/abc.m3u8", "/abc"),
        ("http://127.0.0.1:8080/memfs/live/abc_%04d.ts", "/live/abc_"),
        ("http://127.0.0.1:9999/memfs/abc.m3u8", None),
        ("http://127.0.0.1:8080/other/abc.m3u8", None),
        ("/data/abc.m3u8", None),
        ("http://127.0.0.1:8080/memfs/%04d.ts", None),
    ],
)
def test_an_output_in_this_memfs_owns_its_stem(address: str, stem: str | None) -> None:
    assert memfs_stem(address, BASE) == stem


def test_size_counts_the_writes_of_the_run_and_the_rate_its_last_seconds() -> None:
    traffic = MemfsTraffic()
    traffic.record("/abc0.ts", 10_000, 99.0)  # a previous run
    traffic.figures("/abc", 100.0, 100.0)
    for second in range(100, 104):
        traffic.record(f"/abc{second}.ts", 1024, second + 0.5)
        traffic.record("/abc.m3u8", 100, second + 0.6)

    size, kbit = traffic.figures("/abc", 100.0, 104.2)

    assert size == 4 * 1124
    assert kbit == pytest.approx(1124 * 8 / 1024)


def test_writes_before_the_first_read_of_a_run_still_count() -> None:
    traffic = MemfsTraffic()
    traffic.record("/abc1.ts", 2048, 10.0)

    assert traffic.figures("/abc", 9.0, 12.0)[0] == 2048


def test_a_path_belongs_to_the_longest_matching_stem_only() -> None:
    traffic = MemfsTraffic()
    traffic.figures("/abc", 0.0, 0.0)
    traffic.figures("/abc2", 0.0, 0.0)
    traffic.record("/abc2_0001.ts", 500, 1.0)

    assert traffic.figures("/abc", 0.0, 2.0)[0] == 0
    assert traffic.figures("/abc2", 0.0, 2.0)[0] == 500


def test_a_new_run_starts_from_zero() -> None:
    traffic = MemfsTraffic()
    traffic.figures("/abc", 0.0, 0.0)
    traffic.record("/abc1.ts", 500, 1.0)

    assert traffic.figures("/abc", 50.0, 51.0) == (0, 0.0)
