"""The cleanup runner (spec §8.3 periodic cleanup, §8.4 purge, §12 case 38)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from ffmpeg_operator.core.cleanup import FileEntry
from ffmpeg_operator.core.models import Cleanup
from ffmpeg_operator.runtime import memfs as memfs_module
from ffmpeg_operator.runtime.cleanup import CleanupRunner
from ffmpeg_operator.runtime.diskfs import DiskFS
from ffmpeg_operator.runtime.filesystem import Filesystem, MemFilesystem
from ffmpeg_operator.runtime.memfs import MemFS

NOW = 2_000_000.0


class RecordingFS:
    """A filesystem double: fixed files, records deletions, can fail on chosen names."""

    def __init__(self, name: str, files: list[FileEntry], failing: frozenset[str] = frozenset()):
        self.name = name
        self.files = list(files)
        self.failing = failing
        self.deleted: list[str] = []

    def list_files(self) -> list[FileEntry]:
        return list(self.files)

    def delete(self, name: str) -> bool:
        if name in self.failing:
            raise OSError(f"cannot delete {name}")
        self.deleted.append(name)
        before = len(self.files)
        self.files = [entry for entry in self.files if entry.name != name]
        return len(self.files) < before


class Disk:
    """A DiskFS over a temp dir with helpers to write files of a given age."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.fs = DiskFS(root)

    def write(self, name: str, mtime: float) -> None:
        path = self.root / name.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
        os.utime(path, (mtime, mtime))

    def names(self) -> list[str]:
        return sorted(entry.name for entry in self.fs.list_files())


