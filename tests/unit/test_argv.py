"""The ffmpeg argument vector (spec §9.1, §9.5)."""

from __future__ import annotations

import pytest

from ffmpeg_operator.core.argv import (
    compile_argv,
    probe_argv,
    stderr_shows_stream_dump,
    supervisor_flags,
)
from ffmpeg_operator.core.models import ProcessConfig
from specdata import FIXTURE_F

TWO_BY_TWO = ProcessConfig.model_validate(
    {
        "id": "p",
        "options": ["-err_detect", "ignore_err", "-y"],
        "input": [
            {"id": "a", "address": "my file.mp4", "options": ["-re"]},
            {"id": "b", "address": "anullsrc", "options": ["-f", "lavfi"]},
        ],
        "output": [
            {"id": "x", "address": "[f=flv]rtmp://h/a|[f=mpegts]udp://h:1/", "options": []},
            {"id": "y", "address": "-", "options": ["-f", "null"]},
        ],
    }
)


def test_fixture_f_compiles_to_core_command() -> None:
    assert compile_argv(ProcessConfig.model_validate(FIXTURE_F)) == [
        "-f",
        "lavfi",
        "-re",
        "-i",
        "testsrc=size=1280x720:rate=25",
        "-codec:v",
        "copy",
        "-f",
        "null",
        "-",
    ]


def test_global_options_then_inputs_then_outputs_in_order() -> None:
    assert compile_argv(TWO_BY_TWO) == [
        "-err_detect",
        "ignore_err",
        "-y",
        "-re",
        "-i",
        "my file.mp4",
        "-f",
        "lavfi",
        "-i",
        "anullsrc",
        "[f=flv]rtmp://h/a|[f=mpegts]udp://h:1/",
        "-f",
        "null",
        "-",
    ]


def test_options_and_addresses_are_passed_literally_one_element_each() -> None:
    config = ProcessConfig.model_validate(
        {
            "id": "p",
            "input": [{"id": "i", "address": " a b ", "options": ["-vf", "drawtext=text='a b'"]}],
            "output": [{"id": "o", "address": "$(rm -rf /)"}],
        }
    )
    assert compile_argv(config) == ["-vf", "drawtext=text='a b'", "-i", " a b ", "$(rm -rf /)"]


def test_probe_has_global_options_and_inputs_but_no_outputs() -> None:
    assert probe_argv(TWO_BY_TWO) == [
        "-err_detect",
        "ignore_err",
        "-y",
        "-re",
        "-i",
        "my file.mp4",
        "-f",
        "lavfi",
        "-i",
        "anullsrc",
    ]


def test_compiling_does_not_change_the_config() -> None:
    before = TWO_BY_TWO.model_dump()
    compile_argv(TWO_BY_TWO).append("extra")
    probe_argv(TWO_BY_TWO).append("extra")
    assert TWO_BY_TWO.model_dump() == before


def test_supervisor_flags_report_progress_without_stdin() -> None:
    assert supervisor_flags("tcp://127.0.0.1:9000") == [
        "-nostdin",
        "-progress",
        "tcp://127.0.0.1:9000",
    ]


@pytest.mark.parametrize(("period", "text"), [(0.5, "0.5"), (1.0, "1"), (2, "2")])
def test_supervisor_flags_add_stats_period_only_when_given(period: float, text: str) -> None:
    assert supervisor_flags("pipe:1", stats_period=period)[-2:] == ["-stats_period", text]


def test_supervisor_flags_are_not_part_of_the_command() -> None:
    command = compile_argv(ProcessConfig.model_validate(FIXTURE_F))
    assert "-progress" not in command
    assert "-nostdin" not in command


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["-loglevel", "info"],
        ["-v", "verbose"],
        ["-loglevel", "repeat+level+debug"],
        ["-loglevel", "40"],
        ["-loglevel", "info", "-i", "in", "-v", "trace", "out"],
    ],
)
def test_stderr_shows_the_stream_dump_at_info_and_above(argv: list[str]) -> None:
    assert stderr_shows_stream_dump(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["-loglevel", "error"],
        ["-v", "quiet"],
        ["-loglevel", "24"],
        ["-loglevel", "repeat+warning"],
        ["-loglevel", "info", "-i", "in", "-loglevel", "error", "out"],
        ["-loglevel", "+repeat"],  # flags only: the level ffmpeg keeps is not read here
        ["-loglevel", "loud"],
    ],
)
def test_stderr_hides_the_stream_dump_below_info_or_when_unclear(argv: list[str]) -> None:
    assert not stderr_shows_stream_dump(argv)
