"""The served OpenAPI document (``/api/swagger/doc.json``) and its Swagger UI page.

Paths and operations come from the app's route table (methods, path parameters, an operation
ID and summary from the endpoint's name). Routes bind their bodies and read their queries
themselves (Go semantics, exact datarhei errors), so nothing about them can be inferred; this
module adds request bodies, responses and query parameters from the core models so clients and
fuzzers (schemathesis) see the real contract.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from ffmpeg_operator.api.routing import Routes
from ffmpeg_operator.application import Application
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


def _query(name: str, description: str, default: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if default is not None:
        schema["default"] = default
    return {"name": name, "in": "query", "schema": schema, "description": description}


_FILTER = _query("filter", "Aspects to include, comma separated (config, state, report, metadata).")

# Routes read these themselves (Core's double unescaping, §1.4).
_QUERY_PARAMETERS: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("/api/v3/process", "get"): [
        _FILTER,
        _query("reference", "Only processes with this reference; ignored if empty."),
        _query("id", "Comma separated process IDs; overrides the reference."),
        _query("idpattern", "Glob pattern for process IDs."),
        _query("refpattern", "Glob pattern for process references."),
    ],
    ("/api/v3/process/{pid}", "get"): [_FILTER],
    ("/api/v3/fs/{name}", "get"): [
        _query("glob", "Only files whose name matches this glob pattern.", ""),
        _query("sort", "Sort by name, size or lastmod (the default).", "none"),
        _query("order", "asc or desc.", "asc"),
    ],
}

#: Routes that answer text/plain, not JSON.
_PLAIN_TEXT = {("/ping", "get"), ("/ready", "get")}


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


def _operation(route: Route, method: str) -> dict[str, Any]:
    """What the route table tells of one operation; the tables above add the rest."""
    identifier = re.sub(r"\W", "_", route.name + route.path_format) + "_" + method
    operation: dict[str, Any] = {
        "summary": route.name.replace("_", " ").title(),
        "operationId": identifier,
    }
    if route.param_convertors:
        operation["parameters"] = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": {"type": "string", "title": name.title()},
            }
            for name in route.param_convertors
        ]
    media = "text/plain" if (route.path_format, method) in _PLAIN_TEXT else "application/json"
    schema = {"type": "string"} if media == "text/plain" else {}
    operation["responses"] = {
        "200": {"description": "Successful Response", "content": {media: {"schema": schema}}}
    }
    return operation


def _paths(routes: list[BaseRoute]) -> dict[str, dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not isinstance(route, Route) or not route.include_in_schema or not route.methods:
            continue
        for method in sorted(m.lower() for m in route.methods):
            paths.setdefault(route.path_format, {})[method] = _operation(route, method)
    return paths


def openapi_document(title: str, version: str, routes: list[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes``, with bodies, responses and errors."""
    paths = _paths(routes)
    error: dict[str, Any] = {"content": {"application/json": {"schema": _ref(Error)}}}
    for path, methods in paths.items():
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
            responses = operation["responses"]
            if key in _RESPONSES:
                model, many = _RESPONSES[key]
                schema: dict[str, Any] = (
                    {"type": "array", "items": _ref(model)} if many else _ref(model)
                )
                responses["200"] = {
                    "description": "OK",
                    "content": {"application/json": {"schema": schema}},
                }
            if path.startswith("/api/v3"):
                responses.setdefault("400", {"description": "Bad request", **error})
                responses.setdefault("404", {"description": "Not found", **error})
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {"schemas": _schemas()},
    }


DOCUMENT_URL = "/api/swagger/doc.json"
UI_URL = "/api/swagger/index.html"
#: Swagger UI from the jsDelivr CDN (the release line FastAPI's page used before).
_SWAGGER_UI = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5"


def swagger_ui_page(title: str, document_url: str) -> str:
    """An HTML page showing the document at ``document_url`` in Swagger UI."""
    return f"""<!DOCTYPE html>
<html>
<head>
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link type="text/css" rel="stylesheet" href="{_SWAGGER_UI}/swagger-ui.css">
<title>{title} - Swagger UI</title>
</head>
<body>
<div id="swagger-ui"></div>
<script src="{_SWAGGER_UI}/swagger-ui-bundle.js"></script>
<script>
const ui = SwaggerUIBundle({{
    url: '{document_url}',
    dom_id: '#swagger-ui',
    layout: 'BaseLayout',
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
}})
</script>
</body>
</html>
"""


def install_docs(app: Application, title: str, version: str) -> None:
    """Serve the document and its Swagger UI page, ahead of every other route.

    The document is made at its first request, when every route is in the table.
    """
    made: list[bytes] = []
    routes = Routes()

    @routes.route(DOCUMENT_URL, ["GET", "HEAD"], include_in_schema=False)
    async def openapi(request: Request) -> Response:
        if not made:
            document = openapi_document(title, version, request.app.routes)
            made.append(orjson.dumps(document))
        return Response(made[0], media_type="application/json")

    @routes.route(UI_URL, ["GET", "HEAD"], include_in_schema=False)
    async def swagger_ui() -> Response:
        return HTMLResponse(swagger_ui_page(title, DOCUMENT_URL))

    app.router.routes[:0] = routes.routes
