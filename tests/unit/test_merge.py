"""PUT bodies are decoded on top of the stored config with Go's merge semantics (spec §3.3)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ffmpeg_operator.core.errors import DecodeError
from ffmpeg_operator.core.gojson import bind_process_config, decode_into
from ffmpeg_operator.core.models import (
    Cleanup,
    Limits,
    ProcessConfig,
    ProcessConfigIO,
)

#: The stored process of the §3.3 examples: fixture F with a second input.
STORED = ProcessConfig(
    id="test",
    input=[
        ProcessConfigIO(id="video", address="testsrc", options=["-f", "lavfi", "-re"]),
        ProcessConfigIO(id="audio", address="anullsrc", options=["-f", "lavfi"]),
    ],
    output=[
        ProcessConfigIO(
            id="null",
            address="-",
            options=["-codec:v", "copy", "-f", "null"],
            cleanup=[
                Cleanup(pattern="memfs:/a_*.ts", max_files=3, purge_on_delete=True),
                Cleanup(pattern="memfs:/b_*.ts", max_file_age_seconds=60),
            ],
        )
    ],
    options=["-loglevel", "info"],
    reconnect=True,
    reconnect_delay_seconds=10,
    autostart=False,
    stale_timeout_seconds=10,
    limits=Limits(cpu_usage=50.0, memory_mbytes=128, waitfor_seconds=5),
)


def _put(body: dict[str, Any] | str) -> ProcessConfig:
    text = body if isinstance(body, str) else json.dumps(body)
    return bind_process_config(text, STORED)


def _required(field: str) -> str:
    return (
        f"Key: 'ProcessConfig.{field}' Error:Field validation for '{field}' "
        "failed on the 'required' tag"
    )


# --------------------------------------------------------------------------- absent keys


def test_case22_partial_update_keeps_absent_keys() -> None:
    updated = _put({"reconnect": False})
    assert updated.reconnect is False
    assert updated.model_copy(update={"reconnect": True}) == STORED


def test_empty_object_changes_nothing() -> None:
    assert _put({}) == STORED


def test_case17_put_of_the_whole_config_replaces_it() -> None:
    body = STORED.model_dump()
    body["reference"] = "new"
    assert _put(body) == STORED.model_copy(update={"reference": "new"})


def test_case18_different_id_in_the_body_renames() -> None:
    assert _put({"id": "test2"}).id == "test2"


def test_autostart_in_the_body_is_stored() -> None:
    assert _put({"autostart": True}).autostart is True


def test_type_is_ffmpeg_after_put_even_when_sent_empty() -> None:
    assert _put({"type": ""}).type == "ffmpeg"


def test_unknown_type_on_put_fails_the_oneof_tag() -> None:
    with pytest.raises(DecodeError, match=r"'Type' failed on the 'oneof' tag$"):
        _put({"type": "foobar"})


# --------------------------------------------------------------------------- limits


def test_limits_merge_field_wise() -> None:
    assert _put({"limits": {"cpu_usage": 10}}).limits == Limits(
        cpu_usage=10.0, memory_mbytes=128, waitfor_seconds=5
    )


def test_null_limits_is_a_no_op() -> None:
    assert _put({"limits": None}).limits == STORED.limits


def test_null_scalar_keeps_the_stored_value() -> None:
    updated = _put({"reconnect_delay_seconds": None, "reference": None, "reconnect": None})
    assert updated == STORED


# --------------------------------------------------------------------------- arrays


def test_case23_array_element_merges_into_the_element_at_the_same_index() -> None:
    # The exact example of §3.3: the second input is dropped, the first keeps id and options.
    updated = _put({"input": [{"address": "foo"}]})
    assert updated.input == [
        ProcessConfigIO(id="video", address="foo", options=["-f", "lavfi", "-re"])
    ]


def test_longer_array_appends_zero_elements_with_generated_ids() -> None:
    updated = _put({"input": [{}, {}, {"address": "third"}]})
    assert updated.input[:2] == STORED.input
    assert updated.input[2].address == "third"
    assert updated.input[2].options == []
    assert len(updated.input[2].id) == 22


def test_array_elements_merge_by_position_not_by_id() -> None:
    updated = _put({"input": [{"id": "audio"}, {"id": "video"}]})
    assert [io.id for io in updated.input] == ["audio", "video"]
    assert [io.address for io in updated.input] == ["testsrc", "anullsrc"]


def test_rename_of_an_io_via_its_id() -> None:
    updated = _put({"output": [{"id": "renamed"}]})
    assert updated.output[0] == STORED.output[0].model_copy(update={"id": "renamed"})


def test_null_element_keeps_the_element_at_that_index() -> None:
    assert _put({"input": [None]}).input == STORED.input[:1]


def test_empty_options_array_clears_options() -> None:
    assert _put({"input": [{"options": []}]}).input[0].options == []


def test_null_options_clears_options() -> None:
    assert _put({"input": [{"options": None}]}).input[0].options == []


def test_null_top_level_options_clears_them() -> None:
    assert _put({"options": None}).options == []


def test_shorter_string_array_replaces_by_position() -> None:
    assert _put({"options": ["-y"]}).options == ["-y"]


def test_cleanup_arrays_merge_inside_merged_outputs() -> None:
    updated = _put({"output": [{"cleanup": [{"max_files": 7}]}]})
    assert updated.output[0].cleanup == [
        Cleanup(pattern="memfs:/a_*.ts", max_files=7, purge_on_delete=True)
    ]
    assert updated.output[0].options == STORED.output[0].options


def test_empty_cleanup_array_clears_cleanup() -> None:
    assert _put({"output": [{"cleanup": []}]}).output[0].cleanup == []


def test_duplicate_array_keys_merge_in_order() -> None:
    updated = _put('{"input":[{"address":"a"},{}],"input":[{"options":[]}]}')
    assert updated.input == [ProcessConfigIO(id="video", address="a")]


@pytest.mark.parametrize(("field", "go_field"), [("input", "Input"), ("output", "Output")])
def test_null_input_or_output_on_put_fails_the_required_tag(field: str, go_field: str) -> None:
    # JSON null makes the slice nil, which go-playground's required tag rejects.
    with pytest.raises(DecodeError) as caught:
        _put({field: None})
    assert str(caught.value) == _required(go_field)


@pytest.mark.parametrize("field", ["input", "output"])
def test_empty_input_or_output_on_put_passes_binding(field: str) -> None:
    # [] is a non-nil slice: the 400 "Process can't be updated" comes from process validation.
    assert getattr(_put({field: []}), field) == []


def test_type_error_on_put_keeps_nothing() -> None:
    with pytest.raises(DecodeError, match=r"'limits\.waitfor_seconds'"):
        _put({"reference": "x", "limits": {"waitfor_seconds": -1}})


def test_current_is_not_modified() -> None:
    snapshot = STORED.model_copy(deep=True)
    _put({"input": [{"options": ["-x"]}], "limits": {"cpu_usage": 1}})
    assert snapshot == STORED


def test_decode_into_uses_stored_dump_as_prefill() -> None:
    decoded = decode_into(ProcessConfig, '{"input":[{"address":"foo"}]}', STORED.model_dump())
    assert decoded["input"] == [
        {"id": "video", "address": "foo", "options": ["-f", "lavfi", "-re"], "cleanup": []}
    ]
    assert decoded["limits"] == {"cpu_usage": 50.0, "memory_mbytes": 128, "waitfor_seconds": 5}


# --------------------------------------------------------------------------- round trip

_UINT = st.integers(min_value=0, max_value=2**64 - 1)
_TEXT = st.text(max_size=12)
_CLEANUP = st.builds(
    Cleanup,
    pattern=_TEXT,
    max_files=_UINT,
    max_file_age_seconds=_UINT,
    purge_on_delete=st.booleans(),
)


def _ios(with_cleanup: bool) -> st.SearchStrategy[list[ProcessConfigIO]]:
    return st.lists(
        st.builds(
            ProcessConfigIO,
            id=_TEXT,
            address=_TEXT,
            options=st.lists(_TEXT, max_size=4),
            cleanup=st.lists(_CLEANUP, max_size=2) if with_cleanup else st.just([]),
        ),
        max_size=3,
    )


_CONFIGS = st.builds(
    ProcessConfig,
    id=_TEXT,
    type=st.sampled_from(["ffmpeg", ""]),
    reference=_TEXT,
    input=_ios(with_cleanup=False),
    output=_ios(with_cleanup=True),
    options=st.lists(_TEXT, max_size=4),
    reconnect=st.booleans(),
    reconnect_delay_seconds=_UINT,
    autostart=st.booleans(),
    stale_timeout_seconds=_UINT,
    limits=st.builds(
        Limits,
        cpu_usage=st.floats(allow_nan=False, allow_infinity=False),
        memory_mbytes=_UINT,
        waitfor_seconds=_UINT,
    ),
)


@settings(max_examples=150)
@given(config=_CONFIGS, ascii_only=st.booleans())
def test_decoding_a_dumped_config_onto_defaults_gives_it_back(
    config: ProcessConfig, ascii_only: bool
) -> None:
    body = json.dumps(config.model_dump(), ensure_ascii=ascii_only).encode()
    assert ProcessConfig.model_validate(decode_into(ProcessConfig, body)) == config


@settings(max_examples=50)
@given(config=_CONFIGS)
def test_upper_case_keys_decode_the_same(config: ProcessConfig) -> None:
    def upper(value: Any) -> Any:
        if isinstance(value, dict):
            return {key.upper(): upper(item) for key, item in value.items()}
        if isinstance(value, list):
            return [upper(item) for item in value]
        return value

    body = json.dumps(upper(config.model_dump()))
    assert ProcessConfig.model_validate(decode_into(ProcessConfig, body)) == config
