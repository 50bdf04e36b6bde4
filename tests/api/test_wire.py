"""JSON and gzip on the wire like Core (spec §1.2, §1.5, §1.6)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response

from ffmpeg_operator.api.errors import install_error_handlers
from ffmpeg_operator.api.routing import Routes, include
from ffmpeg_operator.api.wire import dumps, install_gzip, json_response, read_json_body
from ffmpeg_operator.application import Application
from ffmpeg_operator.core.models import ProcessState, ProgressIO
from ffmpeg_operator.core.numbers import FormattedNumber


def test_rule_a_zero_is_written_without_decimals() -> None:
    text = dumps(ProcessState()).decode()
    assert '"fps":0,' in text
    assert '"cpu_usage":0,' in text


def test_rule_b_number_keeps_its_three_decimals() -> None:
    text = dumps(ProgressIO(fps=25.0)).decode()
    assert '"fps":25.000,' in text
    assert '"framerate":{"min":0.000,"max":0.000,"avg":0.000}' in text


def test_formatted_number_is_written_verbatim_inside_plain_data() -> None:
    assert dumps({"a": [FormattedNumber("19.400")]}) == b'{"a":[19.400]}'


def test_models_nested_in_plain_data_use_datarhei_numbers() -> None:
    text = dumps([ProcessState(cpu_usage=0.9994)]).decode()
    assert '"cpu_usage":0.999' in text


def test_models_are_dumped_with_snake_case_names() -> None:
    assert b'"reconnect_seconds":-1' in dumps(ProcessState())


def test_unknown_types_are_refused() -> None:
    with pytest.raises(TypeError):
        dumps({"x": object()})


def test_json_response_has_status_and_media_type() -> None:
    response = json_response("OK", status=201)
    assert response.status_code == 201
    assert response.body == b'"OK"'
    assert response.media_type == "application/json"


def _gzip_app() -> Application:
    app = Application()
    install_error_handlers(app)
    install_gzip(app)
    routes = Routes()

    @routes.get("/api/v3/sized/{size:int}")
    async def sized(size: int) -> Response:
        # A JSON string of `size` bytes in total: two quotes around the payload.
        return json_response("x" * (size - 2))

    @routes.get("/memfs/sized/{size:int}")
    async def outside(size: int) -> Response:
        return json_response("x" * (size - 2))

    @routes.post("/api/v3/echo")
    async def echo(request: Request) -> Response:
        return Response(await read_json_body(request), media_type="application/json")

    include(app, routes)
    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_gzip_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://core") as client:
        yield client


@pytest.mark.parametrize(
    ("size", "encoding"),
    [
        (999, None),
        # Echo's gzip middleware, like Starlette's, compresses from the minimum length on.
        (1000, "gzip"),
        (5000, "gzip"),
    ],
)
async def test_api_v3_responses_from_1000_bytes_are_gzipped(
    client: httpx.AsyncClient, size: int, encoding: str | None
) -> None:
    response = await client.get(f"/api/v3/sized/{size}", headers={"accept-encoding": "gzip"})
    assert response.headers.get("content-encoding") == encoding
    assert len(response.content) == size  # httpx decompressed it


async def test_no_gzip_when_the_client_does_not_accept_it(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v3/sized/5000", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in response.headers


async def test_no_gzip_outside_the_api_v3_group(client: httpx.AsyncClient) -> None:
    response = await client.get("/memfs/sized/5000", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in response.headers


async def test_json_body_is_passed_through(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v3/echo", json={"a": 1})
    assert response.status_code == 200
    assert response.json() == {"a": 1}


async def test_chunked_json_body_passes_the_length_check(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"a":'
        yield b"1}"

    response = await client.post(
        "/api/v3/echo", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json() == {"a": 1}


@pytest.mark.parametrize(
    ("content", "content_type", "detail"),
    [
        (b"", "application/json", "request doesn't contain any content"),
        (b'{"a":1}', "text/plain", "request doesn't contain JSON content"),
        (b'{"a":1}', "", "request doesn't contain JSON content"),
    ],
)
async def test_body_checks_answer_400_invalid_json(
    client: httpx.AsyncClient, content: bytes, content_type: str, detail: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post("/api/v3/echo", content=content, headers=headers)
    assert response.status_code == 400
    assert response.json() == {"code": 400, "message": "Invalid JSON", "details": [detail]}


async def test_json_content_type_with_charset_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v3/echo",
        content=b"[1]",
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200
