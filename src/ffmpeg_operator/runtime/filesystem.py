"""What the cleanup runner needs from a filesystem: list its files, delete one (spec §8).

Two filesystems implement it: :class:`~ffmpeg_operator.supervision.fsroot.DiskFS` (the
``{diskfs}`` directory) and the in-memory store behind ``{memfs}`` through
:class:`MemFilesystem`.
"""

from __future__ import annotations

from typing import Protocol

from ffmpeg_operator.core.cleanup import FileEntry
from ffmpeg_operator.runtime.memfs import MemFS


class Filesystem(Protocol):
    """A filesystem cleanup rules can act on."""

    #: The filesystem's name in cleanup patterns after §8.1's mapping: ``disk``, ``mem``.
    name: str

    def list_files(self) -> list[FileEntry]:
        """Every regular file (never directories), names absolute inside the fs (``/a/b.ts``)."""
        ...

    def delete(self, name: str) -> bool:
        """Delete the file ``name``; True when a file was deleted. Never leaves the fs root."""
        ...


class MemFilesystem:
    """:class:`MemFS` seen as a :class:`Filesystem` (its own method is called ``list``)."""

    name = "mem"

    def __init__(self, memfs: MemFS) -> None:
        self.memfs = memfs

    def list_files(self) -> list[FileEntry]:
        return self.memfs.list()

    def delete(self, name: str) -> bool:
        return self.memfs.delete(name)
