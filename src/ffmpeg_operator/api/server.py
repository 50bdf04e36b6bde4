"""The v3 API assembled from command-line options: over the local engine (embedded mode) or
over FFmpegProcess objects (``--backend kubernetes``, imported only then: embedded mode never
loads the Kubernetes client).
"""

from __future__ import annotations

import os
import secrets
import string
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from ffmpeg_operator.api.app import MemfsService, ServerInfo, create_app
from ffmpeg_operator.api.auth import AuthSettings
from ffmpeg_operator.core.placeholders import PlaceholderSettings, memfs_url
from ffmpeg_operator.core.validation import AddressPolicy
from ffmpeg_operator.runtime.engine import EngineSettings, LocalEngine
from ffmpeg_operator.runtime.memfs import MemFS
from ffmpeg_operator.runtime.process import RunSettings
from ffmpeg_operator.supervision.binary import find_ffmpeg

MEMFS_USERNAME = "admin"
_WILDCARD_HOSTS = {"", "0.0.0.0", "::", "[::]"}


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("./data")
    ffmpeg: str | None = None
    auth_user: str = ""
    auth_password: str = ""
    memfs_password: str = ""
    stop_grace_s: float = 5.0
    login_failure_delay_s: float = 5.0
    #: --backend kubernetes: namespace (None: in-cluster or kubeconfig context), kubeconfig
    #: file (None: in-cluster when inside a Pod, else $KUBECONFIG / ~/.kube/config), context.
    namespace: str | None = None
    kubeconfig: str | None = None
    kube_context: str | None = None


def _random_text(length: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _persistent_secret(path: Path) -> str:
    """Core generates its JWT secret once and keeps it, so tokens survive a restart."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    secret = _random_text(32)
    path.write_text(secret, encoding="utf-8")
    path.chmod(0o600)
    return secret


def _secret_if_possible(path: Path) -> str:
    """:func:`_persistent_secret`, or a fresh one where nothing can be written (a Pod with a
    read-only root filesystem: tokens then last as long as the process)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return _persistent_secret(path)
    except OSError:
        return _random_text(32)


def _auth_settings(options: ServeOptions, secret: Callable[[], str]) -> AuthSettings:
    return AuthSettings(
        enable=bool(options.auth_user),
        username=options.auth_user,
        password=options.auth_password,
        jwt_secret=secret() if options.auth_user else "",
        login_failure_delay=options.login_failure_delay_s,
    )


def _lifespan(
    open_: Callable[[], Awaitable[None]], close: Callable[[], Awaitable[None]]
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Open the backend when the server starts and close it when it stops."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await open_()
        try:
            yield
        finally:
            await close()

    return lifespan


def build_local_app(options: ServeOptions) -> tuple[FastAPI, LocalEngine]:
    data_dir = options.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    disk_dir = data_dir / "disk"
    binary = find_ffmpeg(options.ffmpeg)
    memfs_password = options.memfs_password or _random_text(18)
    # {memfs} must be reachable by ffmpeg children: a wildcard bind means localhost (§5.3).
    host = "" if options.host in _WILDCARD_HOSTS else options.host
    address = f"{host}:{options.port}"
    placeholders = PlaceholderSettings(
        diskfs=str(disk_dir),
        memfs=memfs_url(address, username=MEMFS_USERNAME, password=memfs_password),
    )
    settings = EngineSettings(
        db_path=data_dir / "db.json",
        disk_dir=disk_dir,
        placeholders=placeholders,
        policy=AddressPolicy(disk_dir=str(disk_dir), cwd=os.getcwd()),
        run=RunSettings(binary=binary, stop_grace_s=options.stop_grace_s),
    )
    store = MemFS()
    engine = LocalEngine(settings, store)
    app = create_app(
        engine,
        auth=_auth_settings(options, lambda: _persistent_secret(data_dir / "jwt.secret")),
        memfs=MemfsService(store, MEMFS_USERNAME, memfs_password),
        info=ServerInfo(instance_id=_persistent_secret(data_dir / "instance.id")),
        restarts=lambda: {p.id: p.restarts for p in engine.processes()},
        lifespan=_lifespan(engine.open, engine.close),
    )
    return app, engine


def build_kubernetes_app(options: ServeOptions) -> FastAPI:
    """The v3 API over the FFmpegProcess objects of one namespace (``--backend kubernetes``).

    The memfs store lives in this process; run Pods reach it through
    ``FFMPEG_OPERATOR_MEMFS_URL`` (the API Service), by default this server's own address.
    """
    from ffmpeg_operator.api.backends.kubernetes import KubernetesBackend, KubernetesOptions
    from ffmpeg_operator.kube.settings import settings_from_env

    memfs_password = options.memfs_password or _random_text(18)
    host = "" if options.host in _WILDCARD_HOSTS else options.host
    environ = {
        "FFMPEG_OPERATOR_MEMFS_URL": memfs_url(f"{host}:{options.port}"),
        **os.environ,
        "FFMPEG_OPERATOR_MEMFS_PASSWORD": memfs_password,
    }
    store = MemFS()
    backend = KubernetesBackend(
        KubernetesOptions(
            namespace=options.namespace,
            kubeconfig=options.kubeconfig,
            context=options.kube_context,
            ffmpeg=find_ffmpeg(options.ffmpeg),
            run=settings_from_env(environ),
            secrets=(memfs_password,),
        )
    )
    data_dir = options.data_dir.resolve()
    return create_app(
        backend,
        auth=_auth_settings(options, lambda: _secret_if_possible(data_dir / "jwt.secret")),
        memfs=MemfsService(store, MEMFS_USERNAME, memfs_password),
        info=ServerInfo(instance_id=_secret_if_possible(data_dir / "instance.id")),
        restarts=backend.restarts,
        lifespan=_lifespan(backend.open, backend.close),
        ready=backend.waiting_for,
    )
