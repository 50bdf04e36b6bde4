"""The ffmpeg argument vector of a resolved process config (spec §9.1, §9.5).

One argv element per option and per address, in Core's order; the vector is executed
directly, never through a shell, so addresses and options reach ffmpeg literally.
"""

from __future__ import annotations

from ffmpeg_operator.core.models import ProcessConfig

__all__ = ["compile_argv", "probe_argv", "supervisor_flags"]


def compile_argv(resolved: ProcessConfig) -> list[str]:
    """``<options> (<input.options> -i <address>)... (<output.options> <address>)...``.

    This is what ``state.command`` shows; the binary name is not part of it.
    """
    argv = list(probe_argv(resolved))
    for output in resolved.output:
        argv.extend(output.options)
        argv.append(output.address)
    return argv


def probe_argv(resolved: ProcessConfig) -> list[str]:
    """The arguments of a probe (§9.5): global options and every input, no outputs."""
    argv = list(resolved.options)
    for io in resolved.input:
        argv.extend(io.options)
        argv.extend(("-i", io.address))
    return argv


def supervisor_flags(progress_url: str, *, stats_period: float | None = None) -> list[str]:
    """Flags a supervisor puts in front of :func:`compile_argv`'s arguments.

    ``-progress`` reports counters at every loglevel (the stderr stats line disappears below
    ``info``); ``-nostdin`` keeps ffmpeg from reading keyboard commands from an inherited
    stdin. ``-stats_period`` (seconds) is added only when given. Core injects nothing, so these
    flags must never be shown in ``state.command``; because they come first, a config's own
    global options can still override them.
    """
    flags = ["-nostdin", "-progress", progress_url]
    if stats_period is not None:
        flags.extend(("-stats_period", f"{stats_period:g}"))
    return flags
