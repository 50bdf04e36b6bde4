"""The two file stores of ``/api/v3/fs``: ``disk`` (the ``{diskfs}`` directory) and ``mem``
(the ``{memfs}`` store), behind one interface shaped like Core's filesystem handlers.

Names are absolute and normalised (``..`` never leaves the root); on disk, a name that
resolves outside the directory through a symbolic link is treated as absent.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ffmpeg_operator.core.glob import GlobError, compile_glob
from ffmpeg_operator.runtime.memfs import MemFS, normalize_name


@dataclass(frozen=True)
class FileInfo:
    name: str
    size: int
    mtime: float


class FileStore(Protocol):
    #: Core's filesystem type: "disk" or "mem".
    kind: str

    def list(self, pattern: str) -> list[FileInfo]:
        """Every file (not directory) whose name matches the glob (all when empty)."""
        ...

    def read(self, name: str) -> tuple[FileInfo, bytes] | None: ...

    def write(self, name: str, data: bytes) -> bool:
        """Store ``data``; True when the file is new. Raises OSError when it cannot."""
        ...

    def delete(self, name: str) -> bool: ...

    def usage(self) -> tuple[int, int]:
        """(bytes, files) in the store."""
        ...


def _matcher(pattern: str) -> Callable[[str], bool]:
    """A test of names against Core's glob (``*`` stays within one path segment)."""
    if not pattern:
        return lambda _: True
    try:
        return compile_glob(pattern, "/").match
    except GlobError:
        # Core's glob.Match reports a bad pattern as "no match".
        return lambda _: False


class MemStore:
    kind = "mem"

    def __init__(self, store: MemFS) -> None:
        self.store = store

    def list(self, pattern: str) -> list[FileInfo]:
        matcher = _matcher(pattern)
        return [
            FileInfo(entry.name, entry.size, entry.mtime)
            for entry in self.store.list()
            if matcher(entry.name)
        ]

    def read(self, name: str) -> tuple[FileInfo, bytes] | None:
        found = self.store.read(name)
        if found is None:
            return None
        entry, data = found
        return FileInfo(entry.name, len(data), entry.mtime), data

    def write(self, name: str, data: bytes) -> bool:
        return self.store.put(name, data)

    def delete(self, name: str) -> bool:
        return self.store.delete(name)

    def usage(self) -> tuple[int, int]:
        return self.store.total_size(), len(self.store)


#: What a directory serves, as Core's filesystems do with their ``DefaultFile``.
INDEX_FILE = "index.html"


class DiskStore:
    kind = "disk"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, name: str) -> Path | None:
        relative = normalize_name(name).lstrip("/")
        path = self.root / relative
        real_root = os.path.realpath(self.root)
        real = os.path.realpath(path)
        if real != real_root and not real.startswith(real_root + os.sep):
            return None
        return path

    def list(self, pattern: str) -> list[FileInfo]:
        matcher = _matcher(pattern)
        found: list[FileInfo] = []
        for directory, _dirs, files in os.walk(self.root):
            for file in files:
                path = Path(directory) / file
                name = "/" + path.relative_to(self.root).as_posix()
                if not matcher(name):
                    continue
                try:
                    stat = path.stat()
                except OSError:
                    continue  # removed while listing
                found.append(FileInfo(name, stat.st_size, stat.st_mtime))
        return found

    def read(self, name: str) -> tuple[FileInfo, bytes] | None:
        path = self._path(name)
        if path is None:
            return None
        if path.is_dir():
            path = path / INDEX_FILE
            name = normalize_name(name).rstrip("/") + "/" + INDEX_FILE
        try:
            data = path.read_bytes()
            stat = path.stat()
        except OSError:
            return None
        return FileInfo(normalize_name(name), len(data), stat.st_mtime), data

    def write(self, name: str, data: bytes) -> bool:
        path = self._path(name)
        if path is None or normalize_name(name) == "/":
            raise OSError(f"{name}: not a file inside the filesystem")
        created = not path.exists()
        path.parent.mkdir(parents=True, exist_ok=True)
        # Readers (players, the / mount) never see a half-written file.
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
            os.chmod(temporary, 0o644)
            Path(temporary).replace(path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return created

    def delete(self, name: str) -> bool:
        path = self._path(name)
        if path is None or not path.is_file():
            return False
        try:
            path.unlink()
        except OSError:
            return False
        return True

    def usage(self) -> tuple[int, int]:
        files = self.list("")
        return sum(file.size for file in files), len(files)
