"""The {diskfs} directory as a cleanup filesystem: lists and deletes only inside its root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ffmpeg_operator.core.cleanup import FileEntry
from ffmpeg_operator.runtime.diskfs import DiskFS
from ffmpeg_operator.runtime.filesystem import Filesystem


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory next to the root with a file no rule may ever touch."""
    path = tmp_path / "outside"
    path.mkdir()
    (path / "secret.ts").write_text("keep me")
    return path


def _write(path: Path, data: str = "x", mtime: float = 1_000_000.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data)
    os.utime(path, (mtime, mtime))
    return path


def _names(fs: DiskFS) -> list[str]:
    return sorted(entry.name for entry in fs.list_files())


def test_diskfs_is_a_filesystem_named_disk(root: Path) -> None:
    fs: Filesystem = DiskFS(root)
    assert fs.name == "disk"


def test_lists_files_with_absolute_names_mtime_and_size(root: Path) -> None:
    _write(root / "a.ts", "abc", mtime=1234.5)
    assert DiskFS(root).list_files() == [FileEntry("/a.ts", 1234.5, 3)]


def test_lists_files_in_subdirectories(root: Path) -> None:
    _write(root / "a.ts")
    _write(root / "x" / "y" / "b.ts")
    assert _names(DiskFS(root)) == ["/a.ts", "/x/y/b.ts"]


def test_directories_are_not_listed(root: Path) -> None:
    (root / "empty").mkdir()
    _write(root / "dir" / "f")
    assert _names(DiskFS(root)) == ["/dir/f"]


def test_symlinked_file_is_not_listed(root: Path, outside: Path) -> None:
    (root / "link.ts").symlink_to(outside / "secret.ts")
    assert _names(DiskFS(root)) == []


def test_symlinked_directory_is_not_entered(root: Path, outside: Path) -> None:
    (root / "linkdir").symlink_to(outside, target_is_directory=True)
    assert _names(DiskFS(root)) == []


def test_missing_root_lists_nothing(tmp_path: Path) -> None:
    assert DiskFS(tmp_path / "nope").list_files() == []


def test_root_that_is_itself_a_symlink_works(tmp_path: Path, root: Path) -> None:
    _write(root / "a.ts")
    linked_root = tmp_path / "rootlink"
    linked_root.symlink_to(root, target_is_directory=True)
    fs = DiskFS(linked_root)
    assert _names(fs) == ["/a.ts"]
    assert fs.delete("/a.ts") is True
    assert not (root / "a.ts").exists()


def test_delete_removes_a_regular_file(root: Path) -> None:
    path = _write(root / "x" / "a.ts")
    assert DiskFS(root).delete("/x/a.ts") is True
    assert not path.exists()


def test_delete_resolves_dot_dot_inside_the_root(root: Path) -> None:
    path = _write(root / "a.ts")
    assert DiskFS(root).delete("/x/../a.ts") is True
    assert not path.exists()


def test_delete_of_a_missing_file_is_false(root: Path) -> None:
    assert DiskFS(root).delete("/nope.ts") is False


def test_delete_never_removes_a_directory(root: Path) -> None:
    (root / "dir").mkdir()
    assert DiskFS(root).delete("/dir") is False
    assert (root / "dir").is_dir()


@pytest.mark.parametrize(
    "name",
    ["/../outside/secret.ts", "/x/../../outside/secret.ts", "../outside/secret.ts", "/", ""],
)
def test_delete_never_leaves_the_root_textually(root: Path, outside: Path, name: str) -> None:
    assert DiskFS(root).delete(name) is False
    assert (outside / "secret.ts").read_text() == "keep me"


def test_absolute_host_path_is_taken_inside_the_root(root: Path, outside: Path) -> None:
    secret = outside / "secret.ts"
    assert DiskFS(root).delete(str(secret)) is False
    assert secret.read_text() == "keep me"


def test_absolute_host_path_deletes_only_its_copy_inside_the_root(
    root: Path, outside: Path
) -> None:
    secret = outside / "secret.ts"
    inner = _write(root / secret.relative_to("/"))
    assert DiskFS(root).delete(str(secret)) is True
    assert not inner.exists()
    assert secret.read_text() == "keep me"


def test_delete_refuses_a_symlink_pointing_out(root: Path, outside: Path) -> None:
    link = root / "link.ts"
    link.symlink_to(outside / "secret.ts")
    assert DiskFS(root).delete("/link.ts") is False
    assert link.is_symlink()
    assert (outside / "secret.ts").read_text() == "keep me"


def test_delete_refuses_a_symlink_pointing_inside(root: Path) -> None:
    target = _write(root / "a.ts")
    (root / "link.ts").symlink_to(target)
    assert DiskFS(root).delete("/link.ts") is False
    assert target.exists()


def test_delete_refuses_a_path_through_a_symlinked_directory(root: Path, outside: Path) -> None:
    (root / "linkdir").symlink_to(outside, target_is_directory=True)
    assert DiskFS(root).delete("/linkdir/secret.ts") is False
    assert (outside / "secret.ts").read_text() == "keep me"


def test_delete_through_a_symlinked_directory_pointing_inside_is_allowed(root: Path) -> None:
    # Only the real path counts; reaching a file through a link stays allowed when the link
    # ends inside the root.
    target = _write(root / "real" / "a.ts")
    (root / "alias").symlink_to(root / "real", target_is_directory=True)
    assert DiskFS(root).delete("/alias/a.ts") is True
    assert not target.exists()


def test_file_vanishing_before_its_deletion_is_false(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(root / "a.ts")

    def already_gone(path: object) -> None:
        raise FileNotFoundError(path)

    monkeypatch.setattr(os, "unlink", already_gone)
    assert DiskFS(root).delete("/a.ts") is False


def test_file_vanishing_while_listing_is_skipped(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(root / "a.ts")
    _write(root / "b.ts")
    real_lstat = os.lstat

    def lstat(path: str) -> os.stat_result:
        if path.endswith("a.ts"):
            raise FileNotFoundError(path)
        return real_lstat(path)

    monkeypatch.setattr(os, "lstat", lstat)
    assert _names(DiskFS(root)) == ["/b.ts"]
