"""The served OpenAPI document and Swagger UI page (``/api/swagger/...``), made from the route
table without FastAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from ffmpeg_operator.api.server import ServeOptions, build_local_app
from ffmpeg_operator.application import Application

Served = tuple[Application, httpx.AsyncClient]


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    # No lifespan: the engine stays closed, the document needs only the route table.
    app, _engine = build_local_app(ServeOptions(data_dir=tmp_path / "data"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://core") as client:
        yield app, client


async def _document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/api/swagger/doc.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document: dict[str, Any] = response.json()
    return document


async def test_every_routed_operation_is_in_the_document(served: Served) -> None:
    app, client = served
    routed = {
        (route.path_format, method.lower())
        for route in app.routes
        if isinstance(route, Route) and route.include_in_schema
        for method in route.methods or ()
    }
    paths = (await _document(client))["paths"]
    documented = {(path, method) for path, methods in paths.items() for method in methods}
    assert ("/api/v3/process/{pid}", "get") in routed
    assert documented == routed


async def test_operation_ids_are_unique(served: Served) -> None:
    paths = (await _document(served[1]))["paths"]
    ids = [operation["operationId"] for methods in paths.values() for operation in methods.values()]
    assert len(ids) == len(set(ids))


async def test_path_parameters_are_declared_as_required_strings(
    served: Served,
) -> None:
    operation = (await _document(served[1]))["paths"]["/api/v3/fs/{name}/{path}"]["put"]
    assert [p for p in operation["parameters"] if p["in"] == "path"] == [
        {
            "name": "name",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "title": "Name"},
        },
        {
            "name": "path",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "title": "Path"},
        },
    ]


async def test_bodies_and_errors_come_from_the_core_models(served: Served) -> None:
    document = await _document(served[1])
    create = document["paths"]["/api/v3/process"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ProcessConfig"}
    assert set(create["responses"]) == {"200", "400", "404"}
    assert document["components"]["schemas"]["ProcessConfig"]["required"] == ["input", "output"]
    assert "HTTPValidationError" not in document["components"]["schemas"]


async def test_swagger_ui_page_loads_the_served_document(served: Served) -> None:
    response = await served[1].get("/api/swagger/index.html")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "url: '/api/swagger/doc.json'" in response.text
    assert "swagger-ui-dist@5/swagger-ui-bundle.js" in response.text
