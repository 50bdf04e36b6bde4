"""The ASGI application of the API and of the agent: what we use of Starlette's, less its
debug error page.

``starlette.applications`` imports ``starlette.middleware.errors`` for its outermost layer,
and that module imports ``html`` (with ``html.entities``) to render tracebacks as a page:
0.54 MiB resident in every server and every agent sidecar, for a page neither shows
(bench/README.md, "Where the memory goes"). :class:`Application` builds the same stack as
Starlette (the routes' ``Router`` innermost under Starlette's ``ExceptionMiddleware``, then
the added middleware, the last added outermost) with :class:`_ServerErrors` outside it.

It is a layer of its own, below the agent: both the API and the agent (a lower layer) serve one.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, ParamSpec

from starlette.datastructures import State
from starlette.middleware import Middleware, _MiddlewareFactory
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Router
from starlette.types import ASGIApp, ExceptionHandler, Lifespan, Message, Receive, Scope, Send

P = ParamSpec("P")


class Application:
    """Routes, middleware and exception handlers, as :class:`starlette.applications.Starlette`
    takes them; the stack is built at the first call."""

    def __init__(
        self,
        routes: Sequence[BaseRoute] | None = None,
        lifespan: Lifespan[Any] | None = None,
    ) -> None:
        self.state = State()
        self.router = Router(routes, lifespan=lifespan)
        self.exception_handlers: dict[Any, ExceptionHandler] = {}
        self.user_middleware: list[Middleware] = []
        self.middleware_stack: ASGIApp | None = None

    @property
    def routes(self) -> list[BaseRoute]:
        return self.router.routes

    def add_middleware(
        self, middleware_class: _MiddlewareFactory[P], *args: P.args, **kwargs: P.kwargs
    ) -> None:
        """Wrap the stack in ``middleware_class``: the last added is the outermost."""
        if self.middleware_stack is not None:
            raise RuntimeError("Cannot add middleware after an application has started")
        self.user_middleware.insert(0, Middleware(middleware_class, *args, **kwargs))

    def add_exception_handler(
        self, exc_class_or_status_code: int | type[Exception], handler: ExceptionHandler
    ) -> None:
        """``Exception`` or 500: what answers an uncaught error; others: ExceptionMiddleware's."""
        self.exception_handlers[exc_class_or_status_code] = handler

    def build_middleware_stack(self) -> ASGIApp:
        unexpected: ExceptionHandler | None = None
        handled: dict[Any, ExceptionHandler] = {}
        for key, handler in self.exception_handlers.items():
            if key in (500, Exception):
                unexpected = handler
            else:
                handled[key] = handler
        app: ASGIApp = ExceptionMiddleware(self.router, handlers=handled)
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return _ServerErrors(app, unexpected)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Request.app, and the router's lifespan (it passes the app to the lifespan function).
        scope["app"] = self
        if self.middleware_stack is None:
            self.middleware_stack = self.build_middleware_stack()
        await self.middleware_stack(scope, receive, send)


class _ServerErrors:
    """An uncaught exception: ``handler``'s answer if none has started (Starlette's plain-text
    500 without one), then the exception again, for uvicorn to log (and test clients to raise),
    as Starlette's ``ServerErrorMiddleware`` does without its debug page."""

    def __init__(self, app: ASGIApp, handler: ExceptionHandler | None) -> None:
        self.app = app
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            # The handler runs even when the answer has started: ours logs the error.
            response = await self._response(Request(scope), exc)
            if not started:
                await response(scope, receive, send)
            raise

    async def _response(self, request: Request, exc: Exception) -> Response:
        if self.handler is None:
            return PlainTextResponse("Internal Server Error", status_code=500)
        # Our handlers are coroutines; a plain function's answer is taken as it is.
        answer: Any = self.handler(request, exc)  # type: ignore[arg-type]
        if inspect.isawaitable(answer):
            answer = await answer
        response: Response = answer
        return response


__all__ = ["Application"]
