"""The ``ffmpeg-operator`` command line.

Sub-commands import their heavy dependencies lazily, so embedded mode never loads kopf or the
Kubernetes client.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ffmpeg_operator import __version__
from ffmpeg_operator.core.coreconfig import DEFAULT_SESSION_IGNORE

app = typer.Typer(
    name="ffmpeg-operator",
    help="FFmpeg processes behind the datarhei Core v3 process API, locally or on Kubernetes.",
    no_args_is_help=True,
    add_completion=False,
)


class Backend(StrEnum):
    """What ``serve`` runs processes with."""

    local = "local"
    kubernetes = "kubernetes"


def _split(values: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in values.split(",") if part.strip())


def _log_to_stderr() -> None:
    """The server's own records (INFO and up) on stderr, the container's log.

    Without this, Python prints a warning only while no handler is on the logger's way up, and
    the buffer of ``GET /api/v3/log`` is one: every warning and error would reach that buffer
    alone.
    """
    import logging

    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("ffmpeg_operator")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


@app.callback()
def _root() -> None:
    """FFmpeg processes behind the datarhei Core v3 process API, locally or on Kubernetes."""


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


@app.command()
def serve(  # noqa: PLR0917 - one parameter per CLI flag
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    data_dir: Annotated[
        Path, typer.Option(help="Where configs (db.json) and the {diskfs} directory live.")
    ] = Path("./data"),
    ffmpeg: Annotated[
        str | None,
        typer.Option(
            envvar="FFMPEG_OPERATOR_FFMPEG", help="ffmpeg binary (default: PATH, then bundled)."
        ),
    ] = None,
    auth_user: Annotated[
        str,
        typer.Option(envvar="FFMPEG_OPERATOR_AUTH_USER", help="Turn on JWT auth with this user."),
    ] = "",
    auth_password: Annotated[
        str, typer.Option(envvar="FFMPEG_OPERATOR_AUTH_PASSWORD", help="Password of --auth-user.")
    ] = "",
    memfs_password: Annotated[
        str,
        typer.Option(
            envvar="FFMPEG_OPERATOR_MEMFS_PASSWORD", help="memfs write password (default: random)."
        ),
    ] = "",
    backend: Annotated[
        Backend,
        typer.Option(
            help="local: ffmpeg children of this process; kubernetes: FFmpegProcess "
            "objects run by the operator."
        ),
    ] = Backend.local,
    namespace: Annotated[
        str | None,
        typer.Option(
            "--namespace",
            "-n",
            envvar="FFMPEG_OPERATOR_NAMESPACE",
            help="kubernetes: namespace of the FFmpegProcess objects (default: the Pod's, "
            "else the kubeconfig context's).",
        ),
    ] = None,
    kubeconfig: Annotated[
        str | None,
        typer.Option(
            help="kubernetes: kubeconfig file (default: in-cluster inside a Pod, "
            "else $KUBECONFIG or ~/.kube/config)."
        ),
    ] = None,
    context: Annotated[
        str | None, typer.Option(help="kubernetes: kubeconfig context (default: current).")
    ] = None,
    access_log: Annotated[
        bool, typer.Option(help="Log every HTTP request (off: it costs each request time).")
    ] = False,
    ui_dir: Annotated[
        Path | None,
        typer.Option(
            envvar="FFMPEG_OPERATOR_UI_DIR",
            help="Serve this Restreamer UI build at /ui (same origin: no CORS, no proxy).",
        ),
    ] = None,
    disk_dir: Annotated[
        Path | None,
        typer.Option(
            envvar="FFMPEG_OPERATOR_API_DISK_DIR",
            help="kubernetes: where the {diskfs} volume is mounted here, served at / and "
            "/api/v3/fs/disk (default: <data-dir>/disk).",
        ),
    ] = None,
    settings_secret: Annotated[
        str | None,
        typer.Option(
            envvar="FFMPEG_OPERATOR_SETTINGS_SECRET",
            help="kubernetes: keep the settings of PUT /api/v3/config in this Secret "
            "(default: <data-dir>/config.json).",
        ),
    ] = None,
    cors_origins: Annotated[
        str,
        typer.Option(
            envvar="FFMPEG_OPERATOR_CORS_ORIGINS",
            help="Comma-separated origins allowed on /memfs and / (the API allows any).",
        ),
    ] = "*",
    host_names: Annotated[
        str,
        typer.Option(
            envvar="FFMPEG_OPERATOR_HOST_NAMES",
            help="Comma-separated public host names (Core's host.name; the UI's public URLs).",
        ),
    ] = "",
    session_ip_ignorelist: Annotated[
        str,
        typer.Option(
            envvar="FFMPEG_OPERATOR_SESSION_IP_IGNORELIST",
            help="Comma-separated networks whose clients are not counted as viewers.",
        ),
    ] = ",".join(DEFAULT_SESSION_IGNORE),
) -> None:
    """Serve the datarhei v3 process API over local ffmpeg processes or FFmpegProcess objects."""
    import ipaddress

    from ffmpeg_operator.api.server import ServeOptions, build_kubernetes_app, build_local_app
    from ffmpeg_operator.api.serving import serve as serve_app

    if auth_user and not auth_password:
        raise typer.BadParameter("--auth-password is required with --auth-user")
    options = ServeOptions(
        host=host,
        port=port,
        data_dir=data_dir,
        ffmpeg=ffmpeg,
        auth_user=auth_user,
        auth_password=auth_password,
        memfs_password=memfs_password,
        namespace=namespace,
        kubeconfig=kubeconfig,
        kube_context=context,
        ui_dir=ui_dir,
        disk_dir=disk_dir,
        settings_secret=settings_secret or None,
        cors_origins=_split(cors_origins),
        session_ignore=_split(session_ip_ignorelist),
        host_names=_split(host_names),
    )
    for network in options.session_ignore:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise typer.BadParameter(
                f"{network!r} is not a network", param_hint="--session-ip-ignorelist"
            ) from None
    if ui_dir is not None and not ui_dir.is_dir():
        raise typer.BadParameter(f"{ui_dir} is not a directory", param_hint="--ui-dir")
    _log_to_stderr()
    if backend is Backend.kubernetes:
        app_ = build_kubernetes_app(options)
    else:
        app_, _engine = build_local_app(options)
    serve_app(app_, host=host, port=port, access_log=access_log)


@app.command()
def agent(  # noqa: PLR0917 - one parameter per CLI flag
    progress_port: Annotated[
        int, typer.Option(help="Port of ffmpeg's -progress tcp://<progress-host>:<port>.")
    ],
    progress_host: Annotated[
        str, typer.Option(help="Address the progress listener binds (the Pod's loopback).")
    ] = "127.0.0.1",
    process_id: Annotated[str, typer.Option(help="The process ID (metrics label).")] = "",
    ffmpeg: Annotated[
        str, typer.Option(help="ffmpeg binary to look for in the shared PID namespace.")
    ] = "ffmpeg",
    http_host: Annotated[str, typer.Option(help="Address of /state, /metrics.")] = "0.0.0.0",
    http_port: Annotated[int, typer.Option(help="Port of /state, /metrics, /healthz.")] = 8081,
    stale_timeout_seconds: Annotated[
        float, typer.Option(help="Stop ffmpeg after this long without progress (0: never).")
    ] = 0.0,
    limit_cpu_usage: Annotated[
        float, typer.Option(help="CPU limit in % of --cpu-capacity (0: none).")
    ] = 0.0,
    limit_memory_mbytes: Annotated[
        int, typer.Option(help="Memory (RSS) limit in MiB (0: none).")
    ] = 0,
    limit_waitfor_seconds: Annotated[
        float, typer.Option(help="How long a limit may be exceeded before the stop.")
    ] = 0.0,
    cpu_capacity: Annotated[
        float, typer.Option(help="CPUs that count as 100 % (0: this container's quota or CPUs).")
    ] = 0.0,
    command_json: Annotated[
        str, typer.Option(help="ffmpeg's argv without injected flags, as a JSON array.")
    ] = "",
    termination_message_path: Annotated[
        Path, typer.Option(help="Where the run's end is written for the operator.")
    ] = Path("/dev/termination-log"),
    report_fifo: Annotated[
        Path | None, typer.Option(help="FIFO to make for ffmpeg's report (FFREPORT file).")
    ] = None,
    stats_fifo: Annotated[
        Path | None, typer.Option(help="FIFO to make for ffmpeg's -vstats_file.")
    ] = None,
) -> None:
    """Run the in-Pod sidecar: ffmpeg's progress, stale and limit watchdogs, /state, /metrics."""
    import asyncio
    import json
    import logging

    from ffmpeg_operator.agent.options import AgentOptions
    from ffmpeg_operator.agent.server import run_agent

    try:
        command = json.loads(command_json) if command_json else None
    except ValueError:
        command = False  # reported below, with the wrong shapes
    if command is not None and not (
        isinstance(command, list) and all(isinstance(arg, str) for arg in command)
    ):
        raise typer.BadParameter("--command-json must be a JSON array of strings")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    options = AgentOptions(
        progress_port=progress_port,
        progress_host=progress_host,
        process_id=process_id,
        ffmpeg=ffmpeg,
        http_host=http_host,
        http_port=http_port,
        stale_timeout_s=stale_timeout_seconds,
        cpu_limit=limit_cpu_usage,
        memory_limit_bytes=limit_memory_mbytes * 1024 * 1024,
        waitfor_s=limit_waitfor_seconds,
        cpu_capacity=cpu_capacity,
        command=command,
        termination_message_path=termination_message_path,
        report_fifo=report_fifo,
        stats_fifo=stats_fifo,
    )
    asyncio.run(run_agent(options))


