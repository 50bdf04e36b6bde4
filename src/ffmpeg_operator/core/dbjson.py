"""datarhei Core's ``db.json`` (version 4, spec §4.10): the file format, without any I/O.

Read by the local store (``runtime/store.py``) and by ``ffmpeg-operator migrate``. A file
written by Core itself keeps the limits flat in the config (``limit_cpu_usage``,
``limit_memory_bytes`` in *bytes*, ``limit_waitfor_seconds``) and writes ``null`` for empty
lists and maps; ours writes a ``limits`` object and the flat keys both, and the reader prefers
``limits``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from ffmpeg_operator.core.models import Limits, ProcessConfig

__all__ = [
    "DB_VERSION",
    "DbJsonError",
    "Snapshot",
    "StoredOrder",
    "StoredProcess",
    "decode_db",
    "decode_document",
    "encode_db",
    "encode_entry",
    "parse_document",
]

#: The only file version read and written (datarhei Core v16's).
DB_VERSION = 4

_MIB = 1024 * 1024

StoredOrder = Literal["start", "stop"]


class DbJsonError(ValueError):
    """The text is not a version 4 ``db.json``; the message is one line."""


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


# --------------------------------------------------------------------------- writing


def encode_entry(process_id: str, stored: StoredProcess) -> dict[str, Any]:
    """The JSON of one process entry (``process.<id>`` in the document)."""
    return {
        "id": process_id,
        "reference": stored.config.reference,
        "config": _encode_config(stored.config),
        "created_at": stored.created_at,
        "updated_at": stored.updated_at,
        "order": stored.order,
    }


def encode_db(snapshot: Snapshot) -> dict[str, Any]:
    """The JSON document of ``snapshot``."""
    processes = {
        process_id: encode_entry(process_id, stored)
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
    data: dict[str, Any] = config.model_dump(mode="json")
    # Core's own store keeps the limits flat (§4.10); writing them too keeps the file
    # readable by Core itself.
    data["limit_cpu_usage"] = config.limits.cpu_usage
    data["limit_memory_bytes"] = config.limits.memory_mbytes * _MIB
    data["limit_waitfor_seconds"] = config.limits.waitfor_seconds
    return data


# --------------------------------------------------------------------------- reading


def decode_db(raw: bytes | str) -> Snapshot:
    """Parse a ``db.json`` document; any defect raises :class:`DbJsonError`."""
    return decode_document(parse_document(raw))


def parse_document(raw: bytes | str) -> Any:
    """The JSON value of ``raw``; invalid JSON raises :class:`DbJsonError`."""
    try:
        return json.loads(raw)
    except UnicodeDecodeError as error:
        raise DbJsonError(f"not UTF-8 text: {error.reason} at byte {error.start}") from error
    except json.JSONDecodeError as error:
        raise DbJsonError(
            f"invalid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from error


def decode_document(document: Any) -> Snapshot:
    """A parsed ``db.json`` document as a snapshot; any defect raises :class:`DbJsonError`."""
    if not isinstance(document, dict):
        raise DbJsonError("not a JSON object")
    version = document.get("version")
    if version != DB_VERSION:
        raise DbJsonError(f"unsupported db.json version {version!r}, expected {DB_VERSION}")

    processes: dict[str, StoredProcess] = {}
    for process_id, raw_entry in _object(document.get("process"), "process").items():
        entry = _object(raw_entry, f"process {process_id!r}")
        config = _decode_config(
            process_id, _object(entry.get("config"), f"config of process {process_id!r}")
        )
        order = entry.get("order", "stop")
        if order not in ("start", "stop"):
            raise DbJsonError(f"process {process_id!r}: invalid order {order!r}")
        processes[process_id] = StoredProcess(
            config=config,
            created_at=_integer(entry.get("created_at", 0), f"{process_id!r}: created_at"),
            updated_at=_integer(entry.get("updated_at", 0), f"{process_id!r}: updated_at"),
            order=order,
        )

    metadata = _object(document.get("metadata"), "metadata")
    process_metadata = {
        process_id: _object(values, f"metadata of process {process_id!r}")
        for process_id, values in _object(metadata.get("process"), "metadata.process").items()
    }
    return Snapshot(
        processes=processes,
        system_metadata=_object(metadata.get("system"), "metadata.system"),
        process_metadata=process_metadata,
    )


def _decode_config(process_id: str, data: dict[str, Any]) -> ProcessConfig:
    if "limits" not in data and any(key.startswith("limit_") for key in data):
        # A db.json written by datarhei Core itself: flat limits, memory in bytes.
        data = dict(data)
        try:
            data["limits"] = Limits(
                cpu_usage=float(data.get("limit_cpu_usage") or 0),
                memory_mbytes=int(data.get("limit_memory_bytes") or 0) // _MIB,
                waitfor_seconds=int(data.get("limit_waitfor_seconds") or 0),
            ).model_dump()
        except (TypeError, ValueError) as error:
            raise DbJsonError(
                f"process {process_id!r}: invalid limit_*: {_first_line(error)}"
            ) from error
    try:
        return ProcessConfig.model_validate(data)
    except ValidationError as error:
        raise DbJsonError(
            f"process {process_id!r}: invalid config: {_first_error(error)}"
        ) from error


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}" if where else f"{first['msg']}{more}"


def _first_line(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return _first_error(error)
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _object(value: Any, what: str) -> dict[str, Any]:
    # datarhei writes null for empty maps; treat it as empty.
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DbJsonError(f"{what} is not a JSON object")
    return value


def _integer(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DbJsonError(f"{what} is not an integer: {value!r}")
    return value


# --------------------------------------------------------------------------- changes


def encode_change(
    processes: dict[str, StoredProcess | None],
    process_metadata: dict[str, dict[str, Any] | None],
    system_metadata: dict[str, Any] | None,
) -> dict[str, Any]:
    """One change as a partial document: what it sets; ``null`` removes a process or its
    metadata; ``metadata.system`` is present only when the system metadata changed.

    Every value is the whole new value of its key, so applying a change twice, or applying
    changes the document already holds, leaves the same document (see :func:`apply_change`).
    """
    metadata: dict[str, Any] = {"process": process_metadata}
    if system_metadata is not None:
        metadata["system"] = system_metadata
    return {
        "process": {
            pid: None if stored is None else encode_entry(pid, stored)
            for pid, stored in processes.items()
        },
        "metadata": metadata,
    }


def apply_change(document: dict[str, Any], change: Any) -> None:
    """Apply an :func:`encode_change` value to a parsed document, in place.

    Raises :class:`DbJsonError` when ``change`` does not have that shape.
    """
    if not isinstance(change, dict):
        raise DbJsonError("change is not a JSON object")
    processes = document.get("process")
    if not isinstance(processes, dict):
        document["process"] = processes = {}
    metadata = document.get("metadata")
    if not isinstance(metadata, dict):
        document["metadata"] = metadata = {}
    process_metadata = metadata.get("process")
    if not isinstance(process_metadata, dict):
        metadata["process"] = process_metadata = {}
    changed_metadata = _object(change.get("metadata"), "metadata of a change")
    for target, values in (
        (processes, _object(change.get("process"), "process of a change")),
        (process_metadata, _object(changed_metadata.get("process"), "metadata of a change")),
    ):
        for key, value in values.items():
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value
    if "system" in changed_metadata:
        metadata["system"] = changed_metadata["system"]
