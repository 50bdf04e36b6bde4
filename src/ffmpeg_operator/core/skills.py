"""What an ffmpeg binary can do: the ``/api/v3/skills`` body (spec §11) and its text parsers.

ffmpeg describes itself in the human-readable output of ``-version``, ``-filters``,
``-hwaccels``, ``-codecs``, ``-formats``, ``-devices`` and ``-protocols``. One pure function per
command turns that text into the wire models below; running the binary is the job of
:mod:`ffmpeg_operator.supervision.skills`.

The parsers follow datarhei Core's ``ffmpeg/skills`` package line by line, with three
deliberate widenings for ffmpeg releases newer than Core's regular expressions (each marked
*newer ffmpeg* below), because the ffmpeg bundled with this project is one of them:

- ``ffmpeg version n9.0.2-…`` (release tag with an ``n``) is accepted as version ``9.0.2``;
- filter lines with two flag columns (ffmpeg 8 dropped the "C" command column) are accepted;
- ``-protocols`` blank lines are skipped instead of becoming protocols with an empty id.

Quirks kept from Core: library versions keep ffmpeg's padding (``"61.  1.102"``), a version
without patch level gets ``.0``, a codec that cannot encode (decode) has ``encoders``
(``decoders``) ``null`` rather than ``[]``, format and device ids are the first of a comma list
(``mov,mp4,…`` → ``mov``), and ``-formats`` entries flagged ``d`` (devices) are left to
``devices``.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

# --------------------------------------------------------------------------- wire models


class _SkillsModel(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SkillsLibrary(_SkillsModel):
    """An av library ffmpeg was compiled against and the one it runs with."""

    name: str = ""
    compiled: str = ""
    linked: str = ""


class SkillsFFmpeg(_SkillsModel):
    """The ``ffmpeg`` object: version, compiler, configure line and libraries."""

    version: str = ""
    compiler: str = ""
    configuration: str = ""
    libraries: list[SkillsLibrary] = Field(default_factory=list)


class SkillsFilter(_SkillsModel):
    """A filter: ``id`` is its name in a filtergraph, ``name`` its description."""

    id: str = ""
    name: str = ""


class SkillsHWAccel(_SkillsModel):
    """A hardware acceleration method (id and name are the same word)."""

    id: str = ""
    name: str = ""


class SkillsCodec(_SkillsModel):
    """A codec and the encoders/decoders implementing it; ``None`` when there are none."""

    id: str = ""
    name: str = ""
    encoders: list[str] | None = None
    decoders: list[str] | None = None


class SkillsCodecs(_SkillsModel):
    audio: list[SkillsCodec] = Field(default_factory=list)
    video: list[SkillsCodec] = Field(default_factory=list)
    subtitle: list[SkillsCodec] = Field(default_factory=list)


class SkillsHWDevice(_SkillsModel):
    """A concrete device of a device type (e.g. ``/dev/video0`` of video4linux2)."""

    id: str = ""
    name: str = ""
    extra: str = ""
    media: str = ""


class SkillsDevice(_SkillsModel):
    """A device (de)muxer such as ``video4linux2`` with the devices found for it."""

    id: str = ""
    name: str = ""
    devices: list[SkillsHWDevice] = Field(default_factory=list)


class SkillsDevices(_SkillsModel):
    demuxers: list[SkillsDevice] = Field(default_factory=list)
    muxers: list[SkillsDevice] = Field(default_factory=list)


class SkillsFormat(_SkillsModel):
    """A container format (de)muxer."""

    id: str = ""
    name: str = ""


class SkillsFormats(_SkillsModel):
    demuxers: list[SkillsFormat] = Field(default_factory=list)
    muxers: list[SkillsFormat] = Field(default_factory=list)


class SkillsProtocol(_SkillsModel):
    """A protocol (id and name are the same word)."""

    id: str = ""
    name: str = ""


class SkillsProtocols(_SkillsModel):
    input: list[SkillsProtocol] = Field(default_factory=list)
    output: list[SkillsProtocol] = Field(default_factory=list)


class Skills(_SkillsModel):
    """The body of ``GET /api/v3/skills``; every key is always present."""

    ffmpeg: SkillsFFmpeg = Field(default_factory=SkillsFFmpeg)
    filter: list[SkillsFilter] = Field(default_factory=list)
    hwaccels: list[SkillsHWAccel] = Field(default_factory=list)
    codecs: SkillsCodecs = Field(default_factory=SkillsCodecs)
    devices: SkillsDevices = Field(default_factory=SkillsDevices)
    formats: SkillsFormats = Field(default_factory=SkillsFormats)
    protocols: SkillsProtocols = Field(default_factory=SkillsProtocols)


# --------------------------------------------------------------------------- parsers

# *newer ffmpeg*: release builds print "n9.0.2"; Core only knew "4.4.1" and "ffmpeg-4.4.1".
_VERSION = re.compile(r"^ffmpeg version (?:ffmpeg-|n)?([0-9]+\.[0-9]+(\.[0-9]+)?)", re.MULTILINE)
_COMPILER = re.compile(r"^[ \t]*built with (.*)$", re.MULTILINE)
_CONFIGURATION = re.compile(r"^[ \t]*configuration: (.*)$", re.MULTILINE)
_LIBRARY = re.compile(
    r"^[ \t]*(lib[a-z]+)\s+([0-9]+\.\s*[0-9]+\.\s*[0-9]+) /\s+([0-9]+\.\s*[0-9]+\.\s*[0-9]+)",
    re.MULTILINE,
)
# *newer ffmpeg*: two flag columns ("TS") since ffmpeg 8, three ("TSC") before.
_FILTER = re.compile(r"^\s*[TSC.]{2,3} ([0-9A-Za-z_]+)\s+.*?\s+(.*)$")
# Core's id pattern has no ".", so "acelp.kelvin" is not listed; kept for parity.
_CODEC = re.compile(
    r"^\s*([D.])([E.])([VAS]).{3} ([0-9A-Za-z_]+)\s+(.*?)"
    r"(?:\(decoders:([^)]+)\))?\s?(?:\(encoders:([^)]+)\))?$"
)
# Flag columns D (demux), E (mux) and, since ffmpeg 7, d (is a device).
_FORMAT = re.compile(r"^\s*([D ])([E ])([d ]?)\s+([0-9A-Za-z_,]+)\s+(.*?)$")
_DEVICE = re.compile(r"^\s*([D ])([E ]) ([0-9A-Za-z_,]+)\s+(.*?)$")
_HWACCEL = re.compile(r"[A-Za-z0-9]+")
_HWACCEL_HEADER = "Hardware acceleration methods:"


def parse_version(text: str) -> SkillsFFmpeg:
    """Parse ``ffmpeg -version``; ``version`` stays empty when no release number is found."""
    ffmpeg = SkillsFFmpeg()
    if match := _VERSION.search(text):
        ffmpeg.version = match.group(1) if match.group(2) else match.group(1) + ".0"
    if match := _COMPILER.search(text):
        ffmpeg.compiler = match.group(1)
    if match := _CONFIGURATION.search(text):
        ffmpeg.configuration = match.group(1)
    ffmpeg.libraries = [
        SkillsLibrary(name=name, compiled=compiled, linked=linked)
        for name, compiled, linked in _LIBRARY.findall(text)
    ]
    return ffmpeg


def parse_filters(text: str) -> list[SkillsFilter]:
    """Parse ``ffmpeg -filters``: id = filter name, name = its description."""
    filters = []
    for line in text.splitlines():
        if match := _FILTER.match(line):
            filters.append(SkillsFilter(id=match.group(1), name=match.group(2)))
    return filters


def parse_hwaccels(text: str) -> list[SkillsHWAccel]:
    """Parse ``ffmpeg -hwaccels``: one bare word per line after the header."""
    hwaccels: list[SkillsHWAccel] = []
    started = False
    for line in text.splitlines():
        if line == _HWACCEL_HEADER:
            started = True
        elif started and _HWACCEL.fullmatch(line):
            hwaccels.append(SkillsHWAccel(id=line, name=line))
    return hwaccels


def _implementations(flag: str, listed: str | None, codec_id: str) -> list[str] | None:
    # The "(decoders: …)" suffix appears only when the implementations' names differ from the
    # codec's; without it the codec name itself is the one implementation.
    if flag == ".":
        return None
    if listed is None:
        return [codec_id]
    return listed.split()


def parse_codecs(text: str) -> SkillsCodecs:
    """Parse ``ffmpeg -codecs`` into audio, video and subtitle codecs (data codecs dropped)."""
    codecs = SkillsCodecs()
    by_kind = {"A": codecs.audio, "V": codecs.video, "S": codecs.subtitle}
    for line in text.splitlines():
        match = _CODEC.match(line)
        if match is None:
            continue
        decode, encode, kind, codec_id, name, decoders, encoders = match.groups()
        by_kind[kind].append(
            SkillsCodec(
                id=codec_id,
                name=name.strip(),
                decoders=_implementations(decode, decoders, codec_id),
                encoders=_implementations(encode, encoders, codec_id),
            )
        )
    return codecs


def parse_formats(text: str) -> SkillsFormats:
    """Parse ``ffmpeg -formats``; entries flagged as devices are skipped (see ``devices``)."""
    formats = SkillsFormats()
    for line in text.splitlines():
        match = _FORMAT.match(line)
        if match is None:
            continue
        demux, mux, device, ids, name = match.groups()
        if device == "d":
            # Core's regex never matched the device column ffmpeg 7 added (its own test
            # expects x11grab to be absent), so devices only appear under "devices".
            continue
        entry = SkillsFormat(id=ids.split(",")[0], name=name)
        if demux == "D":
            formats.demuxers.append(entry)
        if mux == "E":
            formats.muxers.append(entry.model_copy())
    return formats


def parse_devices(text: str) -> SkillsDevices:
    """Parse ``ffmpeg -devices``; the per-device lists are left empty (filled by the caller)."""
    devices = SkillsDevices()
    for line in text.splitlines():
        match = _DEVICE.match(line)
        if match is None:
            continue
        demux, mux, ids, name = match.groups()
        entry = SkillsDevice(id=ids.split(",")[0], name=name)
        if demux == "D":
            devices.demuxers.append(entry)
        if mux == "E":
            devices.muxers.append(entry.model_copy(deep=True))
    return devices


def parse_protocols(text: str) -> SkillsProtocols:
    """Parse ``ffmpeg -protocols``: indented names under ``Input:`` and ``Output:``."""
    protocols = SkillsProtocols()
    section: list[SkillsProtocol] | None = None
    for line in text.splitlines():
        if line == "Input:":
            section = protocols.input
        elif line == "Output:":
            section = protocols.output
        elif section is not None and (name := line.strip()):
            # *newer ffmpeg* safety: Core would turn a blank line into an empty protocol.
            section.append(SkillsProtocol(id=name, name=name))
    return protocols
