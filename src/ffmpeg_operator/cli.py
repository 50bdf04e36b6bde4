"""The ``ffmpeg-operator`` command line.

Sub-commands import their heavy dependencies lazily, so embedded mode never loads kopf or the
Kubernetes client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ffmpeg_operator import __version__

app = typer.Typer(
    name="ffmpeg-operator",
    help="FFmpeg processes behind the datarhei Core v3 process API, locally or on Kubernetes.",
    no_args_is_help=True,
    add_completion=False,
)


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
) -> None:
    """Serve the datarhei v3 process API over local ffmpeg processes (embedded mode)."""
    import uvicorn

    from ffmpeg_operator.api.server import ServeOptions, build_local_app

    if auth_user and not auth_password:
        raise typer.BadParameter("--auth-password is required with --auth-user")
    app_, _engine = build_local_app(
        ServeOptions(
            host=host,
            port=port,
            data_dir=data_dir,
            ffmpeg=ffmpeg,
            auth_user=auth_user,
            auth_password=auth_password,
            memfs_password=memfs_password,
        )
    )
    uvicorn.run(app_, host=host, port=port, log_level="info")


def main() -> None:
    app()
