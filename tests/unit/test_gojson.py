"""Request bodies are bound the way Core's Go code binds them (spec §1.2, §2.1, §2.7, §3.2)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from ffmpeg_operator.core.errors import DecodeError
from ffmpeg_operator.core.gojson import (
    bind_command,
    bind_login,
    bind_process_config,
    check_request,
    decode_into,
    has_inputs_and_outputs,
    parse_json,
)
from ffmpeg_operator.core.ids import ALPHABET
from ffmpeg_operator.core.models import Command, Limits, ProcessConfig
from specdata import FIXTURE_F as F


def _f(**changes: Any) -> str:
    body = {**F, **changes}
    return json.dumps({key: value for key, value in body.items() if value is not _DROP})


_DROP = object()


def _decode_error(body: str | bytes) -> str:
    with pytest.raises(DecodeError) as caught:
        bind_process_config(body)
    return str(caught.value)


def _required(field: str, struct: str = "ProcessConfig", tag: str = "required") -> str:
    return f"Key: '{struct}.{field}' Error:Field validation for '{field}' failed on the '{tag}' tag"


# --------------------------------------------------------------------------- request checks


def test_empty_content_length_is_no_content() -> None:
    with pytest.raises(DecodeError, match=r"^request doesn't contain any content$"):
        check_request(0, "application/json")


def test_chunked_body_passes_the_length_check() -> None:
    check_request(None, "application/json")


@pytest.mark.parametrize(
    "content_type", ["text/plain", None, "", "Application/JSON", "application/jso"]
)
def test_content_type_not_starting_with_application_json_is_rejected(
    content_type: str | None,
) -> None:
    with pytest.raises(DecodeError, match=r"^request doesn't contain JSON content$"):
        check_request(20, content_type)


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "application/jsonx"]
)
def test_content_type_starting_with_application_json_is_accepted(content_type: str) -> None:
    check_request(20, content_type)


def test_length_is_checked_before_content_type() -> None:
    with pytest.raises(DecodeError, match="any content"):
        check_request(0, "text/plain")


# --------------------------------------------------------------------------- syntax errors


_BEGIN = "looking for beginning of value"


@pytest.mark.parametrize(
    ("body", "character", "message"),
    [
        (b'{"id": x}', 9, f"invalid character 'x' {_BEGIN}"),
        (b'{"id":"a",}', 11, "invalid character '}' looking for beginning of object key string"),
        (b'{"id" "a"}', 8, "invalid character '\"' after object key"),
        (b'{"id":"a" "b"}', 12, "invalid character '\"' after object key:value pair"),
        (b'{"input":[1 2]}', 14, "invalid character '2' after array element"),
        (b"{} x", 4, "invalid character 'x' after top-level value"),
        (b'{"id":"a', 8, "unexpected end of JSON input"),
        (b"", 0, "unexpected end of JSON input"),
        (b"   ", 3, "unexpected end of JSON input"),
        (b'{"id":"\\x"}', 10, "invalid character 'x' in string escape code"),
        (b'{"id":"\\u12G4"}', 13, "invalid character 'G' in \\u hexadecimal character escape"),
        (b'{"x":-a}', 8, "invalid character 'a' in numeric literal"),
        (b'{"x":1.e5}', 9, "invalid character 'e' after decimal point in numeric literal"),
        (b'{"x":1e+}', 9, "invalid character '}' in exponent of numeric literal"),
        (b'{"x":tru}', 9, "invalid character '}' in literal true (expecting 'e')"),
        (b'{"x":fals}', 10, "invalid character '}' in literal false (expecting 'e')"),
        (b'{"x":nul}', 9, "invalid character '}' in literal null (expecting 'l')"),
        (b'{"x":"a\tb"}', 9, "invalid character '\\t' in string literal"),
        (b"{'id':1}", 3, "invalid character '\\'' looking for beginning of object key string"),
        (b"\xef\xbb\xbf{}", 2, f"invalid character 'ï' {_BEGIN}"),
        (b"01", 2, "invalid character '1' after top-level value"),
        (b'{"a":01}', 8, "invalid character '1' after object key:value pair"),
        (b"[1,]", 4, f"invalid character ']' {_BEGIN}"),
        (b'{"a":\x00}', 7, f"invalid character '\\x00' {_BEGIN}"),
        (b'{"a":\x80}', 7, f"invalid character '\\u0080' {_BEGIN}"),
        (b'{"a":\\}', 7, f"invalid character '\\\\' {_BEGIN}"),
        (b'{"a":\x7f}', 7, f"invalid character '\\x7f' {_BEGIN}"),
        # Go completes a top-level number by feeding a space at the end.
        (b"1.", 2, "invalid character ' ' after decimal point in numeric literal"),
        (b"-", 1, "invalid character ' ' in numeric literal"),
    ],
)
def test_syntax_error_detail_is_gos_message_at_cores_position(
    body: bytes, character: int, message: str
) -> None:
    assert _decode_error(body) == f"syntax error at line 1, character {character}: {message}"


def test_syntax_error_position_counts_newlines_as_first_character_of_a_line() -> None:
    assert _decode_error(b'{\n "id": x}') == (
        f"syntax error at line 2, character 10: invalid character 'x' {_BEGIN}"
    )


def test_nesting_deeper_than_go_allows_is_a_syntax_error() -> None:
    body = "[" * 10001 + "]" * 10001
    with pytest.raises(DecodeError, match=r"character 10002: invalid character '\[' exceeded max"):
        parse_json(body)


def test_nesting_at_gos_limit_is_accepted() -> None:
    value = parse_json("[" * 10000 + "]" * 10000)
    for _ in range(9999):
        value = value[0]
    assert value == []


def test_syntax_error_wins_over_an_earlier_type_error() -> None:
    assert _decode_error('{"id":5,').startswith("syntax error at line 1, character 8")


# --------------------------------------------------------------------------- type errors


def _type_error(go_type: str, path: str, character: int, what: str, struct: str) -> str:
    return (
        f"expect type '{go_type}' for '{path}' at line 1, character {character}: "
        f"json: cannot unmarshal {what} into Go struct field {struct}.{path} of type {go_type}"
    )


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        # §12 case 9 and the spec's own example position.
        (
            '{"reconnect_delay_seconds":-1}',
            _type_error("uint64", "reconnect_delay_seconds", 30, "number -1", "ProcessConfig"),
        ),
        (
            '{"reconnect_delay_seconds":1.5}',
            _type_error("uint64", "reconnect_delay_seconds", 31, "number 1.5", "ProcessConfig"),
        ),
        (
            '{"reconnect_delay_seconds":"23"}',
            _type_error("uint64", "reconnect_delay_seconds", 32, "string", "ProcessConfig"),
        ),
        (
            '{"stale_timeout_seconds":1e3}',
            _type_error("uint64", "stale_timeout_seconds", 29, "number 1e3", "ProcessConfig"),
        ),
        (
            '{"stale_timeout_seconds":-0}',
            _type_error("uint64", "stale_timeout_seconds", 28, "number -0", "ProcessConfig"),
        ),
        (
            '{"stale_timeout_seconds":18446744073709551616}',
            _type_error(
                "uint64",
                "stale_timeout_seconds",
                46,
                "number 18446744073709551616",
                "ProcessConfig",
            ),
        ),
        (
            '{"limits":{"memory_mbytes":-1}}',
            _type_error("uint64", "limits.memory_mbytes", 30, "number -1", "ProcessConfigLimits"),
        ),
        (
            '{"limits":{"cpu_usage":"10"}}',
            _type_error("float64", "limits.cpu_usage", 28, "string", "ProcessConfigLimits"),
        ),
        (
            '{"limits":{"cpu_usage":1e400}}',
            _type_error("float64", "limits.cpu_usage", 29, "number 1e400", "ProcessConfigLimits"),
        ),
        # The doc example with string numbers in a cleanup rule (§2.1, §14); Go type is uint.
        (
            '{"output":[{"cleanup":[{"max_files":"23"}]}]}',
            _type_error("uint", "output.cleanup.max_files", 41, "string", "ProcessConfigIOCleanup"),
        ),
        (
            '{"output":[{},{"cleanup":[{"max_file_age_seconds":-5}]}]}',
            _type_error(
                "uint",
                "output.cleanup.max_file_age_seconds",
                53,
                "number -5",
                "ProcessConfigIOCleanup",
            ),
        ),
        ('{"id":5}', _type_error("string", "id", 8, "number", "ProcessConfig")),
        ('{"id":true}', _type_error("string", "id", 11, "bool", "ProcessConfig")),
        ('{"reconnect":"yes"}', _type_error("bool", "reconnect", 19, "string", "ProcessConfig")),
        ('{"reconnect":1}', _type_error("bool", "reconnect", 15, "number", "ProcessConfig")),
        ('{"options":"-re"}', _type_error("[]string", "options", 17, "string", "ProcessConfig")),
        ('{"options":[1]}', _type_error("string", "options", 14, "number", "ProcessConfig")),
        (
            '{"input":[{"options":[false]}]}',
            _type_error("string", "input.options", 28, "bool", "ProcessConfigIO"),
        ),
        # Containers are reported at the byte after their opening bracket.
        (
            '{"input":{}}',
            _type_error("[]api.ProcessConfigIO", "input", 11, "object", "ProcessConfig"),
        ),
        (
            '{"limits":[]}',
            _type_error("api.ProcessConfigLimits", "limits", 12, "array", "ProcessConfig"),
        ),
        ('{"id":{"a":1}}', _type_error("string", "id", 8, "object", "ProcessConfig")),
        (
            '{"input":[5]}',
            _type_error("api.ProcessConfigIO", "input", 12, "number", "ProcessConfig"),
        ),
        (
            '{"input":[{"cleanup":"x"}]}',
            _type_error(
                "[]api.ProcessConfigIOCleanup", "input.cleanup", 25, "string", "ProcessConfigIO"
            ),
        ),
        # Keys are reported by the field's JSON name, not as written.
        ('{"ID":5}', _type_error("string", "id", 8, "number", "ProcessConfig")),
    ],
)
def test_type_error_detail_names_go_type_field_and_position(body: str, detail: str) -> None:
    assert _decode_error(body) == detail


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            "[]",
            "expect type 'api.ProcessConfig' for '' at line 1, character 2: "
            "json: cannot unmarshal array into Go value of type api.ProcessConfig",
        ),
        (
            "5",
            "expect type 'api.ProcessConfig' for '' at line 1, character 1: "
            "json: cannot unmarshal number into Go value of type api.ProcessConfig",
        ),
        (
            '"x"',
            "expect type 'api.ProcessConfig' for '' at line 1, character 3: "
            "json: cannot unmarshal string into Go value of type api.ProcessConfig",
        ),
        (
            " true ",
            "expect type 'api.ProcessConfig' for '' at line 1, character 6: "
            "json: cannot unmarshal bool into Go value of type api.ProcessConfig",
        ),
    ],
)
def test_top_level_non_object_is_a_type_error_without_field(body: str, detail: str) -> None:
    assert _decode_error(body) == detail


def test_first_type_error_is_reported_when_there_are_several() -> None:
    detail = _decode_error('{"reconnect":"x","id":5}')
    assert detail.startswith("expect type 'bool' for 'reconnect'")


def test_type_error_position_counts_lines() -> None:
    detail = _decode_error('{\n  "id": 5}')
    assert "for 'id' at line 2, character 11:" in detail


def test_type_error_right_before_a_newline_is_placed_on_the_next_line() -> None:
    # Core reports the byte after the literal; when that is the newline it starts a new line.
    detail = _decode_error('{\n  "id": 5\n}')
    assert "for 'id' at line 3, character 1:" in detail


def test_uint64_maximum_is_accepted() -> None:
    config = bind_process_config(_f(stale_timeout_seconds=2**64 - 1))
    assert config.stale_timeout_seconds == 2**64 - 1


# --------------------------------------------------------------------------- key matching


def test_keys_match_fields_case_insensitively() -> None:
    body = json.dumps({"ID": "upper", "Input": F["input"], "OUTPUT": F["output"]})
    config = bind_process_config(body)
    assert config.id == "upper"
    assert config.input[0].id == "video"
    assert config.output[0].id == "null"


def test_case_insensitive_keys_reach_nested_fields() -> None:
    decoded = decode_into(ProcessConfig, '{"Limits":{"CPU_Usage":12.5,"WaitFor_Seconds":3}}')
    assert decoded["limits"] == {"cpu_usage": 12.5, "memory_mbytes": 0, "waitfor_seconds": 3}


def test_kelvin_sign_and_long_s_fold_like_go() -> None:
    # Go's simple case folding maps U+212A (KELVIN SIGN) to k and U+017F (LONG S) to s.
    class _Keep(BaseModel):
        keep: bool = False

    assert decode_into(_Keep, '{"\u212aeep":true}')["keep"] is True
    decoded = decode_into(ProcessConfig, '{"reconnect_delay_\u017feconds":7}')
    assert decoded["reconnect_delay_seconds"] == 7


def test_other_non_ascii_letters_do_not_fold() -> None:
    decoded = decode_into(ProcessConfig, '{"\u0130d":"x"}')  # LATIN CAPITAL I WITH DOT
    assert decoded["id"] == ""


def test_escaped_key_matches_its_decoded_name() -> None:
    assert decode_into(ProcessConfig, '{"\\u0069d":"escaped"}')["id"] == "escaped"


def test_unknown_keys_are_ignored_whatever_their_value() -> None:
    decoded = decode_into(ProcessConfig, '{"foo":{"id":5},"scheduler":[1,{"x":null}],"id":"a"}')
    assert decoded["id"] == "a"


def test_duplicate_keys_last_wins() -> None:
    assert decode_into(ProcessConfig, '{"id":"first","ID":"second"}')["id"] == "second"


def test_duplicate_object_keys_merge_in_order() -> None:
    decoded = decode_into(ProcessConfig, '{"limits":{"cpu_usage":1},"limits":{"memory_mbytes":2}}')
    assert decoded["limits"] == {"cpu_usage": 1.0, "memory_mbytes": 2, "waitfor_seconds": 0}


# --------------------------------------------------------------------------- null and strings


def test_null_leaves_scalars_and_structs_at_defaults_on_post() -> None:
    config = bind_process_config(
        _f(reference=None, reconnect=None, autostart=None, limits=None, id=None)
    )
    assert config.reference == ""
    assert config.reconnect is False
    assert config.autostart is True
    assert config.limits == Limits()
    assert len(config.id) == 22


def test_null_options_are_accepted_as_empty() -> None:
    assert bind_process_config(_f(options=None)).options == []


def test_string_escapes_decode_like_go() -> None:
    decoded = decode_into(
        ProcessConfig, '{"reference":"\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00"}'
    )
    assert decoded["reference"] == '"\\/\b\f\n\r\té😀'


@pytest.mark.parametrize(
    ("literal", "text"),
    [
        (b'"\\ud800x"', "\ufffdx"),  # unpaired high surrogate
        (b'"\\udc00"', "\ufffd"),  # lone low surrogate
        (b'"\\ud800\\u0041"', "\ufffdA"),  # high surrogate followed by a non-surrogate
        (b'"a\xffb"', "a\ufffdb"),  # invalid UTF-8 byte
        (b'"\xe2\x82"', "\ufffd\ufffd"),  # truncated sequence: one U+FFFD per byte, as Go
        (b'"\xc3\xa9"', "é"),
    ],
)
def test_invalid_text_becomes_replacement_characters(literal: bytes, text: str) -> None:
    assert parse_json(literal) == text


# --------------------------------------------------------------------------- parse_json


@pytest.mark.parametrize(
    ("body", "value"),
    [
        ('"1"', "1"),
        ("1", 1),
        ("-2.5e1", -25.0),
        ("[1]", [1]),
        ('{"1":1}', {"1": 1}),
        ("null", None),
        ("true", True),
        ("false", False),
        (' {"a": [ {"b": []}, {} ] } ', {"a": [{"b": []}, {}]}),
        ('{"a":1,"a":2}', {"a": 2}),
    ],
)
def test_parse_json_accepts_any_value(body: str, value: Any) -> None:
    assert parse_json(body) == value


def test_parse_json_reports_syntax_errors() -> None:
    with pytest.raises(DecodeError, match=r"^syntax error at line 1, character 2: invalid"):
        parse_json(b"{]")


# --------------------------------------------------------------------------- POST binding (§3.2)


def test_case1_fixture_binds_with_core_defaults() -> None:
    config = bind_process_config(_f())
    assert config.id == "test"
    assert config.type == "ffmpeg"
    assert config.reference == ""
    assert config.limits == Limits()
    zero_limits = {"cpu_usage": 0, "memory_mbytes": 0, "waitfor_seconds": 0}
    assert config.model_dump()["limits"] == zero_limits
    assert all("cleanup" not in io for io in config.model_dump()["output"])
    assert config.input[0].options == ["-f", "lavfi", "-re"]
    assert config.reconnect_delay_seconds == 10


def test_case2_missing_type_defaults_to_ffmpeg() -> None:
    assert bind_process_config(_f(type=_DROP)).type == "ffmpeg"


def test_case3_unknown_type_fails_the_oneof_tag() -> None:
    assert _decode_error(_f(type="foobar")) == _required("Type", tag="oneof")


def test_case3_empty_type_passes_binding_for_the_api_to_reject() -> None:
    assert bind_process_config(_f(type="")).type == ""


def test_type_is_case_sensitive() -> None:
    assert _decode_error(_f(type="FFmpeg")) == _required("Type", tag="oneof")


def test_case5_missing_id_is_generated() -> None:
    config = bind_process_config(_f(id=_DROP))
    assert len(config.id) == 22
    assert set(config.id) <= set(ALPHABET)


def test_case5_missing_io_ids_are_generated_and_distinct() -> None:
    body = _f(
        input=[{"address": "a"}, {"address": "b", "id": ""}],
        output=[{"address": "c"}, {"address": "d"}],
    )
    config = bind_process_config(body)
    ids = [io.id for io in config.input + config.output]
    assert all(len(generated) == 22 for generated in ids)
    assert len(set(ids)) == 4


def test_whitespace_only_id_is_kept_for_validation_to_reject() -> None:
    # §12 case 7: the 400 comes from process validation, not from binding.
    assert bind_process_config(_f(id="  ")).id == "  "


def test_explicit_empty_id_overrides_the_generated_one() -> None:
    assert bind_process_config(_f(id="")).id == ""


@pytest.mark.parametrize("field", ["input", "output"])
def test_case6_empty_array_passes_binding_but_has_no_inputs_and_outputs(field: str) -> None:
    config = bind_process_config(_f(**{field: []}))
    assert getattr(config, field) == []
    assert not has_inputs_and_outputs(config)


def test_fixture_has_inputs_and_outputs() -> None:
    assert has_inputs_and_outputs(bind_process_config(_f()))


@pytest.mark.parametrize(("field", "go_field"), [("input", "Input"), ("output", "Output")])
@pytest.mark.parametrize("value", [_DROP, None])
def test_case6_missing_or_null_array_fails_the_required_tag(
    field: str, go_field: str, value: Any
) -> None:
    assert _decode_error(_f(**{field: value})) == _required(go_field)


def test_every_failing_tag_is_one_line_in_struct_order() -> None:
    assert _decode_error('{"type":"x"}').split("\n") == [
        _required("Type", tag="oneof"),
        _required("Input"),
        _required("Output"),
    ]


def test_null_body_fails_the_required_tags() -> None:
    assert _decode_error("null").split("\n") == [_required("Input"), _required("Output")]


def test_validation_is_not_applied_inside_arrays() -> None:
    config = bind_process_config(_f(output=[{"id": "o", "cleanup": [{"max_files": 3}]}]))
    assert config.output[0].address == ""
    assert config.output[0].cleanup[0].pattern == ""


def test_null_element_in_a_new_array_is_a_zero_element() -> None:
    config = bind_process_config(_f(output=[None]))
    assert config.output[0].address == ""
    assert len(config.output[0].id) == 22


def test_input_cleanup_rules_are_dropped() -> None:
    body = _f(input=[{"id": "i", "address": "a", "cleanup": [{"pattern": "memfs:/x"}]}])
    assert bind_process_config(body).input[0].cleanup == []


def test_output_cleanup_rules_are_kept() -> None:
    rule = {"pattern": "memfs:/{processid}_*.ts", "max_files": 3, "purge_on_delete": True}
    config = bind_process_config(_f(output=[{"id": "o", "address": "-", "cleanup": [rule]}]))
    assert config.output[0].cleanup[0].model_dump() == {
        "pattern": "memfs:/{processid}_*.ts",
        "max_files": 3,
        "max_file_age_seconds": 0,
        "purge_on_delete": True,
    }


def test_case44_python_client_nulls_and_extra_keys_are_accepted() -> None:
    body = {
        **F,
        "reference": "",
        "limits": None,
        "scheduler": None,
        "binary": None,
        "metadata": None,
        "domain": None,
        "owner": None,
        "runtime_duration_seconds": None,
        "log_patterns": None,
        "input": [{"id": "video", "address": "testsrc", "options": None, "cleanup": None}],
        "output": [{"id": "null", "address": "-", "options": ["-f", "null"], "cleanup": None}],
    }
    config = bind_process_config(json.dumps(body))
    assert config.limits == Limits()
    assert config.input[0].options == []
    assert config.output[0].cleanup == []


def test_bind_accepts_text_bodies_with_non_ascii() -> None:
    assert bind_process_config(_f(reference="café ☕")).reference == "café ☕"
    assert bind_process_config(_f(reference="café").encode()).reference == "café"


# --------------------------------------------------------------------------- decode_into


class _Shapes(BaseModel):
    """A model exercising Go kinds the process config does not use."""

    count: int = 5
    ratio: float = 0.5
    anything: Any = None
    mapping: dict[str, int] = {}
    maybe: str | None = None


def test_decode_into_returns_every_field_with_defaults() -> None:
    assert decode_into(_Shapes, "{}") == {
        "count": 5,
        "ratio": 0.5,
        "anything": None,
        "mapping": {},
        "maybe": None,
    }


def test_plain_int_field_is_int64() -> None:
    assert decode_into(_Shapes, '{"count":-7}')["count"] == -7
    with pytest.raises(DecodeError, match=r"'int64' for 'count'.*number 9223372036854775808 "):
        decode_into(_Shapes, '{"count":9223372036854775808}')
    with pytest.raises(DecodeError, match=r"number 1\.0 into Go struct field _Shapes\.count "):
        decode_into(_Shapes, '{"count":1.0}')


def test_interface_fields_take_any_value() -> None:
    decoded = decode_into(_Shapes, '{"anything":{"a":[1,"x",null]},"mapping":{"b":2}}')
    assert decoded["anything"] == {"a": [1, "x", None]}
    assert decoded["mapping"] == {"b": 2}
    assert decode_into(_Shapes, '{"anything":"s"}', {"anything": [1]})["anything"] == "s"
    assert decode_into(_Shapes, '{"anything":null}', {"anything": [1]})["anything"] is None


def test_float_field_accepts_integers_and_exponents() -> None:
    assert decode_into(_Shapes, '{"ratio":2}')["ratio"] == 2.0
    assert decode_into(_Shapes, '{"ratio":-1.5E-1}')["ratio"] == -0.15


def test_decode_into_prefills_from_current() -> None:
    decoded = decode_into(_Shapes, '{"ratio":1}', {"count": 9})
    assert decoded["count"] == 9
    assert decoded["ratio"] == 1.0


def test_decode_into_accepts_model_instances_as_current() -> None:
    current = ProcessConfig(id="x", limits=Limits(waitfor_seconds=4))
    decoded = decode_into(ProcessConfig, "{}", {"limits": current.limits, "id": "x"})
    assert decoded["limits"]["waitfor_seconds"] == 4


def test_unsupported_field_type_is_a_programming_error() -> None:
    class _Tuple(BaseModel):
        pair: tuple[int, int] = (0, 0)

    with pytest.raises(TypeError, match="no Go type"):
        decode_into(_Tuple, "{}")


# --------------------------------------------------------------------------- command and login


@pytest.mark.parametrize("verb", ["start", "stop", "restart", "reload"])
def test_known_command_is_returned(verb: str) -> None:
    assert bind_command(json.dumps({"command": verb})) == verb


def test_case28_unknown_command_is_not_a_decode_error() -> None:
    assert bind_command('{"command":"foobar"}') == "foobar"


@pytest.mark.parametrize("body", ["{}", '{"command":""}', '{"command":null}', "null"])
def test_case28_missing_command_fails_the_required_tag(body: str) -> None:
    with pytest.raises(DecodeError) as caught:
        bind_command(body)
    assert str(caught.value) == _required("Command", struct="Command")


def test_command_key_is_case_insensitive() -> None:
    assert bind_command('{"Command":"stop"}') == "stop"


def test_command_of_wrong_type_is_a_type_error() -> None:
    with pytest.raises(DecodeError) as caught:
        bind_command('{"command":1}')
    assert str(caught.value) == (
        "expect type 'string' for 'command' at line 1, character 13: json: cannot unmarshal "
        "number into Go struct field Command.command of type string"
    )


def test_command_model_shape_is_used() -> None:
    # The verb list of the model is not a decode constraint.
    assert set(Command.model_fields) == {"command"}


def test_login_returns_credentials() -> None:
    assert bind_login('{"username":"admin","password":"secret"}') == ("admin", "secret")


def test_login_requires_both_fields() -> None:
    with pytest.raises(DecodeError) as caught:
        bind_login("{}")
    assert str(caught.value).split("\n") == [
        _required("Username", struct="Login"),
        _required("Password", struct="Login"),
    ]


def test_login_syntax_error_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="syntax error"):
        bind_login("{")


# The C parser reads well-formed bodies (fast path); the byte-wise Go scanner reads the rest
# and gives every error its offsets. Both must bind every body alike. (Every body names its
# process and IO IDs: generated ones differ from run to run.)
_BODIES = [
    _f(),
    _f(id="dup", ID="dup2"),  # duplicate keys, case-folded: the last one wins
    '{"id":"a","input":[{"id":"i","address":"x","options":["-re"]}],"output":[],'
    '"input":[{"address":"y"}],"limits":{"cpu_usage":1e2,"memory_mbytes":12}}',
    '{"id":"é\\u00e9\\n","reference":"\\ud83d\\ude00","input":[],"output":[]}',
    b'{"id":"\xff\xfe","input":[],"output":[]}',  # invalid UTF-8: U+FFFD per byte
    '{"id":"x","input":[],"output":[],"reconnect_delay_seconds":1.5}',  # a type error
    '{"id":"x","input":[],"output":[],"stale_timeout_seconds":-1}',
    '{"id":"x","input":"no","output":[]}',
    '{"id":"x","input":[],"output":[],"autostart":NaN}',
    '\ufeff{"id":"x","input":[],"output":[]}',
]


def _outcome(body: str | bytes) -> Any:
    try:
        return bind_process_config(body).model_dump()
    except DecodeError as error:
        return str(error)


@pytest.mark.parametrize("body", _BODIES, ids=range(len(_BODIES)))
def test_the_fast_path_binds_like_the_exact_go_path(
    body: str | bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _outcome(body)
    monkeypatch.setattr("ffmpeg_operator.core.gojson._fast_tree", lambda data: None)
    assert _outcome(body) == fast
