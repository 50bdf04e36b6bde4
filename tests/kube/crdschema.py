"""Validate a custom object against a CRD's openAPIV3Schema, as the API server would.

No library does it (see the Kubernetes testing notes), so this combines:

- schema defaults applied first (the API server defaults before it validates);
- ``openapi-schema-validator`` (OpenAPI 3.0: ``nullable``, formats);
- unknown fields are errors unless ``x-kubernetes-preserve-unknown-fields`` (the API server
  prunes them, or refuses them with strict field validation, kubectl's default);
- ``x-kubernetes-validations`` evaluated with cel-python; transition rules (``oldSelf``) only
  when an old object is given and has the field, as the API server does.

Differences left: Kubernetes' CEL extension libraries (strings, lists, quantity) are not
available, and the rules' cost is not estimated.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import celpy
from celpy.adapter import json_to_cel
from openapi_schema_validator import OAS30Validator, oas30_format_checker

_MISSING = object()


class CRDSchema:
    """The schema of the storage version of a CRD."""

    def __init__(self, crd: dict[str, Any]) -> None:
        version = next(v for v in crd["spec"]["versions"] if v.get("storage"))
        self.schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
        self._validator = OAS30Validator(self.schema, format_checker=oas30_format_checker)
        # Compile every rule now: cel-python's parser raises the recursion limit on first use,
        # which hypothesis warns about when it happens inside a test.
        for rule in _rules(self.schema):
            _program(rule)

    def default(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``obj`` with the schema's defaults applied."""
        defaulted: dict[str, Any] = _defaulted(self.schema, copy.deepcopy(obj))
        return defaulted

    def errors(self, obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
        """Every error the API server would report for ``obj`` (after defaulting)."""
        obj = self.default(obj)
        errors = [
            f"{_path(error.absolute_path)}: {error.message}"
            for error in self._validator.iter_errors(obj)
        ]
        errors.extend(_unknown_fields(self.schema, obj, ""))
        if not errors:  # CEL runs on well-typed data only
            old_defaulted = self.default(old) if old is not None else _MISSING
            errors.extend(_cel_errors(self.schema, obj, old_defaulted, ""))
        return errors


def _path(parts: Any) -> str:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
    return text or "<root>"


def _children(schema: dict[str, Any], value: Any) -> list[tuple[str | int, dict[str, Any]]]:
    """(key, child schema) of every child of ``value`` the schema describes."""
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        pairs: list[tuple[str | int, dict[str, Any]]] = []
        for key in value:
            if key in properties:
                pairs.append((key, properties[key]))
            elif isinstance(extra, dict):
                pairs.append((key, extra))
        return pairs
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [(index, schema["items"]) for index in range(len(value))]
    return []


def _defaulted(schema: dict[str, Any], value: Any) -> Any:
    if isinstance(value, dict):
        for key, child in schema.get("properties", {}).items():
            if key not in value and "default" in child:
                value[key] = copy.deepcopy(child["default"])
    for key, child in _children(schema, value):
        value[key] = _defaulted(child, value[key])
    return value


def _unknown_fields(schema: dict[str, Any], value: Any, path: str) -> list[str]:
    errors: list[str] = []
    if isinstance(value, dict) and not schema.get("x-kubernetes-preserve-unknown-fields"):
        if path == ".metadata":
            return []  # ObjectMeta: the API server knows it
        known = schema.get("properties", {})
        if not isinstance(schema.get("additionalProperties"), dict):
            errors.extend(f"{path}.{key}: unknown field" for key in value if key not in known)
    for key, child in _children(schema, value):
        child_path = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}"
        errors.extend(_unknown_fields(child, value[key], child_path))
    return errors


def _rules(schema: dict[str, Any]) -> list[str]:
    rules = [validation["rule"] for validation in schema.get("x-kubernetes-validations", [])]
    for child in (schema.get("properties") or {}).values():
        rules.extend(_rules(child))
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            rules.extend(_rules(schema[key]))
    return rules


@functools.cache
def _program(rule: str) -> Any:
    environment = celpy.Environment()
    return environment.program(environment.compile(rule))


def _cel_errors(schema: dict[str, Any], value: Any, old: Any, path: str) -> list[str]:
    errors = []
    for validation in schema.get("x-kubernetes-validations", []):
        rule = validation["rule"]
        activation = {"self": json_to_cel(value)}
        if "oldSelf" in rule:
            if old is _MISSING:
                continue  # a transition rule: only on updates where the field existed
            activation["oldSelf"] = json_to_cel(old)
        result = _program(rule).evaluate(activation)
        if not (isinstance(result, celpy.celtypes.BoolType) and bool(result)):
            message = validation.get("message") or f"failed rule: {rule}"
            errors.append(f"{path or '<root>'}: {message}")
    for key, child in _children(schema, value):
        child_path = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}"
        old_child = _MISSING
        # Transition rules on list items of atomic lists are not evaluated; maps correlate.
        if isinstance(key, str) and isinstance(old, dict) and key in old:
            old_child = old[key]
        errors.extend(_cel_errors(child, value[key], old_child, child_path))
    return errors
