"""The FFmpegProcess custom resource's spec and its conversions (design §2).

``spec`` is the datarhei process config in CRD spelling (camelCase: the aliases of
:class:`~ffmpeg_operator.core.models.ProcessConfig`) plus fields only Kubernetes has:
``desiredState`` (datarhei's order), ``image``, ``ffmpegBinary``, ``resources``,
``nodeSelector``, ``tolerations``, ``affinity``, ``podTemplate`` and ``restartRequest``.
``spec.id`` holds the exact datarhei ID; the object's name is derived from it
(:func:`ffmpeg_operator.kube.names.cr_name`).

API JSON -> :func:`cr_from_config` -> :func:`config_from_cr` -> API JSON is the identity.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

from ffmpeg_operator.core.ids import ALPHABET, ID_LENGTH
from ffmpeg_operator.core.models import ProcessConfig, ProcessConfigIO
from ffmpeg_operator.kube.names import GROUP, ID_HASH_LABEL, cr_name, id_hash

__all__ = [
    "API_VERSION",
    "KIND",
    "PLURAL",
    "VERSION",
    "DesiredState",
    "FFmpegProcessSpec",
    "KubernetesFields",
    "PodTemplateMetadata",
    "PodTemplateOverride",
    "ResourceRequirements",
    "Toleration",
    "config_from_cr",
    "cr_from_config",
    "desired_state_of",
    "spec_of",
    "stable_io_ids",
]

VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "FFmpegProcess"
PLURAL = "ffmpegprocesses"

DesiredState = Literal["running", "stopped"]

#: Kubernetes resource quantity ("500m", "1Gi", 2): an int-or-string in the CRD.
Quantity = Annotated[
    int | str,
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]"
            r"|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$",
            "x-kubernetes-int-or-string": True,
        }
    ),
]
#: An object whose fields the CRD does not describe (Kubernetes' own types, passed through).
FreeObject = Annotated[
    dict[str, Any],
    WithJsonSchema({"type": "object", "x-kubernetes-preserve-unknown-fields": True}),
]


class _KubeModel(BaseModel):
    """Kubernetes-only parts of the spec: camelCase on the wire, unknown keys ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, extra="ignore"
    )


class ResourceRequirements(_KubeModel):
    """Compute resources of the ffmpeg container (Kubernetes ResourceRequirements)."""

    limits: dict[str, Quantity] | None = Field(
        default=None,
        description="Resource limits by name (cpu, memory, nvidia.com/gpu, ...); override "
        "those derived from spec.limits.",
    )
    requests: dict[str, Quantity] | None = Field(
        default=None,
        description="Resource requests by name; override those derived from spec.limits.",
    )


class Toleration(_KubeModel):
    """A Pod toleration (Kubernetes Toleration)."""

    key: str | None = Field(default=None, description="Taint key; empty with Exists = all.")
    operator: str | None = Field(default=None, description="Exists or Equal (the default).")
    value: str | None = Field(default=None, description="Taint value to match with Equal.")
    effect: str | None = Field(
        default=None, description="NoSchedule, PreferNoSchedule or NoExecute; empty = all."
    )
    toleration_seconds: int | None = Field(
        default=None, description="How long a NoExecute taint is tolerated; unset = forever."
    )


class PodTemplateMetadata(_KubeModel):
    """Labels and annotations added to every run Pod."""

    labels: dict[str, str] | None = Field(
        default=None, description="Extra Pod labels; the operator's own labels win."
    )
    annotations: dict[str, str] | None = Field(
        default=None, description="Extra Pod annotations; the operator's own annotations win."
    )


class PodTemplateOverride(_KubeModel):
    """Overrides merged into every run Pod the operator creates for this process."""

    metadata: PodTemplateMetadata | None = Field(
        default=None, description="Labels and annotations added to the Pod."
    )
    spec: FreeObject | None = Field(
        default=None,
        description="A partial PodSpec merged into the generated one: objects merge key by "
        "key, containers/initContainers/volumes merge by name, other lists are replaced. "
        "restartPolicy and shareProcessNamespace cannot be changed.",
    )


