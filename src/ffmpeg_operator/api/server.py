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
from typing import Protocol

from ffmpeg_operator.api.app import ApiApp, CoreServices, MemfsService, ServerInfo, create_app
from ffmpeg_operator.api.auth import AuthSettings
from ffmpeg_operator.api.backend import ProcessBackend
from ffmpeg_operator.api.config import ConfigService, FileSettingsStore, SettingsStore
from ffmpeg_operator.api.fastread import LookupNow
from ffmpeg_operator.api.files import DiskStore, FileStore, MemStore
from ffmpeg_operator.api.sessions import SessionRegistry
from ffmpeg_operator.application import Application
from ffmpeg_operator.core.coreconfig import DEFAULT_SESSION_IGNORE, ConfigFacts, StoredSettings
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
    #: A Restreamer UI build to serve at /ui (None: no UI).
    ui_dir: Path | None = None
    #: kubernetes: where the {diskfs} volume is mounted in this Pod (None: <data-dir>/disk).
    disk_dir: Path | None = None
    #: kubernetes: the Secret that keeps the settings PUT /api/v3/config stores (None: a file
    #: in the data directory).
    settings_secret: str | None = None
    #: Core's storage.cors.origins: origins allowed on /memfs and / (the API allows any).
    cors_origins: tuple[str, ...] = ("*",)
    #: Core's host.name: public host names the UI builds its public URLs with (an override).
    host_names: tuple[str, ...] = ()
    #: Core's sessions.ip_ignorelist: clients not counted as viewers.
    session_ignore: tuple[str, ...] = DEFAULT_SESSION_IGNORE


