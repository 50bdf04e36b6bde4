"""Ask an ffmpeg binary what it can do, for ``GET /api/v3/skills`` (spec §11).

Runs ``ffmpeg -hide_banner -<topic>`` once per topic (in parallel threads, each with a timeout,
no shell) and hands the text to the pure parsers of :mod:`ffmpeg_operator.core.skills`.

The result depends only on the binary, so callers cache it per binary path (and drop the
cache on ``/skills/reload``); nothing is cached here.

The per-device lists (``devices.*[].devices``: ALSA cards, V4L2 and framebuffer devices, …)
are not enumerated — Core reads them from OS-specific places; here they stay ``[]``.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

from ffmpeg_operator.core.skills import (
    Skills,
    parse_codecs,
    parse_devices,
    parse_filters,
    parse_formats,
    parse_hwaccels,
    parse_protocols,
    parse_version,
)
from ffmpeg_operator.supervision.run import child_environment

#: Seconds one ``ffmpeg -<topic>`` may take; they answer in milliseconds.
TOPIC_TIMEOUT = 10.0

_TOPICS = ("version", "filters", "hwaccels", "codecs", "formats", "devices", "protocols")


class SkillsProbeError(RuntimeError):
    """The binary could not be run, or its ``-version`` output names no release."""


def _run_topic(binary: str, topic: str) -> str:
    # Like Core (CombinedOutput, exit code ignored) read stdout and stderr together: the
    # listing is on stdout, but a failing binary explains itself on stderr.
    try:
        done = subprocess.run(
            [binary, "-hide_banner", f"-{topic}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Core runs these with an empty environment (as it runs every ffmpeg), so
            # FFREPORT, AV_LOG_FORCE_COLOR and friends cannot change the text.
            env=child_environment(),
            timeout=TOPIC_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SkillsProbeError(f"running {binary} -{topic} failed: {exc}") from exc
    return done.stdout.decode("utf-8", errors="replace")


def probe_skills(binary: str) -> Skills:
    """Return the skills of ``binary``; raise :class:`SkillsProbeError` if it is not ffmpeg.

    A bare name (``ffmpeg``) is looked up on our ``PATH``; the children get none.
    """
    if os.sep not in binary:
        binary = shutil.which(binary) or binary
    with ThreadPoolExecutor(max_workers=len(_TOPICS)) as pool:
        futures = {topic: pool.submit(_run_topic, binary, topic) for topic in _TOPICS}
        texts = {topic: future.result() for topic, future in futures.items()}

    ffmpeg = parse_version(texts["version"])
    if not ffmpeg.version:
        # Core refuses a binary whose version it cannot read ("can't parse ffmpeg version
        # info"); snapshot builds ("N-12345-g…") fall in here too.
        raise SkillsProbeError(f"can't parse ffmpeg version info of {binary}")
    return Skills(
        ffmpeg=ffmpeg,
        filter=parse_filters(texts["filters"]),
        hwaccels=parse_hwaccels(texts["hwaccels"]),
        codecs=parse_codecs(texts["codecs"]),
        devices=parse_devices(texts["devices"]),
        formats=parse_formats(texts["formats"]),
        protocols=parse_protocols(texts["protocols"]),
    )


@functools.lru_cache(maxsize=16)
def binary_version(binary: str) -> str:
    """The release ``binary`` says it is (``"5.1.9"``), ``""`` when it names none or fails.

    Cached: a run's instrumentation depends on it and the binary does not change under us.
    """
    try:
        return parse_version(_run_topic(binary, "version")).version
    except (OSError, SkillsProbeError, subprocess.SubprocessError):
        return ""
