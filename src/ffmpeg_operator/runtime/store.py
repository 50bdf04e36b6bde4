"""Persistence of the local supervisor: datarhei's ``db.json`` (version 4, spec §4.10).

What is stored is the *intent*: every process config with its order (``start``/``stop``),
its timestamps and the metadata. Observed state and report history are not persisted.

Every change must survive ``kill -9`` at any instant and cost the same with 10 or 1,000
processes, so a change is not a rewrite of ``db.json``: :meth:`Store.change` appends one line
to ``db.json.journal`` (the change as a partial document, every value whole) with one
``os.write`` and returns: from then on the line is in the page cache and survives ``kill -9``.
Its ``fdatasync`` runs off the request path, batched (``runtime/syncbehind.py``: at most every
``sync_window`` seconds while lines are pending, and at compaction and close), so a power cut
can lose at most the changes of the last window. A line is either all there or, when the
write was cut by a crash, the torn last line, which is dropped on load: the request that wrote
it never got its answer. :meth:`Store.load` reads
``db.json``, applies the journal's lines in order and compacts: it writes the result as the
new ``db.json`` and empties the journal. So does :meth:`Store.compact`, which the owner calls
once the journal holds more lines than there are processes (:attr:`Store.compaction_due`:
each change stays O(1) amortised), and :meth:`Store.close`.
Applying a line twice is harmless (each sets whole values), so a crash between the rewrite
of ``db.json`` and the truncation of the journal loses nothing either.

``db.json`` itself is never written in place: :meth:`Store.save` writes a temporary file next
to it, flushes and fsyncs it, renames it over the old file (``os.replace`` is atomic on POSIX)
and fsyncs the directory so the rename itself is durable. Before the rename the previous file
is kept as ``db.json.bak``; if ``db.json`` is ever unreadable (edited by hand, broken disk)
:meth:`Store.load` says so in the log, sets the broken file aside as ``db.json.corrupt`` and
falls back to the backup. It never returns an empty snapshot in place of data it could not
read.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

# The file format itself is pure and shared with `ffmpeg-operator migrate`.
from ffmpeg_operator.core.dbjson import (
    DB_VERSION,
    DbJsonError,
    Snapshot,
    StoredOrder,
    StoredProcess,
    apply_change,
    decode_document,
    encode_change,
    encode_entry,
    parse_document,
)
from ffmpeg_operator.core.dbjson import decode_db as _decode
from ffmpeg_operator.runtime.syncbehind import SYNC_WINDOW_S, SyncBehind

__all__ = ["DB_VERSION", "Snapshot", "Store", "StoreError", "StoredOrder", "StoredProcess"]

log = logging.getLogger(__name__)

#: The journal is compacted into db.json once it has more lines than this or than there are
#: processes, whichever is more: a rewrite of N processes every N changes at the least.
COMPACT_MIN_LINES = 256


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class StoreError(RuntimeError):
    """``db.json`` (and its backup) cannot be read; nothing was loaded."""


class Store:
    """Reads ``db.json`` and its journal; appends changes; atomically rewrites ``db.json``."""

    def __init__(
        self,
        path: Path,
        compact_min_lines: int = COMPACT_MIN_LINES,
        sync_window: float = SYNC_WINDOW_S,
    ) -> None:
        self.path = Path(path)
        self.backup_path = self.path.with_name(self.path.name + ".bak")
        self.corrupt_path = self.path.with_name(self.path.name + ".corrupt")
        self.journal_path = self.path.with_name(self.path.name + ".journal")
        self.compact_min_lines = compact_min_lines
        self.sync_window = sync_window
        # Whether the file at `path` is known to be readable; only such a file may become the
        # backup. None = not looked at yet.
        self._current_is_good: bool | None = None
        # What db.json plus the journal hold, as JSON text per key, so a compaction joins
        # text and encodes nothing again.
        self._entries: dict[str, bytes] = {}
        self._process_metadata: dict[str, bytes] = {}
        self._system_metadata = b"{}"
        self._journal_fd: int | None = None
        self._journal_sync: SyncBehind | None = None
        self._journal_lines = 0

    # ------------------------------------------------------------------ load

    def load(self) -> Snapshot:
        """Read the snapshot; a missing file is an empty snapshot.

        Raises :class:`StoreError` when neither ``db.json`` nor its backup can be read.
        """
        self._remove_stale_temp_files()
        document: Any = {"version": DB_VERSION, "process": {}, "metadata": {}}
        if self.path.exists():
            try:
                document = parse_document(self.path.read_bytes())
            except (OSError, ValueError) as error:
                self._current_is_good = False
                return self._rewritten(self._load_backup(error))
            self._current_is_good = True
        else:
            self._current_is_good = False
        replayed = self._replay_journal(document)
        try:
            snapshot = decode_document(document)
        except ValueError as error:
            self._current_is_good = False
            return self._rewritten(self._load_backup(error))
        self._mirror(snapshot)
        if replayed:
            self.compact()
        return snapshot

    def _rewritten(self, snapshot: Snapshot) -> Snapshot:
        # Loaded from the backup: that is the state from now on, journal or not.
        self.save(snapshot)
        return snapshot

    def _replay_journal(self, document: Any) -> int:
        """Apply the journal's complete lines to ``document``; the number applied."""
        try:
            raw = self.journal_path.read_bytes()
        except FileNotFoundError:
            return 0
        lines = raw.split(b"\n")
        applied = 0
        for number, line in enumerate(lines, 1):
            if not line:
                continue
            try:
                if not isinstance(document, dict):
                    raise DbJsonError("db.json is not a JSON object")
                apply_change(document, parse_document(line))
            except ValueError as error:
                if number == len(lines):
                    # No newline after it: a write cut short by a crash, never acknowledged.
                    log.warning("dropped the torn last line of %s", self.journal_path)
                    break
                log.error("cannot apply line %d of %s: %s", number, self.journal_path, error)
                with contextlib.suppress(OSError):
                    os.replace(
                        self.journal_path,
                        self.journal_path.with_name(self.journal_path.name + ".corrupt"),
                    )
                    log.error("moved the journal aside; later lines were not applied")
                break
            applied += 1
        return applied or (1 if raw else 0)

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
        """Make ``snapshot`` the whole content, atomically and durably (module docstring)."""
        self._mirror(snapshot)
        self.compact()

    def change(
        self,
        processes: dict[str, StoredProcess | None] | None = None,
        process_metadata: dict[str, dict[str, Any] | None] | None = None,
        system_metadata: dict[str, Any] | None = None,
    ) -> None:
        """Record one change durably: processes and metadata set (``None``: removed), the
        system metadata replaced when given. Returns once the journal line is written
        (page cache: survives ``kill -9``; synced to disk within ``sync_window``).

        Costs one small write whatever the number of processes; the caller compacts when
        :attr:`compaction_due`.
        """
        processes = processes or {}
        process_metadata = process_metadata or {}
        change = encode_change(processes, process_metadata, system_metadata)
        self._append(_dumps(change) + b"\n")
        for pid, entry in change["process"].items():
            if entry is None:
                self._entries.pop(pid, None)
            else:
                self._entries[pid] = _dumps(entry)
        for pid, values in process_metadata.items():
            if values:
                self._process_metadata[pid] = _dumps(values)
            else:
                self._process_metadata.pop(pid, None)
        if system_metadata is not None:
            self._system_metadata = _dumps(system_metadata)

    @property
    def compaction_due(self) -> bool:
        """Whether the journal has outgrown the process count (call :meth:`compact`)."""
        return self._journal_lines > max(self.compact_min_lines, len(self._entries))

    def compact(self) -> None:
        """Write everything as ``db.json`` (atomically, durably), then empty the journal."""
        self._write(self._document())
        if self._journal_lines or self.journal_path.exists():
            fd = self._journal()
            os.ftruncate(fd, 0)
            os.fsync(fd)
            self._journal_lines = 0

    def close(self) -> None:
        """Compact a non-empty journal (a stopped server leaves a plain ``db.json``)."""
        if self._journal_lines:
            self.compact()
        if self._journal_fd is not None:
            if self._journal_sync is not None:
                self._journal_sync.stop()
                self._journal_sync = None
            os.close(self._journal_fd)
            self._journal_fd = None

    def _mirror(self, snapshot: Snapshot) -> None:
        self._entries = {
            pid: _dumps(encode_entry(pid, stored)) for pid, stored in snapshot.processes.items()
        }
        self._process_metadata = {
            pid: _dumps(values) for pid, values in snapshot.process_metadata.items() if values
        }
        self._system_metadata = _dumps(snapshot.system_metadata)

    def _document(self) -> bytes:
        def join(fragments: dict[str, bytes]) -> bytes:
            return b",".join(_dumps(key) + b":" + value for key, value in fragments.items())

        return b"".join(
            (
                b'{"version":%d,"process":{' % DB_VERSION,
                join(self._entries),
                b'},"metadata":{"system":',
                self._system_metadata,
                b',"process":{',
                join(self._process_metadata),
                b"}}}",
            )
        )

    def _journal(self) -> int:
        if self._journal_fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            created = not self.journal_path.exists()
            self._journal_fd = os.open(
                self.journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644
            )
            if created:
                _fsync_directory(self.path.parent)
            self._journal_sync = SyncBehind(
                self._journal_fd, self.sync_window, name="db.json.journal-sync"
            )
        return self._journal_fd

    def _append(self, line: bytes) -> None:
        fd = self._journal()
        written = os.write(fd, line)
        if written != len(line):  # a full disk: the line is torn, as after a crash
            os.ftruncate(fd, os.fstat(fd).st_size - written)
            raise OSError(f"short write to {self.journal_path}")
        # Acknowledged from here (survives kill -9); on disk within the sync window.
        assert self._journal_sync is not None
        self._journal_sync.pending()
        self._journal_lines += 1

    def _write(self, data: bytes) -> None:
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
