"""Cleanup rules pick the files Core would delete, and never a file outside the root (§8)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ffmpeg_operator.core.cleanup import (
    CleanupRule,
    FileEntry,
    contained_path,
    parse_cleanup_pattern,
    select_expired,
    select_purge,
)
from ffmpeg_operator.core.models import Cleanup

NOW = 1_700_000_000.0


def _rule(glob: str, max_files: int = 0, max_age: int = 0) -> CleanupRule:
    return CleanupRule("mem", glob, max_files=max_files, max_file_age_seconds=max_age)


def _chunks(count: int, *, age_step: float = 1.0) -> list[FileEntry]:
    """chunk_0 (oldest) .. chunk_{count-1} (newest), one ``age_step`` apart."""
    return [FileEntry(f"/chunk_{i}.ts", NOW - (count - i) * age_step, 100) for i in range(count)]


# --------------------------------------------------------------------------- prefix (§8.1)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("memfs:/{x}_*.ts", ("mem", "/{x}_*.ts")),
        ("diskfs:/a/*.mp4", ("disk", "/a/*.mp4")),
        # Core's filesystem names themselves work as prefixes too.
        ("mem:/a.ts", ("mem", "/a.ts")),
        ("disk:/a.ts", ("disk", "/a.ts")),
        # Only the first prefix is stripped; the glob may be empty or lack the leading "/".
        ("memfs:memfs:/a", ("mem", "memfs:/a")),
        ("memfs:", ("mem", "")),
        ("memfs:*.ts", ("mem", "*.ts")),
    ],
)
def test_known_prefix_selects_the_filesystem(pattern: str, expected: tuple[str, str]) -> None:
    assert parse_cleanup_pattern(pattern) == expected


@pytest.mark.parametrize(
    "pattern",
    [
        "foo:/x",  # unknown filesystem (§12 case 38)
        "/a/*.ts",  # no prefix
        "",
        ":/a",  # empty name
        "MEMFS:/a",  # uppercase
        "memFS:/a",
        "s3:/a",  # digits are never part of a name
        "mem fs:/a",
        " memfs:/a",  # the prefix must start the pattern
        "memfs/a",
    ],
)
def test_pattern_without_recognised_prefix_is_ignored(pattern: str) -> None:
    assert parse_cleanup_pattern(pattern, storages=("s", "aws")) is None


def test_configured_storage_names_are_filesystems() -> None:
    assert parse_cleanup_pattern("aws:/live/*.ts", storages=("aws",)) == ("aws", "/live/*.ts")
    assert parse_cleanup_pattern("aws:/live/*.ts") is None


def test_rule_from_config_entry_carries_limits() -> None:
    cleanup = Cleanup(
        pattern="memfs:/test_*.ts", max_files=3, max_file_age_seconds=10, purge_on_delete=True
    )
    assert CleanupRule.from_cleanup(cleanup) == CleanupRule(
        "mem", "/test_*.ts", max_files=3, max_file_age_seconds=10, purge_on_delete=True
    )


def test_rule_from_config_entry_with_unknown_filesystem_is_none() -> None:
    assert CleanupRule.from_cleanup(Cleanup(pattern="foo:/x", max_files=1)) is None


# --------------------------------------------------------------------------- periodic (§8.3)


def test_max_files_keeps_the_newest_three_chunks() -> None:
    # Core test: max_files=3, write chunk_0..chunk_3 -> chunk_1..chunk_3 remain.
    files = _chunks(4)
    assert select_expired(_rule("/chunk_*.ts", max_files=3), files, NOW) == ["/chunk_0.ts"]


def test_max_files_orders_by_mtime_not_by_name_or_input_order() -> None:
    files = [
        FileEntry("/a.ts", NOW - 1, 1),
        FileEntry("/c.ts", NOW - 30, 1),
        FileEntry("/b.ts", NOW - 20, 1),
    ]
    assert select_expired(_rule("/*.ts", max_files=1), files, NOW) == ["/c.ts", "/b.ts"]


def test_max_files_not_exceeded_deletes_nothing() -> None:
    assert select_expired(_rule("/chunk_*.ts", max_files=4), _chunks(4), NOW) == []


def test_no_limits_delete_nothing() -> None:
    assert select_expired(_rule("/chunk_*.ts"), _chunks(4, age_step=1000), NOW) == []


def test_max_file_age_deletes_files_older_than_the_age() -> None:
    files = _chunks(4, age_step=2)  # ages 8, 6, 4, 2 seconds
    assert select_expired(_rule("/chunk_*.ts", max_age=3), files, NOW) == [
        "/chunk_0.ts",
        "/chunk_1.ts",
        "/chunk_2.ts",
    ]


def test_file_exactly_at_the_age_limit_survives() -> None:
    # Go: ModTime().Before(now - age), strictly older.
    files = [FileEntry("/a.ts", NOW - 3, 1)]
    assert select_expired(_rule("/*.ts", max_age=3), files, NOW) == []


def test_a_new_file_survives_until_it_ages() -> None:
    files = [FileEntry("/new.ts", NOW, 1)]
    rule = _rule("/*.ts", max_age=3)
    assert select_expired(rule, files, NOW + 3) == []
    assert select_expired(rule, files, NOW + 3.5) == ["/new.ts"]


def test_max_files_and_max_age_both_apply_without_duplicates() -> None:
    files = _chunks(5, age_step=2)  # ages 10, 8, 6, 4, 2 seconds
    expired = select_expired(_rule("/chunk_*.ts", max_files=3, max_age=5), files, NOW)
    # max_files removes chunk_0, chunk_1; the age limit then removes chunk_2 (6 s old).
    assert expired == ["/chunk_0.ts", "/chunk_1.ts", "/chunk_2.ts"]


def test_only_matching_files_count_towards_max_files() -> None:
    files = [*_chunks(3), FileEntry("/other.m3u8", NOW - 100, 1), FileEntry("/x/c.ts", 0, 1)]
    assert select_expired(_rule("/chunk_*.ts", max_files=2), files, NOW) == ["/chunk_0.ts"]


def test_invalid_glob_deletes_nothing() -> None:
    assert select_expired(_rule("/chunk_[", max_files=1), _chunks(3), NOW) == []


def _segments(process_id: str, count: int) -> list[FileEntry]:
    return [FileEntry(f"/{process_id}_{i}.ts", NOW - 10 + i, 1) for i in range(count)]


def test_case_38_processid_pattern_keeps_three_segments() -> None:
    # §12 case 38: memfs:/{processid}_*.ts (resolved for process "test") with max_files 3.
    parsed = parse_cleanup_pattern("memfs:/test_*.ts")
    assert parsed == ("mem", "/test_*.ts")
    rule = CleanupRule(*parsed, max_files=3)
    files = [*_segments("test", 6), FileEntry("/test.m3u8", NOW - 100, 1), *_segments("p2", 6)]
    assert select_expired(rule, files, NOW) == ["/test_0.ts", "/test_1.ts", "/test_2.ts"]


def test_case_38_pattern_without_leading_slash_deletes_nothing() -> None:
    parsed = parse_cleanup_pattern("memfs:*.ts")
    assert parsed is not None
    rule = CleanupRule(*parsed, max_files=1, max_file_age_seconds=1)
    assert select_expired(rule, _segments("test", 6), NOW) == []


def test_case_38_unknown_filesystem_is_accepted_and_ignored() -> None:
    assert CleanupRule.from_cleanup(Cleanup(pattern="foo:/x", max_files=1)) is None


# --------------------------------------------------------------------------- purge (§8.4)


def test_purge_deletes_every_match_longest_names_first() -> None:
    files = [
        FileEntry("/live/a.ts", 5, 1),
        FileEntry("/live/sub/segment_1.ts", 1, 1),
        FileEntry("/live/bb.ts", 9, 1),
        FileEntry("/other/x.ts", 1, 1),
    ]
    assert select_purge(_rule("/live/**"), files) == [
        "/live/sub/segment_1.ts",
        "/live/bb.ts",
        "/live/a.ts",
    ]


def test_purge_ignores_limits_and_ages() -> None:
    files = [FileEntry("/a.ts", NOW, 1)]
    assert select_purge(_rule("/*.ts", max_files=5, max_age=100), files) == ["/a.ts"]


def test_purge_with_invalid_glob_deletes_nothing() -> None:
    assert select_purge(_rule("["), [FileEntry("/[", 0, 1)]) == []


# --------------------------------------------------------------------------- containment


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("/a.ts", "/data/a.ts"),
        ("/x/y/a.ts", "/data/x/y/a.ts"),
        ("/a/../b", "/data/b"),
        ("/./a//b/", "/data/a/b"),
        ("/x/y/../../z", "/data/z"),
    ],
)
def test_names_map_below_the_root(name: str, expected: str) -> None:
    assert contained_path("/data", name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "/../../etc/passwd",
        "/..",
        "/a/../../b",
        "/a/../..",
        "/x/../../data/a.ts",  # back in through the root's own name is still an escape
        "../a",  # relative names are not filesystem names
        "a.ts",
        "",
        "/",  # the root itself is no file
        "/a/..",
        "/a\0b",
    ],
)
def test_names_leaving_the_root_are_refused(name: str) -> None:
    assert contained_path("/data", name) is None


def test_root_with_trailing_slash_or_dots_is_normalised() -> None:
    assert contained_path("/data/", "/a") == "/data/a"
    assert contained_path("/srv/x/../data", "/a") == "/srv/data/a"
    assert contained_path("/", "/a") == "/a"


_SEGMENT = st.sampled_from(["a", "b", "..", ".", "", "etc", "passwd", "...", "..a"])


@given(st.lists(_SEGMENT, max_size=8))
def test_no_name_ever_resolves_outside_the_root(segments: list[str]) -> None:
    path = contained_path("/data/fs", "/" + "/".join(segments))
    if path is not None:
        assert path.startswith("/data/fs/")
        assert ".." not in path.split("/")


def test_a_pattern_cannot_select_a_file_outside_its_root() -> None:
    # Whatever a rule matches, the runtime deletes only what contained_path accepts.
    files = [FileEntry("/../../etc/passwd", 0, 1), FileEntry("/a/../../x", 0, 1)]
    for name in select_purge(_rule("**"), files):
        assert contained_path("/data", name) is None
