"""The ``ffmpeg-operator`` command line.

Plain click, not typer: uvicorn loads click in every process anyway, while typer (and what it
imports: rich, shellingham, difflib, gettext, …) cost each process about 2 MiB of RSS, and every
run Pod's agent sidecar starts through here.

Sub-commands import their heavy dependencies lazily, so embedded mode never loads kopf or the
Kubernetes client.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import click

from ffmpeg_operator import __version__
from ffmpeg_operator.core.coreconfig import DEFAULT_SESSION_IGNORE

PATH = click.Path(path_type=Path)
# --help shows every default, as typer did; options defaulting to "" say show_default=False
# (typer showed no empty default either).
CONTEXT_SETTINGS = {"show_default": True}


class _Group(click.Group):
    """Lists the commands in --help in the order they are defined here, not sorted."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


class Backend(StrEnum):
    """What ``serve`` runs processes with."""

    local = "local"
    kubernetes = "kubernetes"


def _split(values: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in values.split(",") if part.strip())


def _fail(message: str) -> click.exceptions.Exit:
    """``error: <message>`` on stderr; raise the result to end with exit code 1."""
    click.echo(f"error: {message}", err=True)
    return click.exceptions.Exit(1)


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


@click.group(
    name="ffmpeg-operator", cls=_Group, no_args_is_help=True, context_settings=CONTEXT_SETTINGS
)
def app() -> None:
    """FFmpeg processes behind the datarhei Core v3 process API, locally or on Kubernetes."""


@app.command()
def version() -> None:
    """Print the version."""
    click.echo(__version__)


