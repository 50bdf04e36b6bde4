"""Every error answers with datarhei's body {"code","message","details"} (spec §1.1)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.requests import Request

from ffmpeg_operator.api.errors import ApiError, install_error_handlers, reason_phrase
from ffmpeg_operator.api.routing import Routes, include
from ffmpeg_operator.application import Application


def _app() -> Application:
    app = Application()
    install_error_handlers(app)
    routes = Routes()

    @routes.get("/api/v3/fail")
    async def fail(request: Request) -> None:
        query = request.query_params
        raise ApiError(int(query.get("status", 400)), query.get("message", ""), query["details"])

    @routes.route("/api/v3/fail-head", ["GET", "HEAD"])
    async def fail_head() -> None:
        raise ApiError(404, "Unknown process ID", "unknown process")

    @routes.get("/api/v3/crash")
    async def crash() -> None:
        raise RuntimeError("boom")

    include(app, routes)
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://core") as client:
        yield client


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        ("unknown process", ["unknown process"]),
        ("first\nsecond", ["first", "second"]),
        ("", []),
        (["a", "b"], ["a", "b"]),
    ],
)
def test_details_from_a_string_are_split_on_newlines(
    details: str | list[str], expected: list[str]
) -> None:
    assert ApiError(400, "Invalid JSON", details).details == expected


@pytest.mark.parametrize(
    ("status", "phrase"),
    [
        (401, "Unauthorized"),
        (404, "Not Found"),
        (400, "Bad Request"),
        (500, "Internal Server Error"),
    ],
)
def test_empty_message_becomes_the_reason_phrase(status: int, phrase: str) -> None:
    assert ApiError(status, "", "x").message == phrase


def test_unknown_status_has_an_empty_reason_phrase() -> None:
    assert reason_phrase(799) == ""


async def test_api_error_is_sent_as_datarhei_body(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/v3/fail",
        params={"status": 404, "message": "Unknown process ID", "details": "unknown process"},
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "code": 404,
        "message": "Unknown process ID",
        "details": ["unknown process"],
    }


async def test_multi_line_detail_becomes_several_entries(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/v3/fail", params={"message": "Invalid JSON", "details": "one\ntwo"}
    )
    assert response.json()["details"] == ["one", "two"]


async def test_unknown_route_is_404_with_reason_phrase(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v3/nowhere")
    assert response.status_code == 404
    assert response.json() == {"code": 404, "message": "Not Found", "details": ["Not Found"]}


async def test_wrong_method_is_405_with_reason_phrase(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/v3/crash")
    assert response.status_code == 405
    assert response.json() == {
        "code": 405,
        "message": "Method Not Allowed",
        "details": ["Method Not Allowed"],
    }
    assert response.headers["allow"] == "GET"


async def test_head_on_a_get_route_is_405_status_only(client: httpx.AsyncClient) -> None:
    # Echo routes no HEAD for GET routes; Starlette would add one to every GET route.
    response = await client.head("/api/v3/crash")
    assert response.status_code == 405
    assert response.content == b""
    assert response.headers["allow"] == "GET"


async def test_unexpected_exception_is_500_datarhei_body(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.get("/api/v3/crash")
    assert response.status_code == 500
    assert response.json() == {
        "code": 500,
        "message": "Internal Server Error",
        "details": ["Internal Server Error"],
    }
    assert "unhandled error in GET /api/v3/crash" in caplog.text


async def test_head_request_gets_status_only(client: httpx.AsyncClient) -> None:
    response = await client.head("/api/v3/fail-head")
    assert response.status_code == 404
    assert response.content == b""


async def test_head_on_unknown_route_gets_status_only(client: httpx.AsyncClient) -> None:
    response = await client.head("/api/v3/nowhere")
    assert response.status_code == 404
    assert response.content == b""
