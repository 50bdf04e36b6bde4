"""The process config speaks datarhei JSON and the CRD spelling (design §2, spec §2)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ffmpeg_operator.core.models import (
    DATARHEI_NUMBERS,
    Cleanup,
    Limits,
    ProbeIO,
    ProcessConfig,
    ProcessConfigIO,
    ProcessState,
    Progress,
    ProgressIO,
)
from ffmpeg_operator.core.numbers import FormattedNumber, format_rule_a, format_rule_b
from specdata import FIXTURE_F


def test_config_defaults_match_datarhei() -> None:
    config = ProcessConfig.model_validate({"input": [], "output": []})
    assert config.model_dump() == {
        "id": "",
        "type": "ffmpeg",
        "reference": "",
        "input": [],
        "output": [],
        "options": [],
        "reconnect": False,
        "reconnect_delay_seconds": 0,
        "autostart": True,
        "stale_timeout_seconds": 0,
        "limits": {"cpu_usage": 0, "memory_mbytes": 0, "waitfor_seconds": 0},
    }


def test_config_fields_serialise_in_cores_order() -> None:
    keys = list(ProcessConfig.model_validate(FIXTURE_F).model_dump())
    assert keys == [
        "id",
        "type",
        "reference",
        "input",
        "output",
        "options",
        "reconnect",
        "reconnect_delay_seconds",
        "autostart",
        "stale_timeout_seconds",
        "limits",
    ]


def test_empty_cleanup_is_omitted_so_inputs_never_show_it() -> None:
    dumped = ProcessConfig.model_validate(FIXTURE_F).model_dump()
    assert "cleanup" not in dumped["input"][0]
    assert "cleanup" not in dumped["output"][0]


def test_non_empty_cleanup_is_kept() -> None:
    io = ProcessConfigIO(id="o", address="-", cleanup=[Cleanup(pattern="memfs:/a*", max_files=3)])
    assert io.model_dump()["cleanup"] == [
        {
            "pattern": "memfs:/a*",
            "max_files": 3,
            "max_file_age_seconds": 0,
            "purge_on_delete": False,
        }
    ]


def test_whole_cpu_limit_prints_without_decimals_like_go() -> None:
    assert json.dumps(Limits(cpu_usage=10.0).model_dump()["cpu_usage"]) == "10"
    assert Limits(cpu_usage=12.5).model_dump()["cpu_usage"] == 12.5


def test_python_client_nulls_mean_defaults() -> None:
    body = dict(FIXTURE_F, limits=None, scheduler=None, binary=None, metadata=None, domain=None)
    body["input"] = [dict(FIXTURE_F["input"][0], options=None, cleanup=None)]
    config = ProcessConfig.model_validate(body)
    assert config.limits == Limits()
    assert config.input[0].options == []


def test_unknown_keys_are_ignored() -> None:
    config = ProcessConfig.model_validate(dict(FIXTURE_F, log_patterns=["x"], owner="me"))
    assert "owner" not in config.model_dump()


@pytest.mark.parametrize("value", [-1, 1.5, "23", True])
def test_uint_fields_reject_negatives_fractions_strings_and_bools(value: Any) -> None:
    with pytest.raises(ValueError):
        Cleanup.model_validate({"pattern": "x", "max_files": value})


def test_crd_spelling_is_camel_case() -> None:
    config = ProcessConfig.model_validate(
        dict(
            FIXTURE_F,
            limits={"cpu_usage": 50, "memory_mbytes": 128, "waitfor_seconds": 5},
            output=[
                {
                    "id": "o",
                    "address": "-",
                    "cleanup": [
                        {
                            "pattern": "diskfs:/x",
                            "max_file_age_seconds": 60,
                            "purge_on_delete": True,
                        }
                    ],
                }
            ],
        )
    )
    cr = config.model_dump(by_alias=True)
    assert cr["reconnectDelaySeconds"] == 10
    assert cr["staleTimeoutSeconds"] == 10
    assert cr["limits"] == {"cpuUsage": 50, "memoryMbytes": 128, "waitforSeconds": 5}
    assert cr["output"][0]["cleanup"][0] == {
        "pattern": "diskfs:/x",
        "maxFiles": 0,
        "maxFileAgeSeconds": 60,
        "purgeOnDelete": True,
    }


def test_crd_spelling_is_accepted_on_input() -> None:
    config = ProcessConfig.model_validate(
        {"id": "x", "reconnectDelaySeconds": 3, "input": [], "output": []}
    )
    assert config.reconnect_delay_seconds == 3


_text = st.text(max_size=12)
_uint = st.integers(min_value=0, max_value=2**31)
_cleanups = st.builds(
    Cleanup,
    pattern=_text,
    max_files=_uint,
    max_file_age_seconds=_uint,
    purge_on_delete=st.booleans(),
)
_ios = st.builds(
    ProcessConfigIO,
    id=_text,
    address=_text,
    options=st.lists(_text, max_size=4),
    cleanup=st.lists(_cleanups, max_size=2),
)
_configs = st.builds(
    ProcessConfig,
    id=_text,
    reference=_text,
    input=st.lists(_ios, max_size=3),
    output=st.lists(_ios, max_size=3),
    options=st.lists(_text, max_size=4),
    reconnect=st.booleans(),
    reconnect_delay_seconds=_uint,
    autostart=st.booleans(),
    stale_timeout_seconds=_uint,
    limits=st.builds(
        Limits,
        cpu_usage=st.floats(min_value=0, max_value=100, allow_nan=False),
        memory_mbytes=_uint,
        waitfor_seconds=_uint,
    ),
)


@given(_configs)
def test_api_json_to_cr_to_api_json_is_the_identity(config: ProcessConfig) -> None:
    api_json = json.loads(json.dumps(config.model_dump()))
    cr_spec = json.loads(
        json.dumps(ProcessConfig.model_validate(api_json).model_dump(by_alias=True))
    )
    assert ProcessConfig.model_validate(cr_spec).model_dump() == api_json


@pytest.mark.parametrize(
    ("value", "rule_a", "rule_b"),
    [
        (0.0, "0", "0.000"),
        (25.0, "25", "25.000"),
        (0.999, "0.999", "0.999"),
        (19.4, "19.400", "19.400"),
        (float("nan"), "0", "0.000"),
    ],
)
def test_number_rules_a_and_b(value: float, rule_a: str, rule_b: str) -> None:
    assert format_rule_a(value) == rule_a
    assert format_rule_b(value) == rule_b


def test_state_numbers_are_formatted_only_for_the_wire() -> None:
    state = ProcessState(cpu_usage=12.0, progress=Progress(fps=24.95, speed=1.0))
    plain = state.model_dump()
    wire = state.model_dump(context={DATARHEI_NUMBERS: True})
    assert plain["cpu_usage"] == 12.0
    assert wire["cpu_usage"] == FormattedNumber("12")
    assert wire["progress"]["fps"] == FormattedNumber("24.950")
    assert wire["progress"]["speed"] == FormattedNumber("1")


def test_per_stream_numbers_use_rule_b() -> None:
    wire = ProgressIO(fps=25.0).model_dump(context={DATARHEI_NUMBERS: True})
    assert wire["fps"] == FormattedNumber("25.000")
    assert wire["framerate"]["avg"] == FormattedNumber("0.000")


def test_per_stream_media_fields_are_omitted_when_empty() -> None:
    audio = ProgressIO(type="audio", sampling_hz=44100, layout="stereo").model_dump()
    assert "pix_fmt" not in audio and "width" not in audio and "height" not in audio
    assert audio["sampling_hz"] == 44100
    assert "q" in audio


def test_probe_io_always_has_every_key() -> None:
    keys = set(ProbeIO().model_dump())
    assert keys == {
        "url",
        "format",
        "index",
        "stream",
        "language",
        "type",
        "codec",
        "coder",
        "bitrate_kbps",
        "duration_sec",
        "fps",
        "pix_fmt",
        "width",
        "height",
        "sampling_hz",
        "layout",
        "channels",
    }
    assert ProbeIO().language == "und"
