"""Route tables of the API on Starlette's router, collected with decorators.

A route module builds a :class:`Routes` table (``@routes.get("/api/v3/process/{pid}")``) whose
endpoints take the path parameters as keyword arguments, and the request when they name one.
:class:`ApiRoute` serves exactly the methods it was given: Starlette adds HEAD to every GET
route, Echo (Core's router) does not, so ``HEAD /api/v3/process`` stays a 405.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, compile_path

from ffmpeg_operator.application import Application

Endpoint = Callable[..., Awaitable[Response]]


def _handler(endpoint: Endpoint, path_names: Iterable[str]) -> Endpoint:
    parameters = inspect.signature(endpoint).parameters
    names = tuple(name for name in path_names if name in parameters)
    unknown = [n for n in parameters if n != "request" and n not in names]
    if unknown:
        # Query parameters and bodies are read from the request, never bound by the router.
        raise TypeError(f"{endpoint.__name__}: {unknown} are not path parameters")
    wants_request = "request" in parameters

    async def handle(request: Request) -> Response:
        arguments: dict[str, Any] = {name: request.path_params[name] for name in names}
        if wants_request:
            arguments["request"] = request
        return await endpoint(**arguments)

    return handle


class ApiRoute(Route):
    """A route with exactly ``methods``, calling ``endpoint`` with the path parameters; its
    name is the endpoint's (the OpenAPI document's operation IDs and summaries)."""

    def __init__(
        self, path: str, endpoint: Endpoint, *, methods: Iterable[str], include_in_schema: bool
    ) -> None:
        allowed = {method.upper() for method in methods}
        _, _, convertors = compile_path(path)
        super().__init__(
            path,
            _handler(endpoint, convertors),
            methods=allowed,
            name=endpoint.__name__,
            include_in_schema=include_in_schema,
        )
        self.methods: set[str] = allowed


class Routes:
    """The routes of one module, in the order they are declared (the order they match in)."""

    def __init__(self, route_class: type[ApiRoute] = ApiRoute) -> None:
        self.routes: list[Route] = []
        self.route_class = route_class

    def add(
        self,
        path: str,
        endpoint: Endpoint,
        methods: Iterable[str],
        *,
        include_in_schema: bool = True,
    ) -> None:
        route = self.route_class(
            path, endpoint, methods=methods, include_in_schema=include_in_schema
        )
        self.routes.append(route)

    def route(
        self, path: str, methods: Iterable[str], *, include_in_schema: bool = True
    ) -> Callable[[Endpoint], Endpoint]:
        def register(endpoint: Endpoint) -> Endpoint:
            self.add(path, endpoint, methods, include_in_schema=include_in_schema)
            return endpoint

        return register

    def get(self, path: str) -> Callable[[Endpoint], Endpoint]:
        return self.route(path, ["GET"])

    def post(self, path: str) -> Callable[[Endpoint], Endpoint]:
        return self.route(path, ["POST"])

    def put(self, path: str) -> Callable[[Endpoint], Endpoint]:
        return self.route(path, ["PUT"])

    def delete(self, path: str) -> Callable[[Endpoint], Endpoint]:
        return self.route(path, ["DELETE"])


def include(app: Application, routes: Routes) -> None:
    """Add ``routes`` to ``app``, after the ones it has (routes match in order)."""
    app.router.routes.extend(routes.routes)