@app.command("operator")
def operator_command(  # noqa: PLR0917 - one parameter per CLI flag
    namespace: Annotated[
        list[str] | None,
        typer.Option(
            "--namespace",
            "-n",
            help="Namespace to watch (repeatable; default: $FFMPEG_OPERATOR_NAMESPACE).",
        ),
    ] = None,
    all_namespaces: Annotated[
        bool, typer.Option("--all-namespaces", "-A", help="Watch every namespace.")
    ] = False,
    peering: Annotated[
        str | None,
        typer.Option(help="KopfPeering to join (one active replica); none: standalone."),
    ] = None,
    priority: Annotated[
        int | None,
        typer.Option(help="Peering priority (default: derived from $FFMPEG_OPERATOR_POD_NAME)."),
    ] = None,
    liveness: Annotated[
        str | None,
        typer.Option(help="kopf's liveness endpoint, e.g. http://0.0.0.0:8080/healthz."),
    ] = None,
    verbose: Annotated[bool, typer.Option(help="Debug logging.")] = False,
) -> None:
    """Run the Kubernetes operator: FFmpegProcess objects in, run Pods and status out."""
    from ffmpeg_operator.operator.main import OperatorOptions, run_operator

    options = OperatorOptions(
        namespaces=tuple(namespace or ()),
        all_namespaces=all_namespaces,
        peering=peering,
        priority=priority,
        liveness=liveness,
        verbose=verbose,
    )
    try:
        run_operator(options)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


