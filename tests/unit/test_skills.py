"""The skills parsers (spec §11) on captured ffmpeg 9.0.2 output and on Core's own test data."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import pytest

from ffmpeg_operator.core.skills import (
    Skills,
    SkillsCodec,
    SkillsCodecs,
    SkillsDevice,
    SkillsDevices,
    SkillsFFmpeg,
    SkillsFilter,
    SkillsFormat,
    SkillsFormats,
    SkillsHWAccel,
    SkillsLibrary,
    SkillsProtocol,
    SkillsProtocols,
    parse_codecs,
    parse_devices,
    parse_filters,
    parse_formats,
    parse_hwaccels,
    parse_protocols,
    parse_version,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "skills"


def captured(topic: str) -> str:
    return (FIXTURES / f"ffmpeg-9.0.2-{topic}.txt").read_text(encoding="utf-8")


T = TypeVar("T", SkillsCodec, SkillsFilter, SkillsFormat, SkillsProtocol, SkillsDevice)


def by_id(items: list[T], wanted: str) -> T:
    matches = [item for item in items if item.id == wanted]
    assert len(matches) == 1, f"{wanted}: {len(matches)} entries"
    return matches[0]


# --------------------------------------------------------------------------- -version

CORE_4_3_1 = """ffmpeg version 4.3.1 Copyright (c) 2000-2020 the FFmpeg developers
 built with Apple clang version 12.0.0 (clang-1200.0.32.29)
 configuration: --enable-static --enable-libx264 --enable-gpl
 libavutil      56. 51.100 / 56. 51.100
 libavfilter     7. 85.100 /  7. 85.100
 libswscale      5.  7.100 /  5.  7.100
