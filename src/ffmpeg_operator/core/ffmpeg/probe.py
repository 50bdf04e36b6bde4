"""The probe result (spec §2.8, §9.5) from the stderr of an inputs-only ffmpeg run.

Streams come from the ``ffmpeg.inputs:`` JSON line of the datarhei-patched ffmpeg when there
is one, otherwise from the stock ``Input #`` dump (then ``coder`` and ``channels`` stay empty).
The log is every line, in order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from ffmpeg_operator.core.ffmpeg.prelude import StreamInfo, parse_prelude
from ffmpeg_operator.core.models import Probe, ProbeIO

_JSON_INPUTS = "ffmpeg.inputs:"


def parse_probe(lines: Iterable[str]) -> Probe:
    """The :class:`Probe` (streams and log) of a probe run's stderr lines."""
    log = list(lines)
    streams = _json_streams(log)
    if streams is None:
        streams = [_probe_io(info) for info in parse_prelude(log).inputs]
    return Probe(streams=streams, log=log)


def _json_streams(lines: list[str]) -> list[ProbeIO] | None:
    for line in lines:
        if not line.startswith(_JSON_INPUTS):
            continue
        try:
            items = json.loads(line[len(_JSON_INPUTS) :])
            return [ProbeIO.model_validate(item) for item in items]
        except (ValueError, TypeError):  # pydantic's ValidationError is a ValueError
            return None  # a broken JSON line: fall back to the dump, as Core logs and goes on
    return None


def _probe_io(info: StreamInfo) -> ProbeIO:
    return ProbeIO(
        url=info.address,
        format=info.format,
        index=info.index,
        stream=info.stream,
        language=info.language,
        type=info.type,
        codec=info.codec,
        bitrate_kbps=info.bitrate_kbps,
        duration_sec=info.duration_sec,
        fps=info.fps,
        pix_fmt=info.pix_fmt,
        width=info.width,
        height=info.height,
        sampling_hz=info.sampling_hz,
        layout=info.layout,
    )