@app.command("ensure-secret")
def ensure_secret_command(
    name: Annotated[str, typer.Option(help="The Secret to create or complete.")],
    namespace: Annotated[
        str, typer.Option("--namespace", "-n", envvar="FFMPEG_OPERATOR_NAMESPACE")
    ],
    key: Annotated[
        list[str],
        typer.Option(
            help="KEY (a random value when missing) or KEY=ENVVAR (the value of that variable "
            "when set and not empty, else random). Repeatable."
        ),
    ],
    label: Annotated[
        list[str] | None, typer.Option(help="KEY=VALUE label of a created Secret.")
    ] = None,
) -> None:
    """Create the Secret once, with random values for missing keys (the chart's hook Job)."""
    import asyncio
    import os

    from ffmpeg_operator.operator.context import login
    from ffmpeg_operator.operator.kubeclient import KubeClient
    from ffmpeg_operator.operator.maintenance import ensure_secret

    values: dict[str, str | None] = {}
    for item in key:
        secret_key, _, variable = item.partition("=")
        values[secret_key] = (os.environ.get(variable) or None) if variable else None
    labels = dict(item.partition("=")[::2] for item in label or ())

    async def run() -> list[str]:
        client = KubeClient(login)
        try:
            return await ensure_secret(client, namespace, name, values, labels)
        finally:
            await client.close()

    added = asyncio.run(run())
    typer.echo(
        f"secret {namespace}/{name}: " + (f"added {', '.join(added)}" if added else "complete")
    )


