"""The ffmpeg argument vector of a resolved process config (spec §9.1, §9.5).

One argv element per option and per address, in Core's order; the vector is executed
directly, never through a shell, so addresses and options reach ffmpeg literally.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from ffmpeg_operator.core.ffmpeg.streamstats import MUX_STATS_FORMAT
from ffmpeg_operator.core.models import ProcessConfig

__all__ = [
    "REPORT_LEVEL",
    "compile_argv",
    "instrumented_argv",
    "probe_argv",
    "report_env",
    "stderr_shows_stream_dump",
    "supervisor_flags",
]

#: ffmpeg's report level: ``info`` (32) holds the stream dump, whatever ``-loglevel`` says.
REPORT_LEVEL = 32


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


def instrumented_argv(resolved: ProcessConfig, stats_path: str, *, mux_stats: bool) -> list[str]:
    """:func:`compile_argv` plus options writing per-stream statistics to ``stats_path``.

    ``mux_stats`` (ffmpeg ≥ 6.1): ``-stats_mux_pre`` before every output's address, one line
    per packet of each encoded stream (:data:`MUX_STATS_FORMAT`); otherwise ``-vstats_file``,
    one line per encoded video frame. Our options come before the config's own, so a
    config's own statistics options win (last one counts in ffmpeg).
    """
    if not mux_stats:
        return ["-vstats_file", stats_path, *compile_argv(resolved)]
    argv = list(probe_argv(resolved))
    for output in resolved.output:
        argv.extend(("-stats_mux_pre", stats_path, "-stats_mux_pre_fmt", MUX_STATS_FORMAT))
        argv.extend(output.options)
        argv.append(output.address)
    return argv


def report_env(path: str) -> dict[str, str]:
    """The environment making ffmpeg write its report (log at :data:`REPORT_LEVEL`) to ``path``.

    The report receives every message up to its own level even when ``-loglevel`` hides them
    from stderr, so the stream dump can be read at any log level. ``:`` separates the
    report's options and ``\\`` escapes, so both are escaped in the path.
    """
    escaped = path.replace("\\", "\\\\").replace(":", "\\:")
    return {"FFREPORT": f"file={escaped}:level={REPORT_LEVEL}"}


#: ffmpeg's log level names (``-loglevel``/``-v``), as ``opt_loglevel`` knows them.
_LOG_LEVELS = {
    "quiet": -8,
    "panic": 0,
    "fatal": 8,
    "error": 16,
    "warning": 24,
    "info": 32,
    "verbose": 40,
    "debug": 48,
    "trace": 56,
}
_LOG_FLAGS = ("repeat", "level", "time", "datetime")


def _log_level(value: str) -> int | None:
    """The level a ``-loglevel`` value sets, ``None`` when only flags change or it is unclear.

    ``[+-]flag`` segments (``repeat``, ``level``, ``time``, ``datetime``) may come first,
    joined by ``+``; the level is a name or an integer.
    """
    parts = value.split("+")
    level = parts[-1]
    if any(part.lstrip("-") not in _LOG_FLAGS for part in parts[:-1] if part):
        return None
    if level in _LOG_LEVELS:
        return _LOG_LEVELS[level]
    if level.lstrip("-").isdigit():
        return int(level)
    return None


def stderr_shows_stream_dump(argv: Sequence[str]) -> bool:
    """Whether ffmpeg run with ``argv`` writes its stream dump to stderr (level ``info``).

    ffmpeg logs at ``info`` unless ``-loglevel``/``-v`` says otherwise; every such option in
    ``argv`` must name ``info`` or above (an unclear value counts as below). Where this holds,
    the report (:func:`report_env`) would only repeat what stderr says.
    """
    for option, value in itertools.pairwise(argv):
        if option in ("-loglevel", "-v"):
            level = _log_level(value)
            if level is None or level < _LOG_LEVELS["info"]:
                return False
    return True
