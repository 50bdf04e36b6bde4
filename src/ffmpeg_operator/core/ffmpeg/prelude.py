"""The stream dump stock ffmpeg prints before progress starts (spec §9.3, §9.4)::

    Input #0, lavfi, from 'testsrc=size=1280x720:rate=25':
      Duration: N/A, start: 0.000000, bitrate: N/A
      Stream #0:0: Video: rawvideo (RGB[24] / 0x18424752), rgb24, 1280x720 [SAR 1:1 DAR 16:9]
    Output #0, null, to 'pipe:':
      Stream #0:0: Video: wrapped_avframe, rgb24(pc, progressive), 1280x720, q=2-31, 200 kb/s
    Stream mapping:
      Stream #0:0 -> #0:0 (rawvideo (native) -> wrapped_avframe (native))

:func:`parse_prelude` reads it the way Core does: one :class:`StreamInfo` per ``Video``,
``Audio`` or ``Subtitle`` stream line (Core's stream pattern has no ``Data``), and the number of
indented ``Stream #`` lines in the ``Stream mapping:`` block. Core calls the prelude complete
when the number of output streams equals that count (:attr:`PreludeDump.complete`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from ffmpeg_operator.core.ffmpeg.stats import parse_clock
from ffmpeg_operator.core.models import ProgressIO

Direction = Literal["input", "output"]

_HEADER = re.compile(r"^(Input|Output) #([0-9]+), (.*?), (from|to) '([^']+)")
_DURATION = re.compile(r"Duration: ([0-9]+):([0-9]+):([0-9]+)\.([0-9]+)")
_STREAM = re.compile(
    r"Stream #([0-9]+):([0-9]+)(?:\[[0-9a-fx]+\])?(?:\(([a-z]+)\))?: (Video|Audio|Subtitle): (.*)"
)
_CODEC = re.compile(r"^([^\s,]+)")
_PIXFMT_SIZE = re.compile(r", ([0-9A-Za-z]+)(\([^)]+\))?, ([0-9]+)x([0-9]+)")
_FPS = re.compile(r", ([0-9]+(?:\.[0-9]+)?) fps")
_AUDIO = re.compile(r", ([0-9]+) Hz, ([^,]+)")
_BITRATE = re.compile(r", ([0-9]+) kb/s")
_MAPPING_HEADER = re.compile(r"^Stream mapping:")
# Only `  Stream #0:0 -> …` counts; the filter form `  hstack:default -> Stream #0:0 (…)` does
# not start with "Stream #" and ends the block (Core's rule, spec §9.4).
_MAPPING_LINE = re.compile(r"^\s+Stream #[0-9]+:[0-9]+")


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """Static facts of one stream of an input or output file, as the dump shows them."""

    direction: Direction
    address: str
    format: str
    index: int
    stream: int
    type: str  # video | audio | subtitle
    codec: str
    language: str = "und"
    bitrate_kbps: float = 0.0
    duration_sec: float = 0.0
    fps: float = 0.0
    pix_fmt: str = ""
    width: int = 0
    height: int = 0
    sampling_hz: int = 0
    layout: str = ""


@dataclass(frozen=True, slots=True)
class PreludeDump:
    """What the dump says: streams of inputs and outputs, and the stream mapping count."""

    inputs: tuple[StreamInfo, ...] = ()
    outputs: tuple[StreamInfo, ...] = ()
    mapping_count: int = 0

    @property
    def complete(self) -> bool:
        """Core's completion rule: as many parsed output streams as mapping lines. Never true
        for a ``-filter_complex`` with several inputs (mapping lines count filter inputs).
        """
        return len(self.outputs) == self.mapping_count


@dataclass(slots=True)
class _Section:
    direction: Direction | None = None
    address: str = ""
    format: str = ""
    duration_sec: float = 0.0


def parse_prelude(lines: Iterable[str]) -> PreludeDump:
    """Parse the dump part of stderr; other lines are ignored."""
    inputs: list[StreamInfo] = []
    outputs: list[StreamInfo] = []
    mapping_count = 0
    in_mapping = False
    section = _Section()
    for line in lines:
        if _MAPPING_HEADER.match(line):
            in_mapping = True
            continue
        if in_mapping:
            if _MAPPING_LINE.match(line):
                mapping_count += 1
                continue
            # Core skips the line that ends the block; we parse it, so an `Output #` header
            # right after the mapping (no "Press [q]" line with -nostdin) is not lost.
            in_mapping = False
        if (header := _HEADER.match(line)) is not None:
            direction: Direction = "input" if header.group(1) == "Input" else "output"
            section = _Section(direction, header.group(5), header.group(3))
        elif (duration := _DURATION.search(line)) is not None:
            section.duration_sec = parse_clock(*duration.groups())
        elif (stream := _STREAM.search(line)) is not None and section.direction is not None:
            info = _stream_info(stream, section)
            (inputs if section.direction == "input" else outputs).append(info)
    return PreludeDump(tuple(inputs), tuple(outputs), mapping_count)


def _stream_info(match: re.Match[str], section: _Section) -> StreamInfo:
    index, stream, language, kind, detail = match.groups()
    stream_type = kind.lower()
    codec = _CODEC.match(detail)
    bitrate = _BITRATE.search(detail)
    pix_fmt, width, height, fps = "", 0, 0, 0.0
    sampling_hz, layout = 0, ""
    if stream_type == "video":
        if (video := _PIXFMT_SIZE.search(detail)) is not None:
            pix_fmt, width, height = video.group(1), int(video.group(3)), int(video.group(4))
        if (rate := _FPS.search(detail)) is not None:
            fps = float(rate.group(1))
    elif stream_type == "audio" and (audio := _AUDIO.search(detail)) is not None:
        sampling_hz, layout = int(audio.group(1)), audio.group(2)
    return StreamInfo(
        direction=section.direction or "input",
        address=section.address,
        format=section.format,
        index=int(index),
        stream=int(stream),
        type=stream_type,
        codec="" if codec is None else codec.group(1),
        # Core keeps only three-letter codes: "(eng)" -> eng, anything else -> und.
        language=language if language is not None and len(language) == 3 else "und",
        bitrate_kbps=0.0 if bitrate is None else float(bitrate.group(1)),
        duration_sec=section.duration_sec,
        fps=fps,
        pix_fmt=pix_fmt,
        width=width,
        height=height,
        sampling_hz=sampling_hz,
        layout=layout,
    )


def io_id(ids: Sequence[str], index: int) -> str:
    """The config IO id for file ``index``; ``""`` when out of range (spec §2.4)."""
    return ids[index] if 0 <= index < len(ids) else ""


def progress_ios(streams: Iterable[StreamInfo], ids: Sequence[str]) -> list[ProgressIO]:
    """Per-stream :class:`ProgressIO` entries with the static prelude data and zero counters.

    ``ids`` are the ids of the *stored* config's inputs (or outputs), in order: the entry of a
    stream of file N gets ``ids[N]``.
    """
    return [
        ProgressIO(
            id=io_id(ids, info.index),
            address=info.address,
            index=info.index,
            stream=info.stream,
            format=info.format,
            type=info.type,
            codec=info.codec,
            pix_fmt=info.pix_fmt,
            width=info.width,
            height=info.height,
            sampling_hz=info.sampling_hz,
            layout=info.layout,
        )
        for info in streams
    ]


class DumpCollector:
    """The stream dump read from ffmpeg's report, which holds it at every ``-loglevel``.

    Lines are kept until the dump is complete (Core's rule) or ``max_lines`` were seen: the
    dump comes first in a report, and later lines are the run's log. :meth:`dump` parses what
    was kept (cached until a line is added).
    """

    def __init__(self, max_lines: int = 400) -> None:
        self._lines: list[str] = []
        self._max_lines = max_lines
        self._parsed: PreludeDump | None = None
        self._complete = False

    @property
    def complete(self) -> bool:
        return self._complete

    def add(self, line: str) -> None:
        if self._complete or len(self._lines) >= self._max_lines:
            return
        self._lines.append(line)
        self._parsed = None
        if line.lstrip().startswith("Stream #"):
            dump = self.dump()
            self._complete = dump.complete and dump.mapping_count > 0

    def dump(self) -> PreludeDump:
        if self._parsed is None:
            self._parsed = parse_prelude(self._lines)
        return self._parsed