@app.command()
def drain(
    namespace: Annotated[
        list[str] | None,
        typer.Option("--namespace", "-n", help="Namespace to drain (repeatable)."),
    ] = None,
    all_namespaces: Annotated[
        bool, typer.Option("--all-namespaces", "-A", help="Every namespace.")
    ] = False,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the operator before removing finalizers.")
    ] = 60.0,
) -> None:
    """Delete every FFmpegProcess and wait until the operator let it go (the chart's
    pre-delete hook): an uninstall then strands no finalizer."""
    import asyncio

    from ffmpeg_operator.operator.context import login
    from ffmpeg_operator.operator.kubeclient import KubeClient
    from ffmpeg_operator.operator.maintenance import drain as drain_processes

    if all_namespaces == bool(namespace):
        raise typer.BadParameter("choose --namespace or --all-namespaces")
    scope: list[str | None] = [None] if all_namespaces else list(namespace or ())

    async def run() -> int:
        client = KubeClient(login)
        try:
            return await drain_processes(client, scope, timeout)
        finally:
            await client.close()

    forced = asyncio.run(run())
    typer.echo(f"drained; finalizers removed by force: {forced}")


@app.command()
def migrate(
    db_json: Annotated[Path, typer.Argument(help="A datarhei Core db.json (version 4).")],
    namespace: Annotated[
        str | None,
        typer.Option("--namespace", "-n", help="Namespace of the objects (default: none set)."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Convert a datarhei Core db.json into FFmpegProcess resources (multi-document YAML)."""
    from ffmpeg_operator.kube.migrate import MigrationError, migrate_db
    from ffmpeg_operator.kube.yamltext import dump_documents

    def fail(message: str) -> typer.Exit:
        typer.echo(f"error: {message}", err=True)
        return typer.Exit(1)

    try:
        raw = db_json.read_bytes()
    except FileNotFoundError:
        raise fail(f"{db_json}: no such file") from None
    except OSError as error:
        raise fail(f"{db_json}: {error.strerror or error}") from None
    try:
        result = migrate_db(raw, namespace)
    except MigrationError as error:
        raise fail(f"{db_json}: {error}") from None
    text = dump_documents(result.objects)
    if output is None:
        typer.echo(text, nl=False)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as error:
            raise fail(f"{output}: {error.strerror or error}") from None
    if result.system_metadata_keys:
        keys = ", ".join(result.system_metadata_keys)
        typer.echo(f"note: system metadata not migrated (keys: {keys})", err=True)
    typer.echo(f"migrated {len(result.objects)} processes", err=True)


@app.command("crd")
def crd_command() -> None:
    """Print the FFmpegProcess CustomResourceDefinition as YAML."""
    from ffmpeg_operator.kube.crd import crd_yaml

    typer.echo(crd_yaml(), nl=False)


@app.command()
def render(  # noqa: PLR0917 - one parameter per CLI flag
    file: Annotated[
        Path,
        typer.Option(
            "--file", "-f", help="FFmpegProcess YAML, multi-document allowed ('-': stdin)."
        ),
    ],
    run: Annotated[int, typer.Option(min=1, help="Run number of the Pods.")] = 1,
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="Namespace of objects naming none.")
    ] = None,
    node_cpus: Annotated[
        float, typer.Option(min=0.001, help="CPUs of a node (limits.cpuUsage is % of a node).")
    ] = 1.0,
    diskfs_pvc: Annotated[
        str | None, typer.Option(help="PVC holding {diskfs} (default: an emptyDir per run).")
    ] = None,
    image: Annotated[str | None, typer.Option(help="Image of ffmpeg and the agent.")] = None,
) -> None:
    """Print the run Pod of every FFmpegProcess in a file as YAML, without a cluster."""
    import dataclasses
    import sys

    from ffmpeg_operator.kube.pod import OperatorSettings
    from ffmpeg_operator.kube.render import (
        RenderError,
        dump_yaml,
        load_custom_resources,
        render_pods,
    )

    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    except OSError as error:
        typer.echo(f"error: {file}: {error.strerror or error}", err=True)
        raise typer.Exit(1) from None
    settings = OperatorSettings(node_cpus=node_cpus, diskfs_pvc=diskfs_pvc)
    if image:
        settings = dataclasses.replace(settings, ffmpeg_image=image, agent_image=image)
    try:
        pods = render_pods(load_custom_resources(text), run, settings, namespace)
    except RenderError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(dump_yaml(pods), nl=False)


def main() -> None:
    app()
