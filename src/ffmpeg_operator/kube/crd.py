"""The FFmpegProcess CustomResourceDefinition, generated from the pydantic models (design §2).

``ffmpeg-operator crd`` prints it; ``crds/ffmpegprocesses.yaml`` is that output, committed, and
a test fails when the two drift apart.

The openAPIV3Schema is *structural* (what the API server requires): ``$ref``s are inlined,
``Optional`` becomes ``nullable: true`` instead of ``anyOf`` with null, titles are dropped,
free-form objects (``affinity``, ``podTemplate.spec``) are
``x-kubernetes-preserve-unknown-fields``, and every property has a description so
``kubectl explain ffp.spec.output.cleanup`` documents it. Kubernetes-only constraints that the
process config model does not carry (list bounds, CEL rules) are added here by path.

CEL rules have a cost budget the API server estimates from the schema's bounds, which is why
``input``/``output`` have ``maxItems`` and IO ids ``maxLength``: the uniqueness rules are
quadratic in the list length. IO addresses have a ``maxLength`` too: without it the API server
estimates the not-blank rule over a string as long as a whole request and refuses the CRD
(found on a real kube-apiserver; the emulator does not estimate costs).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

from ffmpeg_operator.kube.names import GROUP, MAX_CR_NAME
from ffmpeg_operator.kube.spec import KIND, PLURAL, VERSION, FFmpegProcessSpec
from ffmpeg_operator.kube.status import FFmpegProcessStatus
from ffmpeg_operator.kube.yamltext import dump_documents

__all__ = [
    "CRD_NAME",
    "MAX_IOS",
    "MAX_IO_ADDRESS_LENGTH",
    "MAX_IO_ID_LENGTH",
    "crd",
    "crd_yaml",
    "openapi_schema",
    "structural_schema",
]

CRD_NAME = f"{PLURAL}.{GROUP}"
#: Most inputs (and most outputs) one process may have.
MAX_IOS = 64
#: Longest input/output ID.
MAX_IO_ID_LENGTH = 256
#: Longest input/output address (64 KiB: far beyond any URL or filtergraph in practice).
MAX_IO_ADDRESS_LENGTH = 65536

_DROPPED_KEYS = frozenset({"title"})
#: Keys that come first in a schema node, for a readable ``kubectl explain`` / YAML file.
_LEADING_KEYS = ("description", "type")
#: Section references of the datarhei spec in model docstrings mean nothing to CRD readers.
_SPEC_SECTION = re.compile(r"\s*\(§[0-9.]+\)")

#: CEL: non-empty IO ids are unique within their list (empty ones are generated later).
_UNIQUE_IDS = "self.all(a, a.id == '' || self.exists_one(b, b.id == a.id))"
#: CEL: the address has a character that is not white space (datarhei trims before checking).
_NOT_BLANK = "self.address.matches('\\\\S')"
_PLAIN_NAME = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class SchemaError(ValueError):
    """The models cannot be expressed as a structural schema."""


# --------------------------------------------------------------------------- JSON schema -> CRD


def structural_schema(json_schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema turned into a structural OpenAPI v3 schema (see module doc)."""
    definitions = json_schema.get("$defs", {})
    root = {key: value for key, value in json_schema.items() if key != "$defs"}
    return _convert(root, definitions, "")


def _convert(node: dict[str, Any], definitions: dict[str, Any], path: str) -> dict[str, Any]:
    node = _inline(node, definitions)
    node = _nullable(node, definitions)
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED_KEYS:
            continue
        if key == "properties":
            result[key] = {
                name: _convert(child, definitions, f"{path}.{name}")
                for name, child in value.items()
            }
        elif key == "items":
            result[key] = _convert(value, definitions, f"{path}[]")
        elif key == "additionalProperties":
            if value is True:
                result["x-kubernetes-preserve-unknown-fields"] = True
            elif value is not False:
                result[key] = _convert(value, definitions, f"{path}.*")
        elif key == "default" and value is None:
            continue
        elif key == "description":
            result[key] = _SPEC_SECTION.sub("", value)
        else:
            result[key] = copy.deepcopy(value)
    if "anyOf" in result and not result.get("x-kubernetes-int-or-string"):
        raise SchemaError(f"{path or '<root>'}: anyOf is not structural")
    if "type" not in result and not _untyped_allowed(result):
        raise SchemaError(f"{path or '<root>'}: no type")
    leading = {key: result.pop(key) for key in _LEADING_KEYS if key in result}
    return {**leading, **result}


def _untyped_allowed(node: dict[str, Any]) -> bool:
    return bool(
        node.get("x-kubernetes-int-or-string") or node.get("x-kubernetes-preserve-unknown-fields")
    )