@app.command()
@click.option("--host", default="127.0.0.1", help="Address to listen on.")
@click.option("--port", default=8080, help="Port to listen on.")
@click.option(
    "--data-dir",
    type=PATH,
    default=Path("./data"),
    help="Where configs (db.json) and the {diskfs} directory live.",
)
@click.option(
    "--ffmpeg",
    envvar="FFMPEG_OPERATOR_FFMPEG",
    show_envvar=True,
    help="ffmpeg binary (default: PATH, then bundled).",
)
@click.option(
    "--auth-user",
    default="",
    show_default=False,
    envvar="FFMPEG_OPERATOR_AUTH_USER",
    show_envvar=True,
    help="Turn on JWT auth with this user.",
)
@click.option(
    "--auth-password",
    default="",
    show_default=False,
    envvar="FFMPEG_OPERATOR_AUTH_PASSWORD",
    show_envvar=True,
    help="Password of --auth-user.",
)
@click.option(
    "--memfs-password",
    default="",
    show_default=False,
    envvar="FFMPEG_OPERATOR_MEMFS_PASSWORD",
    show_envvar=True,
    help="memfs write password (default: random).",
)
@click.option(
    "--backend",
    type=click.Choice(Backend),
    default=Backend.local,
    help="local: ffmpeg children of this process; kubernetes: FFmpegProcess "
    "objects run by the operator.",
)
@click.option(
    "--namespace",
    "-n",
    envvar="FFMPEG_OPERATOR_NAMESPACE",
    show_envvar=True,
    help="kubernetes: namespace of the FFmpegProcess objects (default: the Pod's, "
    "else the kubeconfig context's).",
)
@click.option(
    "--kubeconfig",
    help="kubernetes: kubeconfig file (default: in-cluster inside a Pod, "
    "else $KUBECONFIG or ~/.kube/config).",
)
@click.option("--context", help="kubernetes: kubeconfig context (default: current).")
@click.option(
    "--access-log/--no-access-log",
    default=False,
    help="Log every HTTP request (off: it costs each request time).",
)
@click.option(
    "--ui-dir",
    type=PATH,
    envvar="FFMPEG_OPERATOR_UI_DIR",
    show_envvar=True,
    help="Serve this Restreamer UI build at /ui (same origin: no CORS, no proxy).",
)
@click.option(
    "--disk-dir",
    type=PATH,
    envvar="FFMPEG_OPERATOR_API_DISK_DIR",
    show_envvar=True,
    help="kubernetes: where the {diskfs} volume is mounted here, served at / and "
    "/api/v3/fs/disk (default: <data-dir>/disk).",
)
@click.option(
    "--settings-secret",
    envvar="FFMPEG_OPERATOR_SETTINGS_SECRET",
    show_envvar=True,
    help="kubernetes: keep the settings of PUT /api/v3/config in this Secret "
    "(default: <data-dir>/config.json).",
)
@click.option(
    "--cors-origins",
    default="*",
    envvar="FFMPEG_OPERATOR_CORS_ORIGINS",
    show_envvar=True,
    help="Comma-separated origins allowed on /memfs and / (the API allows any).",
)
@click.option(
    "--host-names",
    default="",
    show_default=False,
    envvar="FFMPEG_OPERATOR_HOST_NAMES",
    show_envvar=True,
    help="Comma-separated public host names (Core's host.name; the UI's public URLs).",
)
@click.option(
    "--session-ip-ignorelist",
    default=",".join(DEFAULT_SESSION_IGNORE),
    envvar="FFMPEG_OPERATOR_SESSION_IP_IGNORELIST",
    show_envvar=True,
    help="Comma-separated networks whose clients are not counted as viewers.",
)
def serve(  # noqa: PLR0917 - one parameter per CLI flag
    host: str,
    port: int,
    data_dir: Path,
    ffmpeg: str | None,
    auth_user: str,
    auth_password: str,
    memfs_password: str,
    backend: Backend,
    namespace: str | None,
    kubeconfig: str | None,
    context: str | None,
    access_log: bool,
    ui_dir: Path | None,
    disk_dir: Path | None,
    settings_secret: str | None,
    cors_origins: str,
    host_names: str,
    session_ip_ignorelist: str,
) -> None:
    """Serve the datarhei v3 process API over local ffmpeg processes or FFmpegProcess objects."""
    import ipaddress

    from ffmpeg_operator.api.server import ServeOptions, build_kubernetes_app, build_local_app
    from ffmpeg_operator.api.serving import serve as serve_app

    if auth_user and not auth_password:
        raise click.BadParameter("--auth-password is required with --auth-user")
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
            raise click.BadParameter(
                f"{network!r} is not a network", param_hint="--session-ip-ignorelist"
            ) from None
    if ui_dir is not None and not ui_dir.is_dir():
        raise click.BadParameter(f"{ui_dir} is not a directory", param_hint="--ui-dir")
    _log_to_stderr()
    if backend is Backend.kubernetes:
        app_ = build_kubernetes_app(options)
    else:
        app_, _engine = build_local_app(options)
    reads = app_.fast_reads
    answer_now = reads.answer_now if reads is not None else None
    serve_app(app_, host=host, port=port, access_log=access_log, answer_now=answer_now)


