"""Finding the ffmpeg of this Pod in the shared PID namespace (``shareProcessNamespace``).

A candidate must look like the configured binary (process name, executable or ``argv[0]``) and
carry our ``-progress`` URL on its command line. The URL pins it to this agent: on a developer
machine or a CI runner many ffmpegs share the PID namespace, and in the Pod it costs nothing.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence

import psutil

_NOSTDIN = "-nostdin"
_PROGRESS = "-progress"
_VSTATS = "-vstats_file"


def _basename(path: str) -> str:
    return os.path.basename(path.rstrip("/"))


def _looks_like(process: psutil.Process, cmdline: Sequence[str], binary: str) -> bool:
    wanted = _basename(binary)
    names = {_basename(cmdline[0])} if cmdline else set()
    try:
        names.add(process.name())
        names.add(_basename(process.exe()))
    except (psutil.AccessDenied, psutil.ZombieProcess):
        pass  # another user's process: its exe link is not ours to read, the cmdline is enough
    return wanted in names


def has_progress_url(cmdline: Sequence[str], progress_url: str) -> bool:
    """Whether ``cmdline`` passes ``-progress <progress_url>``."""
    return any(
        arg == _PROGRESS and value == progress_url for arg, value in itertools.pairwise(cmdline)
    )


def find_ffmpeg(binary: str, progress_url: str) -> psutil.Process | None:
    """The live process running ``binary`` with our progress URL, or None (oldest if many)."""
    found: list[psutil.Process] = []
    own = os.getpid()
    for process in psutil.process_iter():
        if process.pid == own:
            continue
        try:
            cmdline = process.cmdline()
            if not has_progress_url(cmdline, progress_url):
                continue
            if not _looks_like(process, cmdline, binary):
                continue
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            process.create_time()  # cached: pins the identity against PID reuse
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        found.append(process)
    return min(found, key=lambda p: p.create_time()) if found else None


def strip_injected_flags(
    cmdline: Sequence[str], progress_url: str, stats_file: str | None = None
) -> list[str]:
    """ffmpeg's argv as the config resolved it: no binary, no ``-nostdin``/``-progress <url>``
    (nor ``-vstats_file <stats_file>`` when given).

    The injected flags lead the arguments; a ``-progress <our url>`` pair is dropped wherever
    it stands, while a ``-nostdin`` later on belongs to the config and stays.
    """
    args = list(cmdline[1:])
    leading = 0
    while leading < len(args):
        if args[leading] == _NOSTDIN:
            leading += 1
        elif (args[leading] == _PROGRESS and args[leading + 1 : leading + 2] == [progress_url]) or (
            stats_file is not None
            and args[leading] == _VSTATS
            and args[leading + 1 : leading + 2] == [stats_file]
        ):
            leading += 2
        else:
            break
    rest = args[leading:]
    kept: list[str] = []
    index = 0
    while index < len(rest):
        if rest[index] == _PROGRESS and rest[index + 1 : index + 2] == [progress_url]:
            index += 2
            continue
        kept.append(rest[index])
        index += 1
    return kept
