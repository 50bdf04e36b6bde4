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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from ffmpeg_operator.core.models import Limits, ProcessConfig

log = logging.getLogger(__name__)

#: The only file version this store reads and writes (datarhei Core v16's).
DB_VERSION = 4

_MIB = 1024 * 1024

StoredOrder = Literal["start", "stop"]


class StoreError(RuntimeError):
    """``db.json`` (and its backup) cannot be read; nothing was loaded."""


@dataclass(frozen=True)
class StoredProcess:
    """One process as persisted: its config, the intent (order) and its timestamps."""

    config: ProcessConfig
    created_at: int
    updated_at: int
    order: StoredOrder = "stop"


@dataclass
class Snapshot:
    """Everything ``db.json`` holds."""

    processes: dict[str, StoredProcess] = field(default_factory=dict)
    system_metadata: dict[str, Any] = field(default_factory=dict)
    process_metadata: dict[str, dict[str, Any]] = field(default_factory=dict)


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


# ---------------------------------------------------------------------- file format


def _encode(snapshot: Snapshot) -> dict[str, Any]:
    processes = {
        process_id: {
            "id": process_id,
            "reference": stored.config.reference,
            "config": _encode_config(stored.config),
            "created_at": stored.created_at,
            "updated_at": stored.updated_at,
            "order": stored.order,
        }
        for process_id, stored in snapshot.processes.items()
    }
    return {
        "version": DB_VERSION,
        "process": processes,
        "metadata": {
            "system": snapshot.system_metadata,
            "process": snapshot.process_metadata,
        },
    }


def _encode_config(config: ProcessConfig) -> dict[str, Any]:
    data = config.model_dump(mode="json")
    # datarhei's own store keeps the limits flat (§4.10); writing them too keeps the file
    # readable by Core itself. Our reader prefers `limits`.
    data["limit_cpu_usage"] = config.limits.cpu_usage
    data["limit_memory_bytes"] = config.limits.memory_mbytes * _MIB
    data["limit_waitfor_seconds"] = config.limits.waitfor_seconds
    return data


def _decode(raw: bytes) -> Snapshot:
    """Parse ``db.json``; any defect raises ValueError (json/pydantic errors are ValueErrors)."""
    document = json.loads(raw)
    if not isinstance(document, dict):
        raise ValueError("db.json is not a JSON object")
    version = document.get("version")
    if version != DB_VERSION:
        raise ValueError(f"unsupported db.json version {version!r}, expected {DB_VERSION}")

    processes: dict[str, StoredProcess] = {}
    for process_id, raw_entry in _object(document.get("process"), "process").items():
        entry = _object(raw_entry, f"process {process_id!r}")
        config = _decode_config(_object(entry.get("config"), f"config of {process_id!r}"))
        order = entry.get("order", "stop")
        if order not in ("start", "stop"):
            raise ValueError(f"process {process_id!r}: invalid order {order!r}")
        processes[process_id] = StoredProcess(
            config=config,
            created_at=_integer(entry.get("created_at", 0), "created_at"),
            updated_at=_integer(entry.get("updated_at", 0), "updated_at"),
            order=order,
        )

    metadata = _object(document.get("metadata"), "metadata")
    process_metadata = {
        process_id: _object(values, f"metadata of {process_id!r}")
        for process_id, values in _object(metadata.get("process"), "metadata.process").items()
    }
    return Snapshot(
        processes=processes,
        system_metadata=_object(metadata.get("system"), "metadata.system"),
        process_metadata=process_metadata,
    )


def _decode_config(data: dict[str, Any]) -> ProcessConfig:
    if "limits" not in data and any(key.startswith("limit_") for key in data):
        # A db.json written by datarhei Core itself.
        data = dict(data)
        data["limits"] = Limits(
            cpu_usage=float(data.get("limit_cpu_usage") or 0),
            memory_mbytes=int(data.get("limit_memory_bytes") or 0) // _MIB,
            waitfor_seconds=int(data.get("limit_waitfor_seconds") or 0),
        ).model_dump()
    try:
        return ProcessConfig.model_validate(data)
    except ValidationError as error:
        raise ValueError(f"invalid process config: {error}") from error


def _object(value: Any, what: str) -> dict[str, Any]:
    # datarhei writes null for empty maps; treat it as empty.
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not a JSON object")
    return value


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} is not an integer: {value!r}")
    return value