class Mem:
    """A MemFS whose files get chosen modification times."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.memfs = MemFS()
        self.fs = MemFilesystem(self.memfs)
        self._mtime = 0.0
        monkeypatch.setattr(memfs_module, "time", SimpleNamespace(time=lambda: self._mtime))

    def write(self, name: str, mtime: float) -> None:
        self._mtime = mtime
        self.memfs.put(name, b"x")

    def names(self) -> list[str]:
        return sorted(entry.name for entry in self.fs.list_files())


Store = Disk | Mem


@pytest.fixture(params=["disk", "mem"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    if request.param == "disk":
        root = tmp_path / "data"
        root.mkdir()
        return Disk(root)
    return Mem(monkeypatch)


def _runner(store: Store) -> CleanupRunner:
    return CleanupRunner({store.fs.name: store.fs})


def _prefix(store: Store) -> str:
    return "diskfs:" if isinstance(store, Disk) else "memfs:"


def _chunks(store: Store, count: int, first_mtime: float = NOW - 100) -> None:
    for index in range(count):
        store.write(f"/test_chunk_{index}.ts", first_mtime + index)


# ---------------------------------------------------------------------- periodic cleanup


def test_max_files_keeps_the_newest(store: Store) -> None:
    # Core's own test: max_files=3, chunk_0..chunk_3 written → chunk_1..chunk_3 remain.
    runner = _runner(store)
    runner.set_rules("test", [Cleanup(pattern=_prefix(store) + "/test_chunk_*.ts", max_files=3)])
    _chunks(store, 4)
    assert runner.run_once(NOW) == 1
    assert store.names() == ["/test_chunk_1.ts", "/test_chunk_2.ts", "/test_chunk_3.ts"]


def test_max_files_orders_by_mtime_not_by_name(store: Store) -> None:
    runner = _runner(store)
    runner.set_rules("test", [Cleanup(pattern=_prefix(store) + "/*.ts", max_files=1)])
    store.write("/a.ts", NOW - 1)
    store.write("/b.ts", NOW - 5)
    runner.run_once(NOW)
    assert store.names() == ["/a.ts"]


def test_max_files_leaves_non_matching_files_alone(store: Store) -> None:
    runner = _runner(store)
    runner.set_rules("test", [Cleanup(pattern=_prefix(store) + "/test_*.ts", max_files=1)])
    store.write("/other.ts", NOW - 1000)
    store.write("/test_1.m3u8", NOW - 1000)
    _chunks(store, 2)
    runner.run_once(NOW)
    assert store.names() == ["/other.ts", "/test_1.m3u8", "/test_chunk_1.ts"]


def test_max_file_age_deletes_older_files_only(store: Store) -> None:
    runner = _runner(store)
    runner.set_rules("test", [Cleanup(pattern=_prefix(store) + "/**", max_file_age_seconds=3)])
    store.write("/old.ts", NOW - 10)
    store.write("/x/old.ts", NOW - 4)
    store.write("/new.ts", NOW - 1)
    assert runner.run_once(NOW) == 2
    assert store.names() == ["/new.ts"]


def test_new_file_survives_until_it_ages(store: Store) -> None:
    runner = _runner(store)
    runner.set_rules("test", [Cleanup(pattern=_prefix(store) + "/*.ts", max_file_age_seconds=3)])
    store.write("/a.ts", NOW)
    runner.run_once(NOW + 2)
    assert store.names() == ["/a.ts"]
    runner.run_once(NOW + 4)
    assert store.names() == []


def test_max_files_and_max_age_both_apply(store: Store) -> None:
    runner = _runner(store)
    runner.set_rules(
        "test",
        [Cleanup(pattern=_prefix(store) + "/*.ts", max_files=3, max_file_age_seconds=50)],
    )
    for index, age in enumerate([100, 90, 60, 10, 5]):
        store.write(f"/{index}.ts", NOW - age)
    runner.run_once(NOW)
    assert store.names() == ["/3.ts", "/4.ts"]


def test_rule_without_limits_deletes_nothing(store: Store) -> None:
    runner = _runner(store)
    runner.set_rules("test", [Cleanup(pattern=_prefix(store) + "/**")])
    _chunks(store, 4)
    assert runner.run_once(NOW) == 0
    assert len(store.names()) == 4


def test_rules_of_every_owner_run(store: Store) -> None:
    runner = _runner(store)
    runner.set_rules("a", [Cleanup(pattern=_prefix(store) + "/a_*", max_files=1)])
    runner.set_rules("b", [Cleanup(pattern=_prefix(store) + "/b_*", max_files=1)])
    for index in range(2):
        store.write(f"/a_{index}", NOW - 10 + index)
        store.write(f"/b_{index}", NOW - 10 + index)
    runner.run_once(NOW)
    assert store.names() == ["/a_1", "/b_1"]


def test_overlapping_rules_see_earlier_deletions(store: Store) -> None:
    runner = _runner(store)
    runner.set_rules(
        "test",
        [
            Cleanup(pattern=_prefix(store) + "/*.ts", max_files=2),
            Cleanup(pattern=_prefix(store) + "/test_*", max_files=1),
        ],
    )
    _chunks(store, 4)
    assert runner.run_once(NOW) == 3
    assert store.names() == ["/test_chunk_3.ts"]


def test_memfs_pattern_without_leading_slash_deletes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # §12 case 38: names always start with "/", so `*.ts` never matches.
    mem = Mem(monkeypatch)
    runner = _runner(mem)
    runner.set_rules("test", [Cleanup(pattern="memfs:*.ts", max_files=1)])
    _chunks(mem, 3)
    assert runner.run_once(NOW) == 0
    assert len(mem.names()) == 3


@pytest.mark.parametrize("pattern", ["foo:/x", "/x", "mem0:/**", "MEMFS:/**", "memfs/**", ""])
def test_rule_with_unknown_or_malformed_prefix_is_ignored(
    monkeypatch: pytest.MonkeyPatch, pattern: str
) -> None:
    mem = Mem(monkeypatch)
    runner = _runner(mem)
    runner.set_rules("test", [Cleanup(pattern=pattern, max_files=1)])
    _chunks(mem, 2)
    assert runner.rules("test") == ()
    assert runner.run_once(NOW) == 0
    assert len(mem.names()) == 2


def test_rule_for_a_filesystem_not_present_is_ignored(tmp_path: Path) -> None:
    runner = CleanupRunner({"disk": DiskFS(tmp_path)})
    runner.set_rules("test", [Cleanup(pattern="memfs:/**", max_files=1)])
    assert runner.rules("test") == ()


def test_mem_and_disk_prefixes_name_the_same_filesystems(tmp_path: Path) -> None:
    disk = DiskFS(tmp_path)
    runner = CleanupRunner({"disk": disk})
    runner.set_rules("test", [Cleanup(pattern="disk:/a", max_files=1)])
    assert [rule.glob for rule in runner.rules("test")] == ["/a"]


def test_storage_prefix_selects_that_storage() -> None:
    archive = RecordingFS(
        "archive", [FileEntry("/a.ts", NOW - 10, 1), FileEntry("/b.ts", NOW - 1, 1)]
    )
    runner = CleanupRunner({"archive": archive}, storages=["archive"])
    runner.set_rules("test", [Cleanup(pattern="archive:/*.ts", max_files=1)])
    runner.run_once(NOW)
    assert archive.deleted == ["/a.ts"]


def test_filesystem_given_under_a_storage_name_is_a_storage() -> None:
    archive = RecordingFS(
        "archive", [FileEntry("/a.ts", NOW - 10, 1), FileEntry("/b.ts", NOW - 1, 1)]
    )
    runner = CleanupRunner({"archive": archive})
    runner.set_rules("test", [Cleanup(pattern="archive:/*.ts", max_files=1)])
    runner.run_once(NOW)
    assert archive.deleted == ["/a.ts"]


def test_invalid_glob_matches_nothing(store: Store) -> None:
    runner = _runner(store)
    runner.set_rules("test", [Cleanup(pattern=_prefix(store) + "/[", max_files=1)])
    _chunks(store, 2)
    assert runner.run_once(NOW) == 0


def test_set_rules_replaces_the_owners_earlier_rules(store: Store) -> None:
    runner = _runner(store)
    runner.set_rules("test", [Cleanup(pattern=_prefix(store) + "/*.ts", max_files=1)])
    runner.set_rules("test", [Cleanup(pattern=_prefix(store) + "/*.m3u8", max_files=1)])
    _chunks(store, 2)
    assert runner.run_once(NOW) == 0
    assert [rule.glob for rule in runner.rules("test")] == ["/*.m3u8"]


def test_set_rules_with_no_rules_forgets_the_owner(store: Store) -> None:
    runner = _runner(store)
    runner.set_rules("test", [Cleanup(pattern=_prefix(store) + "/*.ts", max_files=1)])
    runner.set_rules("test", [])
    assert runner.owners() == []


def test_after_remove_nothing_is_deleted_anymore(store: Store) -> None:
    runner = _runner(store)
    runner.set_rules("test", [Cleanup(pattern=_prefix(store) + "/*.ts", max_files=1)])
    runner.remove("test", purge=False)
    _chunks(store, 3)
    assert runner.run_once(NOW) == 0
    assert len(store.names()) == 3


# ---------------------------------------------------------------------- purge


def test_purge_deletes_every_match_of_purge_on_delete_rules(store: Store) -> None:
    runner = _runner(store)
    runner.set_rules(
        "test", [Cleanup(pattern=_prefix(store) + "/test_*", purge_on_delete=True, max_files=10)]
    )
    _chunks(store, 3)
    store.write("/other.ts", NOW)
    assert runner.remove("test", purge=True) == 3
    assert store.names() == ["/other.ts"]
    assert runner.rules("test") == ()


def test_purge_skips_rules_without_purge_on_delete(store: Store) -> None:
    runner = _runner(store)
    runner.set_rules("test", [Cleanup(pattern=_prefix(store) + "/test_*")])
    _chunks(store, 3)
    assert runner.remove("test", purge=True) == 0
    assert len(store.names()) == 3


def test_remove_without_purge_deletes_nothing(store: Store) -> None:
    runner = _runner(store)
    runner.set_rules("test", [Cleanup(pattern=_prefix(store) + "/test_*", purge_on_delete=True)])
    _chunks(store, 3)
    assert runner.remove("test", purge=False) == 0
    assert len(store.names()) == 3


def test_purge_of_one_owner_leaves_other_owners_rules(store: Store) -> None:
    runner = _runner(store)
    runner.set_rules("a", [Cleanup(pattern=_prefix(store) + "/a_*", purge_on_delete=True)])
    runner.set_rules("b", [Cleanup(pattern=_prefix(store) + "/b_*", purge_on_delete=True)])
    store.write("/a_1", NOW)
    store.write("/b_1", NOW)
    runner.remove("a", purge=True)
    assert store.names() == ["/b_1"]
    assert runner.owners() == ["b"]


def test_purge_deletes_longest_names_first() -> None:
    fs = RecordingFS(
        "mem",
        [FileEntry(name, NOW, 1) for name in ["/a", "/a/bb/c.ts", "/a/b.ts", "/zz"]],
    )
    runner = CleanupRunner({"mem": fs})
    runner.set_rules("test", [Cleanup(pattern="memfs:/**", purge_on_delete=True)])
    runner.remove("test", purge=True)
    assert fs.deleted == ["/a/bb/c.ts", "/a/b.ts", "/zz", "/a"]


def test_purge_all_purges_and_forgets_every_owner(store: Store) -> None:
    runner = _runner(store)
    runner.set_rules("a", [Cleanup(pattern=_prefix(store) + "/a_*", purge_on_delete=True)])
    runner.set_rules("b", [Cleanup(pattern=_prefix(store) + "/b_*", purge_on_delete=True)])
    store.write("/a_1", NOW)
    store.write("/b_1", NOW)
    store.write("/c_1", NOW)
    assert runner.purge_all() == 2
    assert store.names() == ["/c_1"]
    assert runner.owners() == []


def test_remove_of_an_unknown_owner_is_a_no_op(store: Store) -> None:
    assert _runner(store).remove("nope", purge=True) == 0


# ---------------------------------------------------------------------- containment


@pytest.fixture
def disk_and_outside(tmp_path: Path) -> tuple[Disk, Path]:
    root = tmp_path / "data"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.ts"
    secret.write_text("keep me")
    os.utime(secret, (NOW - 1000, NOW - 1000))
    return Disk(root), outside


@pytest.mark.parametrize(
    "pattern", ["diskfs:/../outside/*.ts", "diskfs:/../**", "diskfs:**", "diskfs:/**"]
)
def test_rule_cannot_reach_outside_the_root_with_dot_dot(
    disk_and_outside: tuple[Disk, Path], pattern: str
) -> None:
    disk, outside = disk_and_outside
    runner = _runner(disk)
    runner.set_rules(
        "test", [Cleanup(pattern=pattern, max_file_age_seconds=1, purge_on_delete=True)]
    )
    runner.run_once(NOW)
    runner.remove("test", purge=True)
    assert (outside / "secret.ts").read_text() == "keep me"


def test_rule_cannot_reach_outside_through_symlinks(disk_and_outside: tuple[Disk, Path]) -> None:
    disk, outside = disk_and_outside
    (disk.root / "linkdir").symlink_to(outside, target_is_directory=True)
    (disk.root / "link.ts").symlink_to(outside / "secret.ts")
    disk.write("/inside.ts", NOW - 1000)
    runner = _runner(disk)
    runner.set_rules(
        "test", [Cleanup(pattern="diskfs:/**", max_file_age_seconds=1, purge_on_delete=True)]
    )
    assert runner.run_once(NOW) == 1
    runner.remove("test", purge=True)
    assert (outside / "secret.ts").read_text() == "keep me"
    assert (disk.root / "link.ts").is_symlink()
    assert (disk.root / "linkdir").is_symlink()
    assert disk.names() == []


# ---------------------------------------------------------------------- failures


def test_failure_deleting_one_file_is_logged_and_the_rest_go(
    caplog: pytest.LogCaptureFixture,
) -> None:
    files = [FileEntry(f"/{index}.ts", NOW - 10 + index, 1) for index in range(4)]
    fs = RecordingFS("mem", files, failing=frozenset({"/0.ts"}))
    runner = CleanupRunner({"mem": fs})
    runner.set_rules("test", [Cleanup(pattern="memfs:/*.ts", max_files=1)])
    assert runner.run_once(NOW) == 2
    assert fs.deleted == ["/1.ts", "/2.ts"]
    assert "cannot delete mem:/0.ts" in caplog.text


def test_failure_listing_a_filesystem_is_logged_and_other_filesystems_still_clean(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        name = "disk"

        def list_files(self) -> list[FileEntry]:
            raise OSError("disk gone")

        def delete(self, name: str) -> bool:
            raise AssertionError("never called")

    mem = RecordingFS("mem", [FileEntry("/a.ts", NOW - 10, 1), FileEntry("/b.ts", NOW, 1)])
    broken: Filesystem = Broken()
    runner = CleanupRunner({"disk": broken, "mem": mem})
    runner.set_rules(
        "test",
        [Cleanup(pattern="diskfs:/*.ts", max_files=1), Cleanup(pattern="memfs:/*.ts", max_files=1)],
    )
    assert runner.run_once(NOW) == 1
    assert mem.deleted == ["/a.ts"]
    assert "cannot list the disk filesystem" in caplog.text


# ---------------------------------------------------------------------- the loop


def _clock(start: float) -> Callable[[], float]:
    ticks: Iterator[float] = itertools.count(start)
    return lambda: next(ticks)


async def _wait_until(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def test_run_cleans_every_interval_until_stopped(store: Store) -> None:
    runner = _runner(store)
    runner.set_rules("test", [Cleanup(pattern=_prefix(store) + "/*.ts", max_files=1)])
    _chunks(store, 3)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop, interval=0.01, clock=_clock(NOW)))
    await _wait_until(lambda: store.names() == ["/test_chunk_2.ts"])
    store.write("/late.ts", NOW)
    await _wait_until(lambda: store.names() == ["/late.ts"])
    stop.set()
    await asyncio.wait_for(task, 1)


async def test_run_stops_promptly_during_a_long_interval(store: Store) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(_runner(store).run(stop, interval=60))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 1)


async def test_run_survives_a_failing_pass(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    runner = _runner(store)
    runner.set_rules("test", [Cleanup(pattern=_prefix(store) + "/*.ts", max_files=1)])
    passes: list[float] = []

    def flaky(now: float) -> int:
        passes.append(now)
        if len(passes) == 1:
            raise RuntimeError("boom")
        return 0

    monkeypatch.setattr(runner, "run_once", flaky)
    stop = asyncio.Event()
    with caplog.at_level(logging.ERROR):
        task = asyncio.create_task(runner.run(stop, interval=0.01))
        await _wait_until(lambda: len(passes) >= 3)
        stop.set()
        await asyncio.wait_for(task, 1)
    assert "cleanup pass failed" in caplog.text


async def test_run_walks_nothing_while_no_process_has_a_rule(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = _runner(store)
    passes: list[float] = []
    monkeypatch.setattr(runner, "run_once", passes.append)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop, interval=0.01))
    await asyncio.sleep(0.05)
    assert passes == []
    runner.set_rules("test", [Cleanup(pattern=_prefix(store) + "/*.ts", max_files=1)])
    await _wait_until(lambda: len(passes) >= 1)
    stop.set()
    await asyncio.wait_for(task, 1)
