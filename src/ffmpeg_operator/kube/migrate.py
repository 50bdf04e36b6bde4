"""datarhei Core's ``db.json`` -> FFmpegProcess objects (``ffmpeg-operator migrate``).

Every stored process becomes one FFmpegProcess: the config through
:func:`~ffmpeg_operator.kube.spec.cr_from_config` (so the mapping exists once), the order
as ``desiredState`` (``start`` -> ``running``, ``stop`` -> ``stopped``), its metadata as the
JSON annotation :data:`METADATA_ANNOTATION`. Addresses, references (``#id:output=out``) and
placeholders are copied verbatim: they are resolved when a run starts, as in Core.

Core's ``metadata.system`` belongs to no process and has no place on a custom resource;
:func:`migrate_db` reports it so the command can say it was left out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ffmpeg_operator.core.dbjson import Snapshot, StoredOrder, decode_db
from ffmpeg_operator.kube.names import GROUP
from ffmpeg_operator.kube.spec import DesiredState, cr_from_config

__all__ = [
    "MAX_ANNOTATIONS_BYTES",
    "METADATA_ANNOTATION",
    "MigrationError",
    "MigrationResult",
    "annotations_size",
    "crs_from_snapshot",
    "migrate_db",
]

#: The process metadata (datarhei ``/process/{id}/metadata``), as one JSON object.
METADATA_ANNOTATION = f"{GROUP}/metadata"
#: The API server's limit on the total size of an object's annotations.
MAX_ANNOTATIONS_BYTES = 256 * 1024


def annotations_size(annotations: Mapping[str, str]) -> int:
    """What the apiserver counts against :data:`MAX_ANNOTATIONS_BYTES`: the bytes of every
    key and value together (``ValidateAnnotationsSize``)."""
    return sum(
        len(key.encode("utf-8", "surrogatepass")) + len(value.encode("utf-8", "surrogatepass"))
        for key, value in annotations.items()
    )


_DESIRED_STATE: dict[StoredOrder, DesiredState] = {"start": "running", "stop": "stopped"}


class MigrationError(ValueError):
    """The file cannot be migrated; the message is one line."""


@dataclass(frozen=True)
class MigrationResult:
    """The objects a ``db.json`` becomes, and what had no place on them."""

    objects: list[dict[str, Any]]
    system_metadata_keys: list[str]


def crs_from_snapshot(snapshot: Snapshot, namespace: str | None) -> list[dict[str, Any]]:
    """One FFmpegProcess per stored process, in the file's order.

    With ``namespace`` ``None`` the objects carry no namespace, so ``kubectl apply -n`` or a
    kustomization decides it.
    """
    objects = []
    for process_id, stored in snapshot.processes.items():
        # The map key is the ID Core serves the process under; the copy in the config may be
        # missing in hand-edited files.
        config = stored.config
        if config.id != process_id:
            config = config.model_copy(update={"id": process_id})
        obj = cr_from_config(
            config,
            namespace or "",
            desired_state=_DESIRED_STATE[stored.order],
            annotations=_metadata_annotations(process_id, snapshot.process_metadata),
        )
        if namespace is None:
            del obj["metadata"]["namespace"]
        objects.append(obj)
    return objects


def _metadata_annotations(
    process_id: str, process_metadata: Mapping[str, Mapping[str, Any]]
) -> dict[str, str]:
    metadata = process_metadata.get(process_id)
    if not metadata:
        return {}
    text = json.dumps(metadata, ensure_ascii=False, separators=(",", ":"))
    if len(text.encode("utf-8", "surrogatepass")) > MAX_ANNOTATIONS_BYTES:
        raise MigrationError(
            f"process {process_id!r}: its metadata is larger than the "
            f"{MAX_ANNOTATIONS_BYTES // 1024} KiB Kubernetes allows for annotations"
        )
    return {METADATA_ANNOTATION: text}


def migrate_db(raw: bytes | str, namespace: str | None = None) -> MigrationResult:
    """Convert the text of a ``db.json``; raises :class:`MigrationError` (one line)."""
    try:
        snapshot = decode_db(raw)
    except ValueError as error:
        raise MigrationError(str(error)) from error
    return MigrationResult(
        objects=crs_from_snapshot(snapshot, namespace),
        system_metadata_keys=sorted(snapshot.system_metadata),
    )
