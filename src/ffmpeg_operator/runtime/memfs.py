"""The in-memory file store behind ``{memfs}`` (design §6).

ffmpeg writes HLS playlists and segments into it over HTTP (``/memfs/...``), players read them
back, and cleanup rules list and delete its files. Names are always absolute and normalised,
so no name can point outside the store's root.
"""

from __future__ import annotations

import builtins
import posixpath
import threading
import time
from dataclasses import dataclass

from ffmpeg_operator.core.cleanup import FileEntry


def normalize_name(name: str) -> str:
    """``name`` as an absolute, clean path: ``a/../b`` → ``/b``; ``..`` never leaves ``/``."""
    # Leading slashes are stripped first because POSIX keeps a leading "//" as is.
    return posixpath.normpath("/" + name.lstrip("/"))


@dataclass(frozen=True)
class _File:
    data: bytes
    mtime: float


class MemFS:
    """A thread-safe map of normalised file names to their contents and modification times."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, _File] = {}

    @staticmethod
    def _file_name(name: str) -> str:
        normalized = normalize_name(name)
        if normalized == "/":
            raise ValueError("the root directory is not a file")
        return normalized

    def put(self, name: str, data: bytes) -> bool:
        """Store ``data`` under ``name``; True when the file was created, False when replaced.

        Raises ValueError when ``name`` normalises to the root directory.
        """
        key = self._file_name(name)
        entry = _File(bytes(data), time.time())
        with self._lock:
            created = key not in self._files
            self._files[key] = entry
        return created

    def get(self, name: str) -> bytes | None:
        """The contents of ``name``, or None when there is no such file."""
        with self._lock:
            entry = self._files.get(normalize_name(name))
        return None if entry is None else entry.data

    def read(self, name: str) -> tuple[FileEntry, bytes] | None:
        """Metadata and contents of ``name`` taken together, or None when there is no such file."""
        key = normalize_name(name)
        with self._lock:
            entry = self._files.get(key)
        return None if entry is None else (FileEntry(key, entry.mtime, len(entry.data)), entry.data)

    def stat(self, name: str) -> FileEntry | None:
        """Name, modification time and size of ``name``, or None when there is no such file."""
        key = normalize_name(name)
        with self._lock:
            entry = self._files.get(key)
        return None if entry is None else FileEntry(key, entry.mtime, len(entry.data))

    def delete(self, name: str) -> bool:
        """Remove ``name``; True when it existed."""
        with self._lock:
            return self._files.pop(normalize_name(name), None) is not None

    def list(self) -> builtins.list[FileEntry]:
        """All files, oldest first (ties by name)."""
        with self._lock:
            entries = [
                FileEntry(key, entry.mtime, len(entry.data)) for key, entry in self._files.items()
            ]
        return sorted(entries, key=lambda entry: (entry.mtime, entry.name))

    def total_size(self) -> int:
        """The number of bytes held by all files together."""
        with self._lock:
            return sum(len(entry.data) for entry in self._files.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._files)
