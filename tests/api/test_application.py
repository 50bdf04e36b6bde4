"""The application under the API and the agent stacks its parts as Starlette's does
(ffmpeg_operator/application.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ffmpeg_operator.application import Application


class _Tag:
    """Appends its name to the ``x-order`` header: the outermost writes last."""

    def __init__(self, app: ASGIApp, name: str) -> None:
        self.app = app
        self.name = name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def tagging(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = dict(message["headers"])
                order = headers.get(b"x-order", b"") + self.name.encode()
                headers[b"x-order"] = order
                message = {**message, "headers": list(headers.items())}
            await send(message)

        await self.app(scope, receive, tagging)


async def _ok(_: Request) -> Response:
    return PlainTextResponse("ok")


async def _crash(_: Request) -> Response:
    raise RuntimeError("boom")


async def _crash_midway(_: Request) -> Response:
    async def parts() -> AsyncIterator[bytes]:
        yield b"first"
        raise RuntimeError("midway")

    return StreamingResponse(parts())


def _recording_500(seen: list[str]) -> Callable[[Request, Exception], Awaitable[Response]]:
    """A handler answering 500 with the error's text, which it also appends to ``seen``."""

    async def on_error(_: Request, exc: Exception) -> Response:
        seen.append(str(exc))
        return JSONResponse({"error": str(exc)}, status_code=500)

    return on_error


def _app() -> Application:
    return Application(
        routes=[
            Route("/ok", _ok),
            Route("/crash", _crash),
            Route("/midway", _crash_midway),
        ]
    )


def _client(app: Application) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://app")


async def test_the_middleware_added_last_is_the_outermost() -> None:
    app = _app()
    app.add_middleware(_Tag, name="a")
    app.add_middleware(_Tag, name="b")
    async with _client(app) as client:
        response = await client.get("/ok")
    assert response.headers["x-order"] == "ab"


async def test_middleware_cannot_be_added_once_serving() -> None:
    app = _app()
    async with _client(app) as client:
        await client.get("/ok")
    with pytest.raises(RuntimeError):
        app.add_middleware(_Tag, name="late")


async def test_an_uncaught_error_without_a_handler_is_a_plain_500() -> None:
    async with _client(_app()) as client:
        response = await client.get("/crash")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"


async def test_an_uncaught_error_is_answered_by_the_exception_handler_then_raised_again() -> None:
    app = _app()
    seen: list[str] = []
    app.add_exception_handler(Exception, _recording_500(seen))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        # Raised again after the answer: uvicorn logs it (here the transport raises it).
        with pytest.raises(RuntimeError, match="boom"):
            await client.get("/crash")
    async with _client(app) as client:
        response = await client.get("/crash")
    assert (response.status_code, response.json()) == (500, {"error": "boom"})
    assert seen == ["boom", "boom"]


async def test_an_error_after_the_answer_started_sends_no_second_answer() -> None:
    app = _app()
    handled: list[str] = []
    app.add_exception_handler(500, _recording_500(handled))
    async with _client(app) as client:
        response = await client.get("/midway")
    assert response.status_code == 200
    assert response.content == b"first"
    assert handled == ["midway"]


async def test_a_status_code_handler_answers_the_routers_404() -> None:
    app = _app()

    async def on_404(_: Request, __: Exception) -> Response:
        return PlainTextResponse("no such page", status_code=404)

    app.add_exception_handler(404, on_404)
    async with _client(app) as client:
        response = await client.get("/nowhere")
    assert (response.status_code, response.text) == (404, "no such page")


async def test_the_lifespan_gets_the_application_and_requests_see_its_state() -> None:
    entered: list[object] = []

    @asynccontextmanager
    async def lifespan(app: Application) -> AsyncIterator[None]:
        entered.append(app)
        yield

    async def state(request: Request) -> Response:
        return PlainTextResponse(request.app.state.greeting)

    app = Application(routes=[Route("/state", state)], lifespan=lifespan)
    app.state.greeting = "hello"
    incoming: list[Message] = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message["type"])

    await app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send)
    async with _client(app) as client:
        response = await client.get("/state")
    assert entered == [app]
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert response.text == "hello"
