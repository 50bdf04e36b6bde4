"""Request and response schemas in the served OpenAPI document.

Routes bind their bodies themselves (Go semantics, exact datarhei errors), so FastAPI cannot
infer the schemas; this module adds them from the core models so clients and fuzzers
(schemathesis) see the real contract.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from ffmpeg_operator.core.models import (
    Command,
    Error,
    Probe,
    Process,
    ProcessConfig,
    ProcessReport,
    ProcessState,
)

_REQUEST_BODIES: dict[tuple[str, str], type[BaseModel] | None] = {
    ("/api/v3/process", "post"): ProcessConfig,
    ("/api/v3/process/{pid}", "put"): ProcessConfig,
    ("/api/v3/process/{pid}/command", "put"): Command,
    ("/api/v3/process/{pid}/metadata/{key}", "put"): None,
    ("/api/v3/metadata/{key}", "put"): None,
}

_RESPONSES: dict[tuple[str, str], tuple[type[BaseModel], bool]] = {
    ("/api/v3/process", "get"): (Process, True),
    ("/api/v3/process", "post"): (ProcessConfig, False),
    ("/api/v3/process/{pid}", "get"): (Process, False),
    ("/api/v3/process/{pid}", "put"): (ProcessConfig, False),
    ("/api/v3/process/{pid}/config", "get"): (ProcessConfig, False),
    ("/api/v3/process/{pid}/state", "get"): (ProcessState, False),
    ("/api/v3/process/{pid}/report", "get"): (ProcessReport, False),
    ("/api/v3/process/{pid}/probe", "get"): (Probe, False),
}


def _query(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": "string"}, "description": description}


_FILTER = _query("filter", "Aspects to include, comma separated (config, state, report, metadata).")

# Routes read these themselves (Core's double unescaping, §1.4), so FastAPI cannot list them.
_QUERY_PARAMETERS: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("/api/v3/process", "get"): [
        _FILTER,
        _query("reference", "Only processes with this reference; ignored if empty."),
        _query("id", "Comma separated process IDs; overrides the reference."),
        _query("idpattern", "Glob pattern for process IDs."),
        _query("refpattern", "Glob pattern for process references."),
    ],
    ("/api/v3/process/{pid}", "get"): [_FILTER],
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


#: Go's uint/uint64 bound: larger numbers are a type error of the binder.
_UINT64_MAX = 2**64 - 1

# What Core's binder enforces beyond the models' types (go-playground ``required`` and
# ``oneof`` tags, as in datarhei's own swagger): required keys, non-empty strings, enums.
_REQUIRED: dict[str, list[str]] = {
    "ProcessConfig": ["input", "output"],
    "ProcessConfigIO": ["address"],
    "Cleanup": ["pattern"],
    "Command": ["command"],
}
_NON_EMPTY = {("ProcessConfigIO", "address"), ("Cleanup", "pattern")}
_ENUMS: dict[tuple[str, str], list[str]] = {
    ("ProcessConfig", "type"): ["ffmpeg", ""],
    ("Command", "command"): ["start", "stop", "restart", "reload"],
}


def _add_go_contract(schemas: dict[str, Any]) -> None:
    for name, schema in schemas.items():
        properties: dict[str, Any] = schema.get("properties", {})
        for field, definition in properties.items():
            if definition.get("type") == "integer" and definition.get("minimum") == 0:
                definition.setdefault("maximum", _UINT64_MAX)
            if (name, field) in _NON_EMPTY:
                definition["minLength"] = 1
            if (name, field) in _ENUMS:
                definition["enum"] = _ENUMS[name, field]
        if name in _REQUIRED:
            schema["required"] = _REQUIRED[name]


def _schemas() -> dict[str, Any]:
    models: list[type[BaseModel]] = [
        ProcessConfig,
        Command,
        Error,
        Process,
        ProcessState,
        ProcessReport,
        Probe,
    ]
    schemas: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(
            by_alias=False, ref_template="#/components/schemas/{model}"
        )
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    _add_go_contract(schemas)
    return schemas


def describe_bodies(app: FastAPI) -> None:
    """Replace ``app.openapi`` with a generator that adds bodies, responses and errors."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(title=app.title, version=app.version, routes=app.routes)
        components = document.setdefault("components", {}).setdefault("schemas", {})
        components.update(_schemas())
        error: dict[str, Any] = {"content": {"application/json": {"schema": _ref(Error)}}}
        for path, methods in document.get("paths", {}).items():
            for method, operation in methods.items():
                key = (path, method)
                if key in _QUERY_PARAMETERS:
                    operation.setdefault("parameters", []).extend(_QUERY_PARAMETERS[key])
                if key in _REQUEST_BODIES:
                    model = _REQUEST_BODIES[key]
                    body_schema: dict[str, Any] = _ref(model) if model is not None else {}
                    operation["requestBody"] = {
                        "required": True,
                        "content": {"application/json": {"schema": body_schema}},
                    }
                responses = operation.setdefault("responses", {})
                if key in _RESPONSES:
                    model, many = _RESPONSES[key]
                    schema: dict[str, Any] = (
                        {"type": "array", "items": _ref(model)} if many else _ref(model)
                    )
                    responses["200"] = {
                        "description": "OK",
                        "content": {"application/json": {"schema": schema}},
                    }
                responses.pop("422", None)
                if path.startswith("/api/v3"):
                    responses.setdefault("400", {"description": "Bad request", **error})
                    responses.setdefault("404", {"description": "Not found", **error})
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