@app.command()
@click.option(
    "--progress-port",
    type=int,
    required=True,
    help="Port of ffmpeg's -progress tcp://<progress-host>:<port>.",
)
@click.option(
    "--progress-host",
    default="127.0.0.1",
    help="Address the progress listener binds (the Pod's loopback).",
)
@click.option(
    "--process-id", default="", show_default=False, help="The process ID (metrics label)."
)
@click.option(
    "--ffmpeg", default="ffmpeg", help="ffmpeg binary to look for in the shared PID namespace."
)
@click.option("--http-host", default="0.0.0.0", help="Address of /state, /metrics.")
@click.option("--http-port", default=8081, help="Port of /state, /metrics, /healthz.")
@click.option(
    "--stale-timeout-seconds",
    default=0.0,
    help="Stop ffmpeg after this long without progress (0: never).",
)
@click.option("--limit-cpu-usage", default=0.0, help="CPU limit in % of --cpu-capacity (0: none).")
@click.option("--limit-memory-mbytes", default=0, help="Memory (RSS) limit in MiB (0: none).")
@click.option(
    "--limit-waitfor-seconds",
    default=0.0,
    help="How long a limit may be exceeded before the stop.",
)
@click.option(
    "--cpu-capacity",
    default=0.0,
    help="CPUs that count as 100 % (0: this container's quota or CPUs).",
)
@click.option(
    "--command-json",
    default="",
    show_default=False,
    help="ffmpeg's argv without injected flags, as a JSON array.",
)
@click.option(
    "--termination-message-path",
    type=PATH,
    default=Path("/dev/termination-log"),
    help="Where the run's end is written for the operator.",
)
@click.option("--report-fifo", type=PATH, help="FIFO to make for ffmpeg's report (FFREPORT file).")
@click.option("--stats-fifo", type=PATH, help="FIFO to make for ffmpeg's -vstats_file.")
def agent(  # noqa: PLR0917 - one parameter per CLI flag
    progress_port: int,
    progress_host: str,
    process_id: str,
    ffmpeg: str,
    http_host: str,
    http_port: int,
    stale_timeout_seconds: float,
    limit_cpu_usage: float,
    limit_memory_mbytes: int,
    limit_waitfor_seconds: float,
    cpu_capacity: float,
    command_json: str,
    termination_message_path: Path,
    report_fifo: Path | None,
    stats_fifo: Path | None,
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
        raise click.BadParameter("--command-json must be a JSON array of strings")
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
@click.option(
    "--namespace",
    "-n",
    multiple=True,
    help="Namespace to watch (repeatable; default: $FFMPEG_OPERATOR_NAMESPACE).",
)
@click.option("--all-namespaces", "-A", is_flag=True, help="Watch every namespace.")
@click.option("--peering", help="KopfPeering to join (one active replica); none: standalone.")
@click.option(
    "--priority",
    type=int,
    help="Peering priority (default: derived from $FFMPEG_OPERATOR_POD_NAME).",
)
@click.option("--liveness", help="kopf's liveness endpoint, e.g. http://0.0.0.0:8080/healthz.")
@click.option("--verbose/--no-verbose", default=False, help="Debug logging.")
def operator_command(  # noqa: PLR0917 - one parameter per CLI flag
    namespace: tuple[str, ...],
    all_namespaces: bool,
    peering: str | None,
    priority: int | None,
    liveness: str | None,
    verbose: bool,
) -> None:
    """Run the Kubernetes operator: FFmpegProcess objects in, run Pods and status out."""
    from ffmpeg_operator.operator.main import OperatorOptions, run_operator

    options = OperatorOptions(
        namespaces=namespace,
        all_namespaces=all_namespaces,
        peering=peering,
        priority=priority,
        liveness=liveness,
        verbose=verbose,
    )
    try:
        run_operator(options)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@app.command("ensure-secret")
@click.option("--name", required=True, help="The Secret to create or complete.")
@click.option(
    "--namespace", "-n", required=True, envvar="FFMPEG_OPERATOR_NAMESPACE", show_envvar=True
)
@click.option(
    "--key",
    multiple=True,
    required=True,
    help="KEY (a random value when missing) or KEY=ENVVAR (the value of that variable "
    "when set and not empty, else random). Repeatable.",
)
@click.option("--label", multiple=True, help="KEY=VALUE label of a created Secret.")
def ensure_secret_command(
    name: str, namespace: str, key: tuple[str, ...], label: tuple[str, ...]
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
    labels = dict(item.partition("=")[::2] for item in label)

    async def run() -> list[str]:
        client = KubeClient(login)
        try:
            return await ensure_secret(client, namespace, name, values, labels)
        finally:
            await client.close()

    added = asyncio.run(run())
    click.echo(
        f"secret {namespace}/{name}: " + (f"added {', '.join(added)}" if added else "complete")
    )


@app.command()
@click.option("--namespace", "-n", multiple=True, help="Namespace to drain (repeatable).")
@click.option("--all-namespaces", "-A", is_flag=True, help="Every namespace.")
@click.option(
    "--timeout",
    default=60.0,
    help="Seconds to wait for the operator before removing finalizers.",
)
def drain(namespace: tuple[str, ...], all_namespaces: bool, timeout: float) -> None:
    """Delete every FFmpegProcess and wait until the operator let it go (the chart's
    pre-delete hook): an uninstall then strands no finalizer."""
    import asyncio

    from ffmpeg_operator.operator.context import login
    from ffmpeg_operator.operator.kubeclient import KubeClient
    from ffmpeg_operator.operator.maintenance import drain as drain_processes

    if all_namespaces == bool(namespace):
        raise click.BadParameter("choose --namespace or --all-namespaces")
    scope: list[str | None] = [None] if all_namespaces else list(namespace)

    async def run() -> int:
        client = KubeClient(login)
        try:
            return await drain_processes(client, scope, timeout)
        finally:
            await client.close()

    forced = asyncio.run(run())
    click.echo(f"drained; finalizers removed by force: {forced}")


@app.command()
@click.argument("db_json", type=PATH)
@click.option("--namespace", "-n", help="Namespace of the objects (default: none set).")
@click.option("--output", "-o", type=PATH, help="Write here instead of stdout.")
def migrate(db_json: Path, namespace: str | None, output: Path | None) -> None:
    """Convert a datarhei Core db.json into FFmpegProcess resources (multi-document YAML).

    DB_JSON: a datarhei Core db.json (version 4).
    """
    from ffmpeg_operator.kube.migrate import MigrationError, migrate_db
    from ffmpeg_operator.kube.yamltext import dump_documents

    try:
        raw = db_json.read_bytes()
    except FileNotFoundError:
        raise _fail(f"{db_json}: no such file") from None
    except OSError as error:
        raise _fail(f"{db_json}: {error.strerror or error}") from None
    try:
        result = migrate_db(raw, namespace)
    except MigrationError as error:
        raise _fail(f"{db_json}: {error}") from None
    text = dump_documents(result.objects)
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as error:
            raise _fail(f"{output}: {error.strerror or error}") from None
    if result.system_metadata_keys:
        keys = ", ".join(result.system_metadata_keys)
        click.echo(f"note: system metadata not migrated (keys: {keys})", err=True)
    click.echo(f"migrated {len(result.objects)} processes", err=True)


@app.command("crd")
def crd_command() -> None:
    """Print the FFmpegProcess CustomResourceDefinition as YAML."""
    from ffmpeg_operator.kube.crd import crd_yaml

    click.echo(crd_yaml(), nl=False)


@app.command()
@click.option(
    "--file",
    "-f",
    "file",
    type=PATH,
    required=True,
    help="FFmpegProcess YAML, multi-document allowed ('-': stdin).",
)
@click.option("--run", type=click.IntRange(min=1), default=1, help="Run number of the Pods.")
@click.option("--namespace", "-n", help="Namespace of objects naming none.")
@click.option(
    "--node-cpus",
    type=click.FloatRange(min=0.001),
    default=1.0,
    help="CPUs of a node (limits.cpuUsage is % of a node).",
)
@click.option("--diskfs-pvc", help="PVC holding {diskfs} (default: an emptyDir per run).")
@click.option("--image", help="Image of ffmpeg and the agent.")
def render(  # noqa: PLR0917 - one parameter per CLI flag
    file: Path,
    run: int,
    namespace: str | None,
    node_cpus: float,
    diskfs_pvc: str | None,
    image: str | None,
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
        raise _fail(f"{file}: {error.strerror or error}") from None
    settings = OperatorSettings(node_cpus=node_cpus, diskfs_pvc=diskfs_pvc)
    if image:
        settings = dataclasses.replace(settings, ffmpeg_image=image, agent_image=image)
    try:
        pods = render_pods(load_custom_resources(text), run, settings, namespace)
    except RenderError as error:
        raise _fail(str(error)) from None
    click.echo(dump_yaml(pods), nl=False)


def main() -> None:
    app()
