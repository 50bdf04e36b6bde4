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


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


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