def _inline(node: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """Replace ``$ref`` by the definition; the referring node's keys (description) win."""
    if "$ref" not in node:
        return node
    name = node["$ref"].rsplit("/", 1)[-1]
    merged = {**_inline(definitions[name], definitions)}
    merged.update({key: value for key, value in node.items() if key != "$ref"})
    return merged


def _nullable(node: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """``anyOf: [X, {type: null}]`` -> X with ``nullable: true`` (outer keys win)."""
    variants = node.get("anyOf")
    if not variants:
        return node
    others = [v for v in variants if v != {"type": "null"}]
    if len(others) == len(variants):
        return node
    if len(others) != 1:
        raise SchemaError(f"cannot express a union as a structural schema: {variants}")
    merged = {**_inline(others[0], definitions)}
    merged.update({key: value for key, value in node.items() if key != "anyOf"})
    merged["nullable"] = True
    return merged


def _walk(node: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, node) of every schema node; paths like ``.spec.input[]``."""
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from _walk(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from _walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _walk(node["additionalProperties"], f"{path}.*")


def _at(schema: dict[str, Any], path: str) -> dict[str, Any]:
    for found, node in _walk(schema, ""):
        if found == path:
            return node
    raise SchemaError(f"no schema node at {path}")


def _require_descriptions(schema: dict[str, Any]) -> None:
    for path, node in _walk(schema, ""):
        for name, child in node.get("properties", {}).items():
            if path == "" and name == "metadata":
                continue  # ObjectMeta: the apiserver allows no more than {type: object} here
            if not child.get("description"):
                raise SchemaError(f"{path}.{name} has no description")


# --------------------------------------------------------------------------- the CRD


def _spec_schema() -> dict[str, Any]:
    spec = structural_schema(FFmpegProcessSpec.model_json_schema(by_alias=True))
    spec["description"] = (
        "Desired state: a datarhei process config (camelCase) plus Kubernetes fields."
    )
    for direction in ("input", "output"):
        ios = _at(spec, f".{direction}")
        ios["minItems"] = 1
        ios["maxItems"] = MAX_IOS
        ios["x-kubernetes-validations"] = [
            {"rule": _UNIQUE_IDS, "message": f"{direction} ids must be unique"}
        ]
        io = ios["items"]
        io["properties"]["id"]["maxLength"] = MAX_IO_ID_LENGTH
        io["required"] = ["address"]
        io["properties"]["address"].pop("default", None)
        io["properties"]["address"]["minLength"] = 1
        io["properties"]["address"]["maxLength"] = MAX_IO_ADDRESS_LENGTH
        io["x-kubernetes-validations"] = [
            {"rule": _NOT_BLANK, "message": "address must not be blank"}
        ]
    _at(spec, ".id")["x-kubernetes-validations"] = [
        {"rule": "self.matches('\\\\S')", "message": "id must not be blank"},
        {"rule": "self == oldSelf", "message": "id is immutable"},
    ]
    return spec


def _status_schema() -> dict[str, Any]:
    status = structural_schema(FFmpegProcessStatus.model_json_schema(by_alias=True))
    for _path, node in _walk(status, ""):
        node.pop("default", None)  # the operator writes the status; nothing to default
    conditions = _at(status, ".conditions")
    conditions["x-kubernetes-list-type"] = "map"
    conditions["x-kubernetes-list-map-keys"] = ["type"]
    return status


def openapi_schema() -> dict[str, Any]:
    """The openAPIV3Schema of the FFmpegProcess kind."""
    schema: dict[str, Any] = {
        "description": "An ffmpeg process supervised by ffmpeg-operator, as the datarhei Core "
        "v3 process API defines it.",
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {
                "description": "Versioned schema of this representation of an object.",
                "type": "string",
            },
            "kind": {"description": "REST resource this object represents.", "type": "string"},
            # Exactly this: kube-apiserver refuses a CRD whose root metadata schema says more
            # (even a description) than type object, name and generateName.
            "metadata": {"type": "object"},
            "spec": _spec_schema(),
            "status": _status_schema(),
        },
        "x-kubernetes-validations": [
            {
                "rule": f"self.metadata.name.matches('{_PLAIN_NAME}') && "
                f"size(self.metadata.name) <= {MAX_CR_NAME}",
                "message": f"metadata.name must be a DNS-1123 label of at most {MAX_CR_NAME} "
                "characters (run Pods are named <name>-<run>)",
            }
        ],
    }
    _require_descriptions(schema)
    return schema


_PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "State", "type": "string", "jsonPath": ".status.state",
     "description": "datarhei exec state."},
    {"name": "Order", "type": "string", "jsonPath": ".status.order",
     "description": "datarhei order (start/stop)."},
    {"name": "FPS", "type": "number", "jsonPath": ".status.progress.fps",
     "description": "Frames per second (sampled at most every 30 s)."},
    {"name": "Bitrate", "type": "number", "jsonPath": ".status.progress.bitrateKbit",
     "description": "Output bitrate in kbit/s (sampled at most every 30 s)."},
    {"name": "Uptime", "type": "date", "jsonPath": ".status.runningSince",
     "description": "Time since the current run started."},
    {"name": "Restarts", "type": "integer", "jsonPath": ".status.restarts",
     "description": "Runs started after the first one."},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {"name": "ID", "type": "string", "jsonPath": ".spec.id", "priority": 1,
     "description": "The datarhei process ID."},
]  # fmt: skip


def crd() -> dict[str, Any]:
    """The CustomResourceDefinition object."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": CRD_NAME,
            "labels": {"app.kubernetes.io/name": "ffmpeg-operator"},
        },
        "spec": {
            "group": GROUP,
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": KIND.lower(),
                "shortNames": ["ffp"],
                "categories": ["ffmpeg"],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": openapi_schema()},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": copy.deepcopy(_PRINTER_COLUMNS),
                }
            ],
        },
    }


def crd_yaml() -> str:
    """:func:`crd` as the YAML document committed in ``crds/ffmpegprocesses.yaml``."""
    header = "# Generated by `ffmpeg-operator crd` from the pydantic models. Do not edit.\n"
    return header + dump_documents([crd()], explicit_start=False)
