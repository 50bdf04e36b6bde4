"""Kubernetes API machinery without state, for the test API server (:mod:`emulator`).

Status errors, label and field selectors, the three patch formats, and the URL layout of
the API (``/api/v1/namespaces/<ns>/<plural>/<name>/<subresource>``).
"""

from __future__ import annotations

import copy
import datetime
import re
from collections.abc import Callable, Mapping
from typing import Any

import jsonpatch
import jsonpointer
from kmock._internal import parsing

Obj = dict[str, Any]

#: Strategic-merge keys of the lists that matter here (everything else is replaced).
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "ports": "containerPort",
    "volumeMounts": "mountPath",
    "containerStatuses": "name",
    "initContainerStatuses": "name",
    "conditions": "type",
    "imagePullSecrets": "name",
    "ownerReferences": "uid",
    "tolerations": "key",
}


def now_rfc3339() -> str:
    """The API server's timestamp format (seconds, UTC, ``Z``)."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(Exception):
    """An API failure answered as a ``Status`` body."""

    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details or {}

    def status(self) -> Obj:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        }


# --- selectors ---------------------------------------------------------------------------------

_REQUIREMENT = re.compile(
    r"^\s*(?P<neg>!)?\s*(?P<key>[^\s=!,()]+)\s*"
    r"(?:(?P<op>==|=|!=)\s*(?P<value>[^\s,()]*)"
    r"|\s(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?\s*$"
)


def _split_requirements(text: str) -> list[str]:
    """Split at commas outside parentheses (``a in (x,y),b=c``)."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part for part in parts if part.strip()]


def label_matcher(selector: str | None) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate over a labels dict for a ``labelSelector``; 400 when it does not parse."""
    checks: list[Callable[[Mapping[str, Any]], bool]] = []
    for text in _split_requirements(selector or ""):
        match = _REQUIREMENT.match(text)
        if not match or (match["neg"] and (match["op"] or match["setop"])):
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {text!r}")
        key = match["key"]
        if match["neg"]:
            checks.append(lambda labels, k=key: k not in labels)
        elif match["op"] in ("=", "=="):
            checks.append(lambda labels, k=key, v=match["value"]: labels.get(k) == v)
        elif match["op"] == "!=":
            checks.append(lambda labels, k=key, v=match["value"]: labels.get(k) != v)
        elif match["setop"]:
            values = {value.strip() for value in match["values"].split(",") if value.strip()}
            if match["setop"] == "in":
                checks.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
            else:
                checks.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
        else:
            checks.append(lambda labels, k=key: k in labels)
    return lambda labels: all(check(labels) for check in checks)


def field_matcher(selector: str | None) -> Callable[[Obj], bool]:
    """A predicate over an object for a ``fieldSelector`` (``metadata.name=x,status.phase!=y``)."""
    checks: list[Callable[[Obj], bool]] = []
    for text in _split_requirements(selector or ""):
        match = re.match(r"^\s*([\w.]+)\s*(==|=|!=)\s*(.*?)\s*$", text)
        if not match:
            raise ApiError(400, "BadRequest", f"invalid field selector: {text!r}")
        path, op, expected = match.groups()

        def value(obj: Obj, path: str = path) -> str:
            node: Any = obj
            for part in path.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            return "" if node is None else str(node)

        if op == "!=":
            checks.append(lambda obj, v=value, e=expected: v(obj) != e)
        else:
            checks.append(lambda obj, v=value, e=expected: v(obj) == e)
    return lambda obj: all(check(obj) for check in checks)


# --- patches -----------------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: dicts merge recursively, ``None`` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any, field_name: str = "") -> Any:
    """A merge patch in which the known lists of named items (:data:`_MERGE_KEYS`) merge by key.

    Enough for what clients send here (Pod status, containers, conditions); directives such as
    ``$patch`` and ``$setElementOrder`` are not interpreted.
    """
    key = _MERGE_KEYS.get(field_name)
    if key and isinstance(target, list) and isinstance(patch, list):
        merged = [copy.deepcopy(item) for item in target]
        for item in patch:
            index = next(
                (
                    i
                    for i, old in enumerate(merged)
                    if isinstance(old, dict)
                    and isinstance(item, dict)
                    and old.get(key) == item.get(key)
                ),
                None,
            )
            if index is None:
                merged.append(copy.deepcopy(item))
            else:
                merged[index] = strategic_merge_patch(merged[index], item)
        return merged
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = strategic_merge_patch(result.get(name), value, name)
    return result


def apply_json_patch(target: Obj, ops: Any) -> Obj:
    """RFC 6902; a failed ``test`` or a bad path answers 422 (kopf retries on that)."""
    if not isinstance(ops, list):
        raise ApiError(400, "BadRequest", "a JSON patch must be a list of operations")
    try:
        return jsonpatch.apply_patch(target, ops)  # type: ignore[no-any-return]
    except jsonpatch.JsonPatchTestFailed as error:
        raise ApiError(
            422,
            "Invalid",
            f"the server rejected our request due to an error in our request: test failed: {error}",
        ) from error
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as error:
        raise ApiError(422, "Invalid", f"invalid JSON patch: {error}") from error


# --- paths -------------------------------------------------------------------------------------


def parse_path(path: str) -> parsing.ParsedPath:
    """Split an API path into group, version, plural, namespace, name, subresource."""
    parts = [part for part in path.split("/") if part]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    elif len(parts) == 2 and parts[0] == "apis":
        return parsing.ParsedPath(group=parts[1])
    else:
        return parsing.ParsedPath()
    namespace = None
    # /namespaces/<ns>/<plural>... is namespaced; /namespaces/<name>[/status|/finalize] is not.
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    return parsing.ParsedPath(
        group=group,
        version=version,
        plural=rest[0] if rest else None,
        namespace=namespace,
        name=rest[1] if len(rest) > 1 else None,
        subresource="/".join(rest[2:]) or None,
    )
