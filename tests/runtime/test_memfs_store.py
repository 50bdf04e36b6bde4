"""The in-memory file store behind {memfs} (design §6)."""

from __future__ import annotations

import threading
import time

import pytest

from ffmpeg_operator.core.cleanup import FileEntry
from ffmpeg_operator.runtime.memfs import MemFS, normalize_name


@pytest.mark.parametrize(
    ("name", "normalized"),
    [
        ("/a.ts", "/a.ts"),
        ("a.ts", "/a.ts"),
        ("/x/./a.ts", "/x/a.ts"),
        ("/a/../b", "/b"),
        ("/../../etc/passwd", "/etc/passwd"),
        ("../a.ts", "/a.ts"),
        ("//a.ts", "/a.ts"),
        ("/x//y/", "/x/y"),
        ("", "/"),
    ],
)
def test_names_are_absolute_normalised_and_never_escape_the_root(
    name: str, normalized: str
) -> None:
    assert normalize_name(name) == normalized


def test_put_reports_created_then_replaced() -> None:
    store = MemFS()
    assert store.put("/a.ts", b"1") is True
    assert store.put("/a.ts", b"22") is False
    assert store.get("/a.ts") == b"22"


def test_names_are_normalised_on_every_operation() -> None:
    store = MemFS()
    store.put("x/../a.ts", b"data")
    assert store.get("/a.ts") == b"data"
    assert store.get("/y/../a.ts") == b"data"
    assert store.delete("a.ts") is True
    assert store.get("/a.ts") is None


def test_root_is_not_a_file() -> None:
    with pytest.raises(ValueError, match="root directory"):
        MemFS().put("/x/..", b"data")


def test_get_and_stat_of_a_missing_file_are_none() -> None:
    store = MemFS()
    assert store.get("/nope") is None
    assert store.stat("/nope") is None
    assert store.read("/nope") is None


def test_stat_has_name_put_time_and_size() -> None:
    store = MemFS()
    before = time.time()
    store.put("/a.ts", b"12345")
    entry = store.stat("a.ts")
    assert entry is not None
    assert entry.name == "/a.ts"
    assert entry.size == 5
    assert before <= entry.mtime <= time.time()


def test_read_returns_metadata_with_contents() -> None:
    store = MemFS()
    store.put("/a.ts", b"abc")
    found = store.read("/a.ts")
    assert found is not None
    entry, data = found
    assert (entry.name, entry.size, data) == ("/a.ts", 3, b"abc")


def test_delete_reports_whether_the_file_existed() -> None:
    store = MemFS()
    store.put("/a.ts", b"1")
    assert store.delete("/a.ts") is True
    assert store.delete("/a.ts") is False


def test_list_returns_file_entries_oldest_first() -> None:
    store = MemFS()
    store.put("/b.ts", b"1")
    time.sleep(0.01)
    store.put("/a.ts", b"22")
    entries = store.list()
    assert [entry.name for entry in entries] == ["/b.ts", "/a.ts"]
    assert all(isinstance(entry, FileEntry) for entry in entries)
    assert [entry.size for entry in entries] == [1, 2]


def test_replacing_a_file_updates_its_mtime() -> None:
    store = MemFS()
    store.put("/a.ts", b"1")
    first = store.stat("/a.ts")
    time.sleep(0.01)
    store.put("/a.ts", b"1")
    second = store.stat("/a.ts")
    assert first is not None
    assert second is not None
    assert second.mtime > first.mtime


def test_total_size_and_count_follow_puts_and_deletes() -> None:
    store = MemFS()
    store.put("/a.ts", b"123")
    store.put("/b.ts", b"45")
    assert (store.total_size(), len(store)) == (5, 2)
    store.put("/a.ts", b"1")
    store.delete("/b.ts")
    assert (store.total_size(), len(store)) == (1, 1)


def test_concurrent_writers_lose_no_files() -> None:
    store = MemFS()

    def write(worker: int) -> None:
        for index in range(200):
            store.put(f"/w{worker}/{index}.ts", b"x")

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.list()) == 1600
    assert store.total_size() == 1600
