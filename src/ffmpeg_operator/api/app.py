"""The API application: datarhei's v3 process API over a backend (spec §1, §3, §10, §11).

The same app serves the embedded engine and the Kubernetes backend; only the
:class:`~ffmpeg_operator.api.backend.ProcessBackend` differs.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ffmpeg_operator import __version__
from ffmpeg_operator.api.auth import AuthSettings, auths, install_auth, is_authorized, minimal_about
from ffmpeg_operator.api.backend import ProcessBackend
from ffmpeg_operator.api.config import ConfigService
from ffmpeg_operator.api.cors import CorsMiddleware
from ffmpeg_operator.api.errors import ApiError, error_response, install_error_handlers
from ffmpeg_operator.api.fastread import FastGate, FastReads, LookupNow
from ffmpeg_operator.api.fastwrite import FastWrites
from ffmpeg_operator.api.files import FileStore
from ffmpeg_operator.api.logbuffer import LogBuffer, attach
from ffmpeg_operator.api.memfs import memfs_router
from ffmpeg_operator.api.memfs_progress import memfs_overlay
from ffmpeg_operator.api.metrics import render_metrics
from ffmpeg_operator.api.openapi import install_docs
from ffmpeg_operator.api.paths import RawPathMiddleware
from ffmpeg_operator.api.resources import ResourceMetrics
from ffmpeg_operator.api.routes.config import config_router
from ffmpeg_operator.api.routes.fs import fs_router, root_router
from ffmpeg_operator.api.routes.playout import playout_router
from ffmpeg_operator.api.routes.process import process_router
from ffmpeg_operator.api.routes.system import system_router
from ffmpeg_operator.api.routes.ui import ui_router
from ffmpeg_operator.api.routing import Routes, include
from ffmpeg_operator.api.sessions import SessionMiddleware, SessionRegistry
from ffmpeg_operator.api.wire import install_gzip, json_response
from ffmpeg_operator.application import Application
from ffmpeg_operator.core.memfs_traffic import MemfsTraffic
from ffmpeg_operator.runtime.memfs import MemFS

#: The datarhei Core version whose API this server speaks.
CORE_API_VERSION = "16.16.0"


@dataclass(frozen=True)
class ServerInfo:
    """What ``GET /api`` tells about this instance."""

    name: str = "ffmpeg-operator"
    instance_id: str = ""
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class ApiApp(Application):
    """The application with the single-process read and the process mutations answered ahead of it
    (``api/fastread.py``, ``api/fastwrite.py``)."""

    fast_reads: FastReads | None = None
    fast_writes: FastWrites | None = None

    def __init__(
        self, lifespan: Callable[[Application], AbstractAsyncContextManager[None]] | None
    ) -> None:
        super().__init__(lifespan=lifespan)
        # Echo never redirects: "/api/v3/metadata/" is a plain 404, not a 307 to the list.
        self.router.redirect_slashes = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.fast_reads is not None and await self.fast_reads.handle(scope, send):
            return
        if self.fast_writes is not None and await self.fast_writes.handle(scope, receive, send):
            return
        await super().__call__(scope, receive, send)


class _NotReadyMiddleware:
    """Answers every ``/api/v3`` call with 503 and the reason while ``ready()`` names one."""

    def __init__(self, app: ASGIApp, ready: Callable[[], str | None]) -> None:
        self.app = app
        self.ready = ready

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/v3/"):
            waiting = self.ready()
            if waiting is not None:
                error = ApiError(503, "Service Unavailable", waiting)
                await error_response(Request(scope), error)(scope, receive, send)
                return
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class MemfsService:
    store: MemFS
    username: str
    password: str
    #: What ``{memfs}`` resolves to for this server's processes (their writes are counted).
    base_url: str = ""
    traffic: MemfsTraffic = field(default_factory=MemfsTraffic)


@dataclass(frozen=True)
class CoreServices:
    """What the Restreamer UI needs beyond processes: Core's configuration, file, session,
    metrics and log endpoints, CORS, and optionally a UI build at ``/ui``."""

    config: ConfigService
    #: ``/api/v3/fs`` stores by name: "disk" (also served at ``/``) and "mem".
    stores: dict[str, FileStore]
    sessions: SessionRegistry = field(default_factory=SessionRegistry)
    #: Core's ``storage.cors.origins``: origins allowed on the file mounts (``/api``: any).
    cors_origins: tuple[str, ...] = ("*",)
    ui_dir: Path | None = None


def create_app(
    backend: ProcessBackend,
    *,
    auth: AuthSettings | None = None,
    memfs: MemfsService | None = None,
    info: ServerInfo | None = None,
    restarts: Callable[[], dict[str, int]] | None = None,
    lifespan: Callable[[Application], AbstractAsyncContextManager[None]] | None = None,
    services: CoreServices | None = None,
    ready: Callable[[], str | None] | None = None,
    unhealthy: Callable[[], str | None] | None = None,
    lookup_now: LookupNow | None = None,
) -> ApiApp:
    """``ready()`` says why the backend cannot serve yet (None: it can): ``/ready`` answers 503
    then (a readiness probe), and so does every ``/api/v3`` call, with the reason.

    ``unhealthy()`` says why the backend serves only in part now (None: fully): ``/ready``
    answers 503 with it too, but the API goes on (its reads still answer; a call that needs
    what is missing answers 503 on its own).

    ``lookup_now`` is the backend's lookup that never waits (the local engine's): with it,
    single reads are answered within the loop turn that reads them (``api/oneshot.py``)."""
    auth = auth or AuthSettings()
    info = info or ServerInfo()
    started = time.time()
    app = ApiApp(lifespan)
    install_docs(app, "ffmpeg-operator: datarhei Core v3 process API", __version__)
    install_error_handlers(app)
    install_gzip(app)
    authenticator = install_auth(app, auth)
    if services is not None:
        services.config.bind(authenticator.replace)
        app.add_middleware(SessionMiddleware, registry=services.sessions)
    app.add_middleware(RawPathMiddleware)
    if services is not None:
        # Outermost: preflights are answered, and every answer (401s too) carries the headers.
        prefixes = {"/api": ("*",), "/": services.cors_origins}
        app.add_middleware(CorsMiddleware, prefixes=prefixes)

    def created_at() -> datetime:
        return services.config.created_at if services is not None else info.created_at

    def name() -> str:
        # Core's about names the instance by the configured name (PUT /api/v3/config).
        configured = services.config.facts.settings.name if services is not None else ""
        return configured or info.name

    routes = Routes()

    @routes.get("/ping")
    async def ping() -> Response:
        return PlainTextResponse("pong")

    @routes.get("/ready")
    async def readiness() -> Response:
        waiting = ready() if ready is not None else None
        if waiting is None and unhealthy is not None:
            waiting = unhealthy()
        if waiting is not None:
            return PlainTextResponse(waiting, status_code=503)
        return PlainTextResponse("ready")

    if ready is not None:
        app.add_middleware(_NotReadyMiddleware, ready=ready)

    @routes.get("/api")
    async def about(request: Request) -> Response:
        current = authenticator.settings
        if not is_authorized(request):
            return json_response(minimal_about(current))
        return json_response(
            {
                "app": "datarhei-core",
                "auths": auths(current),
                "name": name(),
                "id": info.instance_id,
                "created_at": created_at().strftime("%Y-%m-%dT%H:%M:%SZ"),
                "uptime_seconds": int(time.time() - started),
                "version": {
                    "number": CORE_API_VERSION,
                    "repository_commit": "",
                    "repository_branch": "",
                    "build_date": "",
                    "arch": "",
                    "compiler": f"ffmpeg-operator {__version__}",
                },
            }
        )

    @routes.get("/api/v3/skills")
    async def skills() -> Response:
        return json_response(await backend.skills())

    @routes.get("/api/v3/skills/reload")
    async def skills_reload() -> Response:
        return json_response(await backend.skills(reload=True))

    @routes.get("/metrics")
    async def metrics() -> Response:
        ids = [pid for pid, _ in await backend.list_references()]
        processes = await backend.get_processes(ids, frozenset({"state"}))
        body = render_metrics(processes, restarts() if restarts else {})
        # Imported at the first scrape, as render_metrics does (api/metrics.py).
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(body, media_type=CONTENT_TYPE_LATEST)

    include(app, routes)
    overlay = None if memfs is None else memfs_overlay(memfs.traffic, memfs.base_url)
    include(app, process_router(backend, overlay))
    gate = FastGate(authenticator, cors=services is not None, ready=ready)
    app.fast_reads = FastReads(backend, gate, overlay=overlay, lookup_now=lookup_now)
    app.fast_writes = FastWrites(backend, gate)
    include(app, playout_router(backend))
    if memfs is not None:
        on_write = memfs.traffic.record
        include(app, memfs_router(memfs.store, memfs.username, memfs.password, on_write=on_write))
    if services is not None:
        _include_services(app, backend, services, started)
    return app


def _include_services(
    app: Application, backend: ProcessBackend, services: CoreServices, started: float
) -> None:
    log = LogBuffer()
    attach(log)
    resources = ResourceMetrics(
        {"diskfs" if n == "disk" else "memfs": s for n, s in services.stores.items()},
        services.sessions,
        started,
    )
    include(app, config_router(services.config))
    include(app, fs_router(services.stores))
    include(app, system_router(backend, services.sessions, resources, log))
    if services.ui_dir is not None:
        include(app, ui_router(services.ui_dir))
    disk = services.stores.get("disk")
    if disk is not None:
        # Last: every GET no other route takes is a file of the disk store, as Core's "/".
        include(app, root_router(disk))


async def _no_lifespan(app: Application) -> AsyncIterator[None]:  # pragma: no cover - typing aid
    yield


__all__: list[Any] = ["ApiApp", "CoreServices", "MemfsService", "ServerInfo", "create_app"]
