"""Which ffmpeg executable to run.

Order: an explicit value (CLI flag / setting), the ``FFMPEG_OPERATOR_FFMPEG`` environment
variable, ``ffmpeg`` on ``PATH``, and finally the static build shipped with ``imageio_ffmpeg``
so a fresh ``pip install`` works without a system ffmpeg.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping

ENV_VAR = "FFMPEG_OPERATOR_FFMPEG"


class FFmpegNotFound(RuntimeError):  # noqa: N818 - the name reads as the condition it reports
    """No usable ffmpeg executable; ``str()`` says what was tried."""


def _resolve(candidate: str, path: str | None) -> str | None:
    # A value with a directory part names a file; a bare name is looked up on PATH.
    if os.sep in candidate:
        return candidate if os.path.isfile(candidate) and os.access(candidate, os.X_OK) else None
    return shutil.which(candidate, path=path)


def _bundled_ffmpeg() -> str | None:
    try:
        import imageio_ffmpeg

        exe: str = imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return None
    return exe


def find_ffmpeg(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """Return the path of the ffmpeg to run; raise :class:`FFmpegNotFound` when there is none.

    An explicit value or the environment variable is a deliberate choice, so when it does
    not resolve this fails instead of silently falling back to another ffmpeg.
    """
    env = os.environ if environ is None else environ
    path = env.get("PATH")
    if explicit:
        found = _resolve(explicit, path)
        if found is None:
            raise FFmpegNotFound(f"ffmpeg binary {explicit!r} not found or not executable")
        return found
    configured = env.get(ENV_VAR)
    if configured:
        found = _resolve(configured, path)
        if found is None:
            raise FFmpegNotFound(
                f"ffmpeg binary {configured!r} (from {ENV_VAR}) not found or not executable"
            )
        return found
    on_path = shutil.which("ffmpeg", path=path)
    if on_path is not None:
        return on_path
    bundled = _bundled_ffmpeg()
    if bundled is not None:
        return bundled
    raise FFmpegNotFound(
        f"no ffmpeg found: set {ENV_VAR}, put ffmpeg on PATH or install imageio-ffmpeg"
    )