class KubernetesFields(_KubeModel):
    """The spec fields that only exist on Kubernetes."""

    desired_state: DesiredState = Field(
        default="running",
        description="running: a run Pod exists and is restarted per reconnect; stopped: no "
        "Pod (datarhei's order start/stop).",
    )
    restart_request: str | None = Field(
        default=None,
        description="Any token; changing it restarts the current run (datarhei's restart command).",
    )
    image: str | None = Field(
        default=None, description="Image of the ffmpeg container; default: operator setting."
    )
    ffmpeg_binary: str | None = Field(
        default=None,
        description="Path or name of the ffmpeg binary in the image; default: operator setting.",
    )
    resources: ResourceRequirements | None = Field(
        default=None,
        description="Resources of the ffmpeg container, key by key over those derived from "
        "spec.limits.",
    )
    node_selector: dict[str, str] | None = Field(
        default=None, description="Node labels the run Pod must be scheduled on."
    )
    tolerations: list[Toleration] | None = Field(
        default=None, description="Tolerations of the run Pod."
    )
    affinity: FreeObject | None = Field(
        default=None, description="Affinity of the run Pod (Kubernetes Affinity)."
    )
    pod_template: PodTemplateOverride | None = Field(
        default=None, description="Overrides merged into the run Pod."
    )


class FFmpegProcessSpec(KubernetesFields, ProcessConfig):
    """Desired state of an FFmpegProcess: a datarhei process config plus Kubernetes fields."""

    id: str = Field(
        min_length=1,
        description="The datarhei process ID, exactly (any text); the object's name is "
        "derived from it. Immutable.",
    )


_CONFIG_FIELDS = frozenset(ProcessConfig.model_fields)
_KUBE_FIELDS = frozenset(KubernetesFields.model_fields)


def spec_of(obj: Mapping[str, Any]) -> FFmpegProcessSpec:
    """The parsed ``spec`` of an FFmpegProcess object."""
    return FFmpegProcessSpec.model_validate(obj.get("spec") or {})


def config_from_cr(obj: Mapping[str, Any]) -> ProcessConfig:
    """The datarhei process config an FFmpegProcess object holds."""
    spec = spec_of(obj)
    return ProcessConfig.model_validate(spec.model_dump(include=set(_CONFIG_FIELDS)))


def desired_state_of(config: ProcessConfig) -> DesiredState:
    """The desired state of a newly created process: its ``autostart``."""
    return "running" if config.autostart else "stopped"


def cr_from_config(
    config: ProcessConfig,
    namespace: str | None,
    desired_state: DesiredState | None = None,
    kube: KubernetesFields | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A full FFmpegProcess object for ``config``.

    ``desired_state`` defaults to ``kube.desired_state`` when ``kube`` is given, otherwise to
    the config's ``autostart``. Kubernetes-only fields that are unset are left out, and so is
    the namespace when it is ``None``.
    """
    if not config.id:
        raise ValueError("a process without an ID cannot become a custom resource")
    fields = kube if kube is not None else KubernetesFields()
    state = desired_state or (
        fields.desired_state if kube is not None else desired_state_of(config)
    )
    spec: dict[str, Any] = config.model_dump(by_alias=True, include=set(_CONFIG_FIELDS))
    spec["desiredState"] = state
    extra = fields.model_dump(
        by_alias=True, exclude_none=True, include=set(_KUBE_FIELDS - {"desired_state"})
    )
    spec.update(extra)
    metadata: dict[str, Any] = {"name": cr_name(config.id)}
    if namespace is not None:
        metadata["namespace"] = namespace
    metadata["labels"] = {**(labels or {}), ID_HASH_LABEL: id_hash(config.id)}
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec}


# --------------------------------------------------------------------------- stable IO ids


def _stable_id(process_id: str, direction: str, index: int, attempt: int) -> str:
    # A shortuuid-looking ID (Core's format) that is the same every time it is derived, so
    # Pods built from a CR with empty IO ids are deterministic.
    seed = f"{process_id}\0{direction}\0{index}\0{attempt}".encode("utf-8", "surrogatepass")
    number = int.from_bytes(hashlib.sha256(seed).digest()[:16], "big")
    digits = []
    for _ in range(ID_LENGTH):
        number, digit = divmod(number, len(ALPHABET))
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits))


def _with_stable_ids(
    process_id: str, direction: str, ios: list[ProcessConfigIO]
) -> list[ProcessConfigIO]:
    taken = {io.id for io in ios if io.id}
    filled = []
    for index, io in enumerate(ios):
        if io.id:
            filled.append(io)
            continue
        attempt = 0
        new_id = _stable_id(process_id, direction, index, attempt)
        while new_id in taken:
            attempt += 1
            new_id = _stable_id(process_id, direction, index, attempt)
        taken.add(new_id)
        filled.append(io.model_copy(update={"id": new_id}))
    return filled


def stable_io_ids(config: ProcessConfig) -> ProcessConfig:
    """``config`` with every empty input/output ID replaced by one derived from its position.

    datarhei generates random IDs once and stores them; a hand-written CR may leave them
    empty, and the Pod built from it must not change from one reconcile to the next.
    """
    return config.model_copy(
        update={
            "input": _with_stable_ids(config.id, "input", config.input),
            "output": _with_stable_ids(config.id, "output", config.output),
        }
    )