"""


def test_version_reads_release_compiler_configuration_and_libraries() -> None:
    assert parse_version(CORE_4_3_1) == SkillsFFmpeg(
        version="4.3.1",
        compiler="Apple clang version 12.0.0 (clang-1200.0.32.29)",
        configuration="--enable-static --enable-libx264 --enable-gpl",
        libraries=[
            SkillsLibrary(name="libavutil", compiled="56. 51.100", linked="56. 51.100"),
            SkillsLibrary(name="libavfilter", compiled="7. 85.100", linked="7. 85.100"),
            SkillsLibrary(name="libswscale", compiled="5.  7.100", linked="5.  7.100"),
        ],
    )


@pytest.mark.parametrize(
    ("first_line", "version"),
    [
        ("ffmpeg version 4.3.1 Copyright (c) 2000-2020", "4.3.1"),
        ("ffmpeg version 4.4 Copyright (c) 2000-2020", "4.4.0"),
        ("ffmpeg version 4.4.1-datarhei Copyright (c) 2000-2021", "4.4.1"),
        ("ffmpeg version ffmpeg-5.1.2 Copyright", "5.1.2"),
        ("ffmpeg version n9.0.2-17-g2a571b6068-20260930 Copyright", "9.0.2"),
        ("ffmpeg version N-112233-gdeadbeef Copyright", ""),
        ("not ffmpeg at all", ""),
    ],
)
def test_version_number_is_the_release_with_a_patch_level(first_line: str, version: str) -> None:
    assert parse_version(first_line + "\n").version == version


def test_version_of_the_bundled_ffmpeg() -> None:
    ffmpeg = parse_version(captured("version"))

    assert ffmpeg.version == "9.0.2"
    assert ffmpeg.compiler == "gcc 16.2.0 (crosstool-NG 1.29.0.7_b1a94f6)"
    assert ffmpeg.configuration.startswith("--prefix=/ffbuild/prefix ")
    assert "--enable-libx264" in ffmpeg.configuration
    assert [lib.name for lib in ffmpeg.libraries] == [
        "libavutil",
        "libavcodec",
        "libavformat",
        "libavdevice",
        "libavfilter",
        "libswscale",
        "libswresample",
    ]


def test_library_versions_keep_ffmpegs_padding() -> None:
    libavcodec = parse_version(captured("version")).libraries[1]

    assert libavcodec == SkillsLibrary(
        name="libavcodec", compiled="63.  1.102", linked="63.  1.102"
    )


# --------------------------------------------------------------------------- -filters


@pytest.mark.parametrize(
    "line",
    [
        " T.. alphamerge        VV->V      Copy the luma value.",  # ffmpeg < 8: TSC columns
        " .. scale             V->V       Copy the luma value.",  # ffmpeg >= 8: TS columns
    ],
)
def test_filter_line_with_two_or_three_flag_columns(line: str) -> None:
    assert len(parse_filters(line)) == 1
    assert parse_filters(line)[0].name == "Copy the luma value."


def test_filter_id_is_the_name_and_name_the_description() -> None:
    filters = parse_filters(captured("filters"))

    assert by_id(filters, "scale") == SkillsFilter(
        id="scale", name="Scale the input video size and/or convert the image format."
    )


def test_source_filters_are_listed() -> None:
    filters = parse_filters(captured("filters"))

    assert by_id(filters, "testsrc").name == "Generate test pattern."
    assert by_id(filters, "anullsrc").name.startswith("Null audio source")


def test_filter_legend_lines_are_not_filters() -> None:
    ids = {item.id for item in parse_filters(captured("filters"))}

    assert "=" not in ids
    assert len(ids) == captured("filters").count("->")


# --------------------------------------------------------------------------- -hwaccels


def test_hwaccels_are_the_words_after_the_header() -> None:
    assert parse_hwaccels(captured("hwaccels")) == [
        SkillsHWAccel(id=name, name=name)
        for name in ("cuda", "vaapi", "qsv", "drm", "opencl", "vulkan", "amf")
    ]


def test_hwaccels_before_the_header_or_with_spaces_are_ignored() -> None:
    text = "cuda\nHardware acceleration methods:\nvideotoolbox\n  indented\n\n"

    assert parse_hwaccels(text) == [SkillsHWAccel(id="videotoolbox", name="videotoolbox")]


# --------------------------------------------------------------------------- -codecs


def test_codec_h264_lists_its_encoders_and_decoders() -> None:
    h264 = by_id(parse_codecs(captured("codecs")).video, "h264")

    assert h264.name == "H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10"
    assert h264.encoders is not None
    assert h264.encoders[:2] == ["libx264", "libx264rgb"]
    assert h264.decoders is not None
    assert h264.decoders[0] == "h264"


CORE_CODECS = (
    " DEAIL. aac                  AAC (Advanced Audio Coding) "
    "(decoders: aac aac_fixed aac_at ) (encoders: aac aac_at )\n"
    "\tDEVI.S y41p                 Uncompressed YUV 4:1:1 12-bit\n"
    "\tDEV.L. flv1                 FLV / Sorenson Spark / Sorenson H.263 (Flash Video) "
    "(decoders: flv ) (encoders: flv )\n"
)


def test_codecs_from_cores_test_data() -> None:
    assert parse_codecs(CORE_CODECS) == SkillsCodecs(
        audio=[
            SkillsCodec(
                id="aac",
                name="AAC (Advanced Audio Coding)",
                encoders=["aac", "aac_at"],
                decoders=["aac", "aac_fixed", "aac_at"],
            )
        ],
        video=[
            SkillsCodec(
                id="y41p",
                name="Uncompressed YUV 4:1:1 12-bit",
                encoders=["y41p"],
                decoders=["y41p"],
            ),
            SkillsCodec(
                id="flv1",
                name="FLV / Sorenson Spark / Sorenson H.263 (Flash Video)",
                encoders=["flv"],
                decoders=["flv"],
            ),
        ],
    )


def test_codec_without_suffix_is_implemented_by_its_own_name() -> None:
    mov_text = by_id(parse_codecs(captured("codecs")).subtitle, "mov_text")

    assert mov_text == SkillsCodec(
        id="mov_text", name="MOV text", encoders=["mov_text"], decoders=["mov_text"]
    )


def test_codec_that_cannot_encode_has_null_encoders_like_core() -> None:
    eia_608 = by_id(parse_codecs(captured("codecs")).subtitle, "eia_608")

    assert eia_608.encoders is None
    assert eia_608.decoders == ["cc_dec"]
    assert eia_608.model_dump()["encoders"] is None


def test_codec_that_cannot_decode_has_null_decoders() -> None:
    a64 = by_id(parse_codecs(captured("codecs")).video, "a64_multi5")

    assert a64.name == "Multicolor charset for Commodore 64, extended with 5th color (colram)"
    assert a64.decoders is None
    assert a64.encoders == ["a64multi5"]


def test_data_and_attachment_codecs_and_legend_are_dropped() -> None:
    codecs = parse_codecs(captured("codecs"))
    listed = [line for line in captured("codecs").splitlines() if line[3:4] in "VAS"]
    legend = 3  # " ..V... = Video codec" etc.
    dotted = 1  # acelp.kelvin, see below

    parsed = len(codecs.video) + len(codecs.audio) + len(codecs.subtitle)
    assert parsed == len(listed) - legend - dotted


def test_codec_with_a_dot_in_its_id_is_dropped_like_core() -> None:
    # Core's id pattern is [0-9A-Za-z_]+, so "acelp.kelvin" never reaches its skills.
    audio = parse_codecs(captured("codecs")).audio

    assert [c for c in audio if c.id.startswith("acelp")] == []


# --------------------------------------------------------------------------- -formats


def test_format_hls_is_a_demuxer_and_a_muxer() -> None:
    formats = parse_formats(captured("formats"))

    hls = SkillsFormat(id="hls", name="Apple HTTP Live Streaming")
    assert by_id(formats.demuxers, "hls") == hls
    assert by_id(formats.muxers, "hls") == hls


def test_format_id_is_the_first_of_a_comma_list() -> None:
    formats = parse_formats(captured("formats"))

    assert by_id(formats.demuxers, "mov").name == "QuickTime / MOV"
    assert by_id(formats.muxers, "mp4").name == "MP4 (MPEG-4 Part 14)"
    assert [f for f in formats.muxers if f.id == "mov"] != []


def test_device_entries_of_formats_are_left_to_devices() -> None:
    formats = parse_formats(captured("formats"))
    ids = {f.id for f in formats.demuxers + formats.muxers}

    assert ids.isdisjoint({"lavfi", "fbdev", "x11grab", "xv", "video4linux2"})


CORE_FORMATS_PRE7 = (
    " DE mpeg            MPEG-1 Systems / MPEG program stream\n"
    "  E mpeg1video      raw MPEG-1 video\n"
    " D  mpegtsraw       raw MPEG-TS (MPEG-2 Transport Stream)\n"
    " D  lavfi           Libavfilter virtual input device\n"
)
CORE_FORMATS_7 = (
    " DE  mpeg            MPEG-1 Systems / MPEG program stream\n"
    "  E  mpeg1video      raw MPEG-1 video\n"
    " D   mpegtsraw       raw MPEG-TS (MPEG-2 Transport Stream)\n"
    " D d lavfi           Libavfilter virtual input device\n"
)


@pytest.mark.parametrize(
    ("text", "demuxers"),
    [
        (CORE_FORMATS_PRE7, ["mpeg", "mpegtsraw", "lavfi"]),  # no device column before 7
        (CORE_FORMATS_7, ["mpeg", "mpegtsraw"]),
    ],
)
def test_formats_with_and_without_the_device_column(text: str, demuxers: list[str]) -> None:
    formats = parse_formats(text)

    assert [f.id for f in formats.demuxers] == demuxers
    assert formats.muxers == [
        SkillsFormat(id="mpeg", name="MPEG-1 Systems / MPEG program stream"),
        SkillsFormat(id="mpeg1video", name="raw MPEG-1 video"),
    ]


# --------------------------------------------------------------------------- -devices


def test_devices_split_into_demuxers_and_muxers_with_empty_device_lists() -> None:
    devices = parse_devices(captured("devices"))

    assert [d.id for d in devices.demuxers] == [
        "fbdev", "kmsgrab", "lavfi", "openal", "oss", "pulse", "video4linux2", "x11grab",
    ]  # fmt: skip
    assert [d.id for d in devices.muxers] == ["fbdev", "oss", "pulse", "video4linux2", "xv"]
    assert by_id(devices.muxers, "xv") == SkillsDevice(
        id="xv", name="XV (XVideo) output device", devices=[]
    )


def test_device_id_is_the_first_of_a_comma_list() -> None:
    devices = parse_devices(captured("devices"))

    assert by_id(devices.demuxers, "video4linux2").name == "Video4Linux2 output device"


# --------------------------------------------------------------------------- -protocols


def test_protocol_http_is_input_and_output() -> None:
    protocols = parse_protocols(captured("protocols"))

    http = SkillsProtocol(id="http", name="http")
    assert by_id(protocols.input, "http") == http
    assert by_id(protocols.output, "http") == http


def test_protocols_from_cores_test_data() -> None:
    text = "Supported file protocols:\nInput:\n\tasync\n\tbluray\nOutput:\n\tcrypto\n\n"

    assert parse_protocols(text) == SkillsProtocols(
        input=[
            SkillsProtocol(id="async", name="async"),
            SkillsProtocol(id="bluray", name="bluray"),
        ],
        output=[SkillsProtocol(id="crypto", name="crypto")],
    )


def test_protocol_lists_of_the_bundled_ffmpeg_are_complete() -> None:
    protocols = parse_protocols(captured("protocols"))

    assert {"file", "rtmp", "srt", "pipe", "tcp", "udp"} <= {p.id for p in protocols.input}
    assert {"file", "rtmp", "srt", "pipe", "tcp", "udp"} <= {p.id for p in protocols.output}
    assert "" not in {p.id for p in protocols.input + protocols.output}


# --------------------------------------------------------------------------- wire shape


def test_empty_skills_have_every_key_of_the_wire_shape() -> None:
    assert Skills().model_dump() == {
        "ffmpeg": {"version": "", "compiler": "", "configuration": "", "libraries": []},
        "filter": [],
        "hwaccels": [],
        "codecs": {"audio": [], "video": [], "subtitle": []},
        "devices": {"demuxers": [], "muxers": []},
        "formats": {"demuxers": [], "muxers": []},
        "protocols": {"input": [], "output": []},
    }


def test_skills_round_trip_through_json() -> None:
    skills = Skills(
        ffmpeg=parse_version(captured("version")),
        filter=parse_filters(captured("filters")),
        codecs=parse_codecs(captured("codecs")),
        devices=SkillsDevices(demuxers=[SkillsDevice(id="lavfi", name="Libavfilter")]),
        formats=SkillsFormats(demuxers=[SkillsFormat(id="hls", name="HLS")]),
    )

    assert Skills.model_validate_json(skills.model_dump_json()) == skills