def _random_text(length: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _address(options: ServeOptions) -> str:
    """This server's address for its ffmpeg children and run Pods: a wildcard bind means
    localhost (§5.3), so {memfs} stays reachable."""
    host = "" if options.host in _WILDCARD_HOSTS else options.host
    return f"{host}:{options.port}"


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
    # The secret always exists: auth may be switched on at run time (PUT /api/v3/config).
    return AuthSettings(
        enable=bool(options.auth_user),
        username=options.auth_user,
        password=options.auth_password,
        jwt_secret=secret(),
        login_failure_delay=options.login_failure_delay_s,
    )


def _lifespan(
    open_: Callable[[], Awaitable[None]],
    close: Callable[[], Awaitable[None]],
    config: ConfigService,
) -> Callable[[Application], AbstractAsyncContextManager[None]]:
    """Load the stored settings and open the backend when the server starts; close it at
    the end."""

    @asynccontextmanager
    async def lifespan(_: Application) -> AsyncIterator[None]:
        await config.load()
        await open_()
        try:
            yield
        finally:
            await close()

    return lifespan


@dataclass(frozen=True)
class _ServiceInputs:
    options: ServeOptions
    address: str
    disk_dir: Path
    db_dir: Path
    ffmpeg: str
    memfs: MemfsService
    auth: AuthSettings
    instance_id: str
    store: SettingsStore


def _services(inputs: _ServiceInputs) -> CoreServices:
    options = inputs.options
    environ = os.environ
    facts = ConfigFacts(
        instance_id=inputs.instance_id,
        address=inputs.address,
        disk_dir=str(inputs.disk_dir),
        db_dir=str(inputs.db_dir),
        ffmpeg_binary=inputs.ffmpeg,
        memfs_username=inputs.memfs.username,
        memfs_password=inputs.memfs.password,
        settings=StoredSettings(),
        rtmp_url=environ.get("FFMPEG_OPERATOR_RTMP_URL", ""),
        srt_url=environ.get("FFMPEG_OPERATOR_SRT_URL", ""),
        ui_path=str(options.ui_dir) if options.ui_dir else "",
        cors_origins=options.cors_origins,
        session_ignore=options.session_ignore,
        jwt_secret=inputs.auth.jwt_secret,
    )
    config = ConfigService(
        facts,
        inputs.store,
        inputs.auth,
        cli_auth=bool(options.auth_user),
        cli_host_names=options.host_names,
    )
    stores: dict[str, FileStore] = {
        "disk": DiskStore(inputs.disk_dir),
        "mem": MemStore(inputs.memfs.store),
    }
    return CoreServices(
        config=config,
        stores=stores,
        sessions=SessionRegistry(options.session_ignore),
        cors_origins=options.cors_origins,
        ui_dir=options.ui_dir,
    )


class _ServedBackend(ProcessBackend, Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...


def _api_app(
    backend: _ServedBackend,
    options: ServeOptions,
    *,
    secret: Callable[[Path], str],
    ffmpeg: str,
    memfs: MemfsService,
    disk_dir: Path,
    settings_store: SettingsStore,
    restarts: Callable[[], dict[str, int]],
    ready: Callable[[], str | None] | None = None,
    unhealthy: Callable[[], str | None] | None = None,
    lookup_now: LookupNow | None = None,
) -> ApiApp:
    """What both modes build alike around their backend: auth, instance id, the config and
    file services, and a lifespan that opens and closes the backend. ``secret(path)`` reads a
    kept secret, making it first when there is none."""
    data_dir = options.data_dir.resolve()
    auth = _auth_settings(options, lambda: secret(data_dir / "jwt.secret"))
    info = ServerInfo(instance_id=secret(data_dir / "instance.id"))
    services = _services(
        _ServiceInputs(
            options=options,
            address=_address(options),
            disk_dir=disk_dir,
            db_dir=data_dir,
            ffmpeg=ffmpeg,
            memfs=memfs,
            auth=auth,
            instance_id=info.instance_id,
            store=settings_store,
        )
    )
    return create_app(
        backend,
        auth=auth,
        memfs=memfs,
        info=info,
        restarts=restarts,
        lifespan=_lifespan(backend.open, backend.close, services.config),
        services=services,
        ready=ready,
        unhealthy=unhealthy,
        lookup_now=lookup_now,
    )


def build_local_app(options: ServeOptions) -> tuple[ApiApp, LocalEngine]:
    data_dir = options.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    disk_dir = data_dir / "disk"
    binary = find_ffmpeg(options.ffmpeg)
    memfs_password = options.memfs_password or _random_text(18)
    placeholders = PlaceholderSettings(
        diskfs=str(disk_dir),
        memfs=memfs_url(_address(options), username=MEMFS_USERNAME, password=memfs_password),
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
    app = _api_app(
        engine,
        options,
        secret=_persistent_secret,
        ffmpeg=binary,
        memfs=MemfsService(store, MEMFS_USERNAME, memfs_password, base_url=placeholders.memfs),
        disk_dir=disk_dir,
        settings_store=FileSettingsStore(data_dir / "config.json"),
        restarts=lambda: {p.id: p.restarts for p in engine.processes()},
        lookup_now=engine.processes_now,
    )
    return app, engine


def build_kubernetes_app(options: ServeOptions) -> ApiApp:
    """The v3 API over the FFmpegProcess objects of one namespace (``--backend kubernetes``).

    The memfs store lives in this process; run Pods reach it through
    ``FFMPEG_OPERATOR_MEMFS_URL`` (the API Service), by default this server's own address.
    """
    from ffmpeg_operator.api.backends.kubeerrors import install_kube_error_handler
    from ffmpeg_operator.api.backends.kubernetes import KubernetesBackend, KubernetesOptions
    from ffmpeg_operator.kube.settings import settings_from_env

    memfs_password = options.memfs_password or _random_text(18)
    environ = {
        "FFMPEG_OPERATOR_MEMFS_URL": memfs_url(_address(options)),
        **os.environ,
        "FFMPEG_OPERATOR_MEMFS_PASSWORD": memfs_password,
    }
    store = MemFS()
    binary = find_ffmpeg(options.ffmpeg)
    run = settings_from_env(environ)
    backend = KubernetesBackend(
        KubernetesOptions(
            namespace=options.namespace,
            kubeconfig=options.kubeconfig,
            context=options.kube_context,
            ffmpeg=binary,
            run=run,
            secrets=(memfs_password,),
            freeze_heap=True,  # this process is the server: its heap is ours (kubeoptions)
        )
    )
    data_dir = options.data_dir.resolve()
    settings_store: SettingsStore
    if options.settings_secret:
        from ffmpeg_operator.api.backends.kubesettings import SecretSettingsStore

        settings_store = SecretSettingsStore(
            options.settings_secret,
            namespace=options.namespace,
            kubeconfig=options.kubeconfig,
            context=options.kube_context,
        )
    else:
        settings_store = FileSettingsStore(data_dir / "config.json")
    app = _api_app(
        backend,
        options,
        secret=_secret_if_possible,
        ffmpeg=binary,
        memfs=MemfsService(
            store, MEMFS_USERNAME, memfs_password, base_url=environ["FFMPEG_OPERATOR_MEMFS_URL"]
        ),
        disk_dir=options.disk_dir.resolve() if options.disk_dir else data_dir / "disk",
        settings_store=settings_store,
        restarts=backend.restarts,
        ready=backend.waiting_for,
        unhealthy=backend.apiserver_trouble,
    )
    # An apiserver that is away answers 503 (not 500) on every route that needed it.
    install_kube_error_handler(app)
    return app
