"""The ``ffmpeg-operator`` command line.

Sub-commands import their heavy dependencies lazily, so embedded mode never loads kopf or the
Kubernetes client.
"""

from __future__ import annotations

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


def main() -> None:
    app()
