"""Persistence of the local supervisor: datarhei's ``db.json`` (version 4, spec §4.10).

What is stored is the *intent*: every process config with its order (``start``/``stop``),
its timestamps and the metadata. Observed state and report history are not persisted.

The file must survive ``kill -9`` at any instant, so :meth:`Store.save` never writes in place:
it writes a temporary file next to ``db.json``, flushes and fsyncs it, renames it over the old
file (``os.replace`` is atomic on POSIX) and fsyncs the directory so the rename itself is
durable. Before the rename the previous file is kept as ``db.json.bak``; if ``db.json`` is ever
unreadable (edited by hand, broken disk) :meth:`Store.load` says so in the log, sets the broken
file aside as ``db.json.corrupt`` and falls back to the backup. It never returns an empty
snapshot in place of data it could not read.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path

# The file format itself is pure and shared with `ffmpeg-operator migrate`.
from ffmpeg_operator.core.dbjson import DB_VERSION, Snapshot, StoredOrder, StoredProcess
from ffmpeg_operator.core.dbjson import decode_db as _decode
from ffmpeg_operator.core.dbjson import encode_db as _encode

__all__ = ["DB_VERSION", "Snapshot", "Store", "StoreError", "StoredOrder", "StoredProcess"]

log = logging.getLogger(__name__)


class StoreError(RuntimeError):
    """``db.json`` (and its backup) cannot be read; nothing was loaded."""


class Store:
    """Reads and atomically writes one ``db.json`` file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.backup_path = self.path.with_name(self.path.name + ".bak")
        self.corrupt_path = self.path.with_name(self.path.name + ".corrupt")
        # Whether the file at `path` is known to be readable; only such a file may become the
        # backup. None = not looked at yet.
        self._current_is_good: bool | None = None

    # ------------------------------------------------------------------ load

    def load(self) -> Snapshot:
        """Read the snapshot; a missing file is an empty snapshot.

        Raises :class:`StoreError` when neither ``db.json`` nor its backup can be read.
        """
        self._remove_stale_temp_files()
        if not self.path.exists():
            self._current_is_good = False
            return Snapshot()
        try:
            snapshot = _decode(self.path.read_bytes())
        except (OSError, ValueError) as error:
            self._current_is_good = False
            return self._load_backup(error)
        self._current_is_good = True
        return snapshot

    def _load_backup(self, error: Exception) -> Snapshot:
        log.error("cannot read %s: %s", self.path, error)
        try:
            snapshot = _decode(self.backup_path.read_bytes())
        except (OSError, ValueError) as backup_error:
            raise StoreError(
                f"cannot read {self.path} ({error}) nor its backup {self.backup_path} "
                f"({backup_error}); refusing to start with an empty process list"
            ) from error
        # Keep the unreadable file for a human: the next save replaces db.json.
        with contextlib.suppress(OSError):
            os.replace(self.path, self.corrupt_path)
            log.error("moved the unreadable file to %s", self.corrupt_path)
        log.warning(
            "loaded the last good state from %s (%d processes)",
            self.backup_path,
            len(snapshot.processes),
        )
        return snapshot

    def _remove_stale_temp_files(self) -> None:
        # Left behind only when a save was killed before its rename.
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()

    # ------------------------------------------------------------------ save

    def save(self, snapshot: Snapshot) -> None:
        """Write the snapshot atomically and durably (see the module docstring)."""
        data = json.dumps(_encode(snapshot), ensure_ascii=False, indent=2).encode("utf-8")
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as temp:
                temp.write(data)
                temp.flush()
                os.fsync(temp.fileno())
            self._keep_backup()
            os.replace(temp_name, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
            raise
        _fsync_directory(directory)
        self._current_is_good = True

    def _keep_backup(self) -> None:
        if self._current_is_good is None:
            self._current_is_good = self._current_file_is_readable()
        if not self._current_is_good:
            return
        # A hard link costs no copy, and the old inode is never written again because every
        # save replaces the name with a new file. The link is made under a temporary name and
        # renamed, so db.json.bak is never missing or half-written either.
        temp_backup = self.backup_path.with_name(self.backup_path.name + ".tmp")
        with contextlib.suppress(FileNotFoundError):
            temp_backup.unlink()
        try:
            try:
                os.link(self.path, temp_backup)
            except OSError:
                # Filesystems without hard links: copy instead.
                temp_backup.write_bytes(self.path.read_bytes())
            os.replace(temp_backup, self.backup_path)
        except BaseException:
            with contextlib.suppress(OSError):
                temp_backup.unlink()
            raise

    def _current_file_is_readable(self) -> bool:
        try:
            _decode(self.path.read_bytes())
        except (OSError, ValueError):
            return False
        return True


def _fsync_directory(directory: Path) -> None:
    # Makes the rename durable. Not every platform can open a directory (Windows).
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
