"""Spec §12 acceptance, creating processes: POST /api/v3/process (cases 1–10, 35–37, §1.2, §3.2)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from acceptance_helpers import (
    FIXTURE_F,
    create,
    error_body,
    fixture,
    process_url,
    state,
)

from backends import BackendServer

SHORTUUID = re.compile(r"[23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz]{22}")


@pytest.fixture
def api(backend_api: httpx.Client) -> httpx.Client:
    """Every case here is backend-independent: it runs on both backends."""
    return backend_api


def post(api: httpx.Client, config: object) -> httpx.Response:
    return api.post("/api/v3/process", json=config)


def post_raw(
    api: httpx.Client, body: bytes, content_type: str = "application/json"
) -> httpx.Response:
    return api.post("/api/v3/process", content=body, headers={"Content-Type": content_type})


def invalid_json(*details: str) -> dict[str, object]:
    return error_body(400, "Invalid JSON", *details)


def invalid_config(*details: str) -> dict[str, object]:
    return error_body(400, "Invalid process config", *details)


# --- case 1, 2: the fixture is accepted ----------------------------------------------------


def test_post_fixture_returns_the_stored_config(api: httpx.Client) -> None:
    config = fixture()
    response = post(api, config)
    assert response.status_code == 200
    assert response.json() == {
        "id": config["id"],
        "type": "ffmpeg",
        "reference": "",
        "input": FIXTURE_F["input"],
        "output": FIXTURE_F["output"],
        "options": [],
        "reconnect": True,
        "reconnect_delay_seconds": 10,
        "autostart": False,
        "stale_timeout_seconds": 10,
        "limits": {"cpu_usage": 0, "memory_mbytes": 0, "waitfor_seconds": 0},
    }
    assert "cleanup" not in response.text


def test_post_config_fields_are_in_core_order(api: httpx.Client) -> None:
    response = post(api, fixture())
    assert list(json.loads(response.text)) == [
        "id", "type", "reference", "input", "output", "options", "reconnect",
        "reconnect_delay_seconds", "autostart", "stale_timeout_seconds", "limits",
    ]  # fmt: skip


def test_post_without_type_is_accepted_as_ffmpeg(api: httpx.Client) -> None:
    config = fixture()
    del config["type"]
    response = post(api, config)
    assert response.status_code == 200
    assert response.json()["type"] == "ffmpeg"


def test_post_minimal_config_gets_core_defaults(api: httpx.Client) -> None:
    config = {
        "id": fixture()["id"],
        "input": [{"id": "in", "address": "testsrc"}],
        "output": [{"id": "out", "address": "-"}],
        "autostart": False,
    }
    stored = create(api, config)
    assert stored["reference"] == ""
    assert stored["options"] == []
    assert stored["input"][0]["options"] == []
    assert stored["reconnect"] is False
    assert stored["reconnect_delay_seconds"] == 0
    assert stored["stale_timeout_seconds"] == 0


# --- case 3: type ----------------------------------------------------------------------------


def test_post_unknown_type_is_invalid_json_oneof(api: httpx.Client) -> None:
    response = post(api, fixture(type="foobar"))
    assert response.status_code == 400
    assert response.json() == invalid_json(
        "Key: 'ProcessConfig.Type' Error:Field validation for 'Type' failed on the 'oneof' tag"
    )


def test_post_empty_type_is_unsupported_process_type(api: httpx.Client) -> None:
    response = post(api, fixture(type=""))
    assert response.status_code == 400
    assert response.json() == error_body(
        400, "Unsupported process type", "Supported process types are: ffmpeg"
    )


# --- case 4: duplicates ----------------------------------------------------------------------


def test_post_duplicate_id_is_400_not_409(api: httpx.Client) -> None:
    config = fixture()
    create(api, config)
    response = post(api, config)
    assert response.status_code == 400
    assert response.json() == invalid_config("process already exists")


# --- case 5: generated IDs -------------------------------------------------------------------


def test_post_without_id_generates_a_shortuuid(api: httpx.Client) -> None:
    config = fixture()
    del config["id"]
    stored = create(api, config)
    assert SHORTUUID.fullmatch(stored["id"])
    assert api.get(process_url(stored["id"])).status_code == 200


def test_post_without_io_ids_generates_distinct_ids(api: httpx.Client) -> None:
    config = fixture()
    config["input"].append({"address": "testsrc2", "options": ["-f", "lavfi"]})
    for io in (*config["input"], *config["output"]):
        io.pop("id", None)
    stored = create(api, config)
    ids = [io["id"] for io in (*stored["input"], *stored["output"])]
    assert all(SHORTUUID.fullmatch(io_id) for io_id in ids)
    assert len(set(ids)) == 3


def test_post_keeps_given_io_ids_and_fills_empty_ones(api: httpx.Client) -> None:
    config = fixture()
    config["input"].append({"id": "", "address": "testsrc2", "options": ["-f", "lavfi"]})
    stored = create(api, config)
    assert stored["input"][0]["id"] == "video"
    assert SHORTUUID.fullmatch(stored["input"][1]["id"])


# --- case 6: inputs and outputs ----------------------------------------------------------------


def test_post_empty_input_array_needs_one_input_and_output(api: httpx.Client) -> None:
    response = post(api, fixture(input=[]))
    assert response.status_code == 400
    assert response.json() == error_body(
        400, "At least one input and one output need to be defined"
    )


def test_post_empty_output_array_needs_one_input_and_output(api: httpx.Client) -> None:
    response = post(api, fixture(output=[]))
    assert response.status_code == 400
    assert response.json() == error_body(
        400, "At least one input and one output need to be defined"
    )


def test_post_without_input_key_is_invalid_json_required(api: httpx.Client) -> None:
    config = fixture()
    del config["input"]
    response = post(api, config)
    assert response.status_code == 400
    assert response.json() == invalid_json(
        "Key: 'ProcessConfig.Input' Error:Field validation for 'Input' failed on the 'required' tag"
    )


def test_post_null_output_is_invalid_json_required(api: httpx.Client) -> None:
    response = post(api, fixture(output=None))
    assert response.status_code == 400
    assert response.json() == invalid_json(
        "Key: 'ProcessConfig.Output' Error:Field validation for 'Output' failed on the "
        "'required' tag"
    )


def test_post_without_input_and_output_lists_both_required_failures(api: httpx.Client) -> None:
    config = fixture()
    del config["input"], config["output"]
    response = post(api, config)
    assert response.status_code == 400
    assert response.json() == invalid_json(
        "Key: 'ProcessConfig.Input' Error:Field validation for 'Input' failed on the "
        "'required' tag",
        "Key: 'ProcessConfig.Output' Error:Field validation for 'Output' failed on the "
        "'required' tag",
    )


# --- case 7, 8: process validation -----------------------------------------------------------


def test_post_whitespace_id_is_not_allowed(api: httpx.Client) -> None:
    response = post(api, fixture(id="  "))
    assert response.status_code == 400
    assert response.json() == invalid_config("an empty ID is not allowed")


def test_post_duplicate_input_ids_are_rejected(api: httpx.Client) -> None:
    config = fixture()
    config["input"].append(dict(config["input"][0]))
    response = post(api, config)
    assert response.status_code == 400
    assert response.json() == invalid_config(
        f"the input ID 'video' is already in use for the process `{config['id']}`"
    )


def test_post_empty_output_address_is_rejected(api: httpx.Client) -> None:
    config = fixture()
    config["output"][0]["address"] = ""
    response = post(api, config)
    assert response.status_code == 400
    assert response.json() == invalid_config(
        f"the address for output '#{config['id']}:null' must not be empty"
    )


def test_post_output_outside_the_data_directory_is_rejected(
    api: httpx.Client, backend_server: BackendServer
) -> None:
    config = fixture()
    config["output"][0]["address"] = "/etc/ffmpeg-operator-test.ts"
    response = post(api, config)
    assert response.status_code == 400
    assert response.json() == invalid_config(
        f"the address for output '#{config['id']}:null' is invalid: "
        f"/etc/ffmpeg-operator-test.ts is not inside of {backend_server.disk_dir}"
    )


def test_post_rejected_config_is_not_created(api: httpx.Client) -> None:
    config = fixture()
    config["output"][0]["address"] = ""
    assert post(api, config).status_code == 400
    assert api.get(process_url(config["id"])).status_code == 404


# --- case 9: type errors (§1.2) ----------------------------------------------------------------


def test_post_cleanup_max_files_as_string_is_a_type_error(api: httpx.Client) -> None:
    body = (
        b'{"id":"acc-type-string","input":[{"id":"i","address":"testsrc"}],'
        b'"output":[{"id":"o","address":"-","cleanup":[{"pattern":"memfs:/x","max_files":"23"}]}]}'
    )
    response = post_raw(api, body)
    assert response.status_code == 400
    column = body.index(b'"23"') + len(b'"23"') + 1  # Core points just after the literal
    assert response.json() == invalid_json(
        f"expect type 'uint' for 'output.cleanup.max_files' at line 1, character {column}: "
        "json: cannot unmarshal string into Go struct field "
        "ProcessConfigIOCleanup.output.cleanup.max_files of type uint"
    )


def test_post_negative_reconnect_delay_is_a_type_error(api: httpx.Client) -> None:
    body = b'{\n  "id": "acc-negative",\n  "reconnect_delay_seconds": -1\n}'
    response = post_raw(api, body)
    assert response.status_code == 400
    assert response.json() == invalid_json(
        # The byte after the literal is the newline, which Core counts as character 1 of line 4.
        "expect type 'uint64' for 'reconnect_delay_seconds' at line 4, character 1: "
        "json: cannot unmarshal number -1 into Go struct field "
        "ProcessConfig.reconnect_delay_seconds of type uint64"
    )


def test_post_fractional_uint_is_a_type_error(api: httpx.Client) -> None:
    response = post_raw(api, b'{"stale_timeout_seconds":1.5}')
    assert response.status_code == 400
    assert response.json() == invalid_json(
        "expect type 'uint64' for 'stale_timeout_seconds' at line 1, character 29: "
        "json: cannot unmarshal number 1.5 into Go struct field "
        "ProcessConfig.stale_timeout_seconds of type uint64"
    )


def test_post_numeric_id_is_a_type_error(api: httpx.Client) -> None:
    response = post_raw(api, b'{"id":5}')
    assert response.status_code == 400
    assert response.json() == invalid_json(
        "expect type 'string' for 'id' at line 1, character 8: "
        "json: cannot unmarshal number into Go struct field ProcessConfig.id of type string"
    )


# --- case 10 and §1.2: body checks -------------------------------------------------------------


def test_post_text_plain_body_is_not_json_content(api: httpx.Client) -> None:
    response = post_raw(api, json.dumps(fixture()).encode(), "text/plain")
    assert response.status_code == 400
    assert response.json() == invalid_json("request doesn't contain JSON content")


def test_post_without_content_type_is_not_json_content(api: httpx.Client) -> None:
    # httpx sets no Content-Type for raw content.
    response = api.post("/api/v3/process", content=json.dumps(fixture()).encode())
    assert response.status_code == 400
    assert response.json() == invalid_json("request doesn't contain JSON content")


def test_post_content_type_with_charset_is_json(api: httpx.Client) -> None:
    response = post_raw(api, json.dumps(fixture()).encode(), "application/json; charset=utf-8")
    assert response.status_code == 200


def test_post_empty_body_has_no_content(api: httpx.Client) -> None:
    response = post_raw(api, b"")
    assert response.status_code == 400
    assert response.json() == invalid_json("request doesn't contain any content")


def test_post_syntax_error_reports_line_and_character(api: httpx.Client) -> None:
    response = post_raw(api, b'{"id": "x",\n "input": [}')
    assert response.status_code == 400
    assert response.json() == invalid_json(
        "syntax error at line 2, character 13: invalid character '}' looking for beginning of value"
    )


def test_post_truncated_json_is_a_syntax_error(api: httpx.Client) -> None:
    response = post_raw(api, b'{"id": "x"')
    assert response.status_code == 400
    assert response.json() == invalid_json(
        "syntax error at line 1, character 10: unexpected end of JSON input"
    )


def test_post_chunked_body_passes_the_length_check(api: httpx.Client) -> None:
    config = fixture()

    def chunks() -> Iterator[bytes]:
        yield json.dumps(config).encode()

    response = api.post(
        "/api/v3/process", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json()["id"] == config["id"]


def test_post_decodes_keys_case_insensitively(api: httpx.Client) -> None:
    config = fixture()
    body = {"ID": config["id"], "Input": config["input"], "OUTPUT": config["output"]}
    stored = create(api, {**body, "autostart": False})
    assert stored["id"] == config["id"]
    assert stored["input"][0]["id"] == "video"


def test_post_duplicate_keys_last_wins(api: httpx.Client) -> None:
    config = fixture()
    body = json.dumps(config)[:-1] + ', "reference": "first", "reference": "second"}'
    response = post_raw(api, body.encode())
    assert response.status_code == 200
    assert response.json()["reference"] == "second"


# --- case 35–37: placeholders and references in state.command -------------------------------


def test_memfs_placeholder_stays_raw_in_config_and_resolves_in_command(
    api: httpx.Client, backend_server: BackendServer
) -> None:
    config = fixture()
    config["output"][0] = {"id": "hls", "address": "{memfs}/{processid}.m3u8", "options": []}
    create(api, config)
    stored = api.get(process_url(config["id"], "/config")).json()
    assert stored["output"][0]["address"] == "{memfs}/{processid}.m3u8"
    # Embedded: the server listens on 127.0.0.1:<port>, so by Core's host rule (§5.3) that is
    # the host (Core's own default ":8080" would give localhost:8080). Kubernetes: the memfs
    # URL the run Pods reach the API at (FFMPEG_OPERATOR_MEMFS_URL), with the same credentials.
    expected = f"{backend_server.memfs_url}/{config['id']}.m3u8"
    assert expected.startswith("http://admin:memfspw@")
    if backend_server.kind == "kubernetes":
        # Deliberate difference (compatibility.md): the password is a reference that kubelet
        # expands in the run Pod, so no object and no shown command holds it.
        reference = "admin:$(FFMPEG_OPERATOR_MEMFS_PASSWORD)@"
        expected = expected.replace("admin:memfspw@", reference)
    assert expected in state(api, config["id"])["command"]


def test_escaped_processid_placeholder_doubles_the_backslashes(api: httpx.Client) -> None:
    config = fixture(id="abc:snapshot")
    config["output"][0]["options"] = ["-vf", "drawtext=text={processid^:}", "-f", "null"]
    create(api, config)
    assert "drawtext=text=abc\\\\:snapshot" in state(api, "abc:snapshot")["command"]


def test_reference_input_resolves_to_the_referenced_output(api: httpx.Client) -> None:
    source = create(api, fixture())
    config = fixture(input=[{"id": "in", "address": f"#{source['id']}:output=null"}])
    create(api, config)
    command = state(api, config["id"])["command"]
    assert command[:2] == ["-i", "-"]
    assert api.get(process_url(config["id"], "/config")).json()["input"][0]["address"] == (
        f"#{source['id']}:output=null"
    )


def _post_reference(api: httpx.Client, pid: str, address: str) -> httpx.Response:
    return post(api, fixture(id=pid, input=[{"id": "in", "address": address}]))


def test_reference_with_wrong_key_is_invalid_format(api: httpx.Client) -> None:
    source = create(api, fixture())
    address = f"#{source['id']}:foobar=null"
    response = _post_reference(api, "acc-ref-p2", address)
    assert response.status_code == 400
    assert response.json() == invalid_config(
        f"reference error for '#acc-ref-p2:in': invalid format ({address})"
    )


def test_reference_to_itself_is_rejected(api: httpx.Client) -> None:
    response = _post_reference(api, "acc-ref-p2", "#acc-ref-p2:output=null")
    assert response.status_code == 400
    assert response.json() == invalid_config(
        "reference error for '#acc-ref-p2:in': self-reference not possible "
        "(#acc-ref-p2:output=null)"
    )


def test_reference_to_unknown_output_is_rejected(api: httpx.Client) -> None:
    source = create(api, fixture())
    address = f"#{source['id']}:output=foo"
    response = _post_reference(api, "acc-ref-p2", address)
    assert response.status_code == 400
    assert response.json() == invalid_config(
        f"reference error for '#acc-ref-p2:in': the process '{source['id']}' has no outputs "
        f"with the ID 'foo' ({address})"
    )


def test_reference_to_unknown_process_is_rejected(api: httpx.Client) -> None:
    response = _post_reference(api, "acc-ref-p2", "#acc-nope:output=null")
    assert response.status_code == 400
    assert response.json() == invalid_config(
        "reference error for '#acc-ref-p2:in': unknown process 'acc-nope' (#acc-nope:output=null)"
    )


# --- more of §1.2 and §2.1 ------------------------------------------------------------------


def test_post_null_body_fails_both_required_tags(api: httpx.Client) -> None:
    response = post_raw(api, b"null")
    assert response.status_code == 400
    assert response.json() == invalid_json(
        "Key: 'ProcessConfig.Input' Error:Field validation for 'Input' failed on the "
        "'required' tag",
        "Key: 'ProcessConfig.Output' Error:Field validation for 'Output' failed on the "
        "'required' tag",
    )


def test_post_array_body_is_a_type_error_for_the_whole_config(api: httpx.Client) -> None:
    response = post_raw(api, b"[]")
    assert response.status_code == 400
    assert response.json() == invalid_json(
        "expect type 'api.ProcessConfig' for '' at line 1, character 2: "
        "json: cannot unmarshal array into Go value of type api.ProcessConfig"
    )


def test_post_object_for_input_array_is_a_type_error(api: httpx.Client) -> None:
    response = post_raw(api, b'{"input":{}}')
    assert response.status_code == 400
    assert response.json() == invalid_json(
        "expect type '[]api.ProcessConfigIO' for 'input' at line 1, character 11: "
        "json: cannot unmarshal object into Go struct field ProcessConfig.input of type "
        "[]api.ProcessConfigIO"
    )


def test_post_trailing_data_after_the_object_is_a_syntax_error(api: httpx.Client) -> None:
    response = post_raw(api, json.dumps(fixture()).encode() + b" x")
    assert response.status_code == 400
    detail = response.json()["details"][0]
    assert detail.endswith("invalid character 'x' after top-level value")


def test_post_content_type_is_matched_case_sensitively(api: httpx.Client) -> None:
    response = post_raw(api, json.dumps(fixture()).encode(), "Application/JSON")
    assert response.status_code == 400
    assert response.json() == invalid_json("request doesn't contain JSON content")


def test_post_content_type_only_needs_the_json_prefix(api: httpx.Client) -> None:
    # Core checks strings.HasPrefix(ctype, "application/json").
    response = post_raw(api, json.dumps(fixture()).encode(), "application/jsonfoo")
    assert response.status_code == 200


@pytest.mark.kubernetes_xfail(
    reason="Kubernetes integers are int64: a uint above 2**63-1 is refused with 400"
)
def test_post_largest_uint64_is_accepted_and_read_back(api: httpx.Client) -> None:
    largest = 2**64 - 1
    stored = create(api, fixture(stale_timeout_seconds=largest))
    assert stored["stale_timeout_seconds"] == largest
    config = api.get(process_url(stored["id"], "/config"))
    assert f'"stale_timeout_seconds":{largest},' in config.text


def test_post_uint64_overflow_is_a_type_error(api: httpx.Client) -> None:
    response = post_raw(api, b'{"reconnect_delay_seconds":18446744073709551616}')
    assert response.status_code == 400
    assert response.json() == invalid_json(
        "expect type 'uint64' for 'reconnect_delay_seconds' at line 1, character 48: "
        "json: cannot unmarshal number 18446744073709551616 into Go struct field "
        "ProcessConfig.reconnect_delay_seconds of type uint64"
    )


def test_post_id_is_stored_untrimmed(api: httpx.Client) -> None:
    stored = create(api, fixture(id=" acc-spaced "))
    assert stored["id"] == " acc-spaced "
    assert api.get(process_url(" acc-spaced ")).json()["id"] == " acc-spaced "
    assert api.get(process_url("acc-spaced")).status_code == 404


def test_post_whitespace_input_address_is_empty(api: httpx.Client) -> None:
    config = fixture()
    config["input"][0]["address"] = "  "
    response = post(api, config)
    assert response.status_code == 400
    assert response.json() == invalid_config(
        f"the address for input '#{config['id']}:video' must not be empty"
    )


def test_post_whitespace_io_id_is_not_regenerated(api: httpx.Client) -> None:
    config = fixture()
    config["output"][0]["id"] = "  "
    response = post(api, config)
    assert response.status_code == 400
    assert response.json() == invalid_config(
        f"empty output IDs are not allowed (process '{config['id']}')"
    )


def test_post_input_cleanup_is_accepted_and_dropped(api: httpx.Client) -> None:
    config = fixture()
    config["input"][0]["cleanup"] = [{"pattern": "memfs:/x", "max_files": 1}]
    stored = create(api, config)
    assert "cleanup" not in stored["input"][0]


def test_post_keeps_placeholders_raw_in_io_ids(api: httpx.Client) -> None:
    config = fixture()
    config["input"][0]["id"] = "in_{processid}"
    stored = create(api, config)
    assert stored["input"][0]["id"] == "in_{processid}"


def test_post_memory_limit_reads_back_in_mebibytes(api: httpx.Client) -> None:
    stored = create(api, fixture(limits={"memory_mbytes": 10 * 1024 * 1024}))
    assert stored["limits"]["memory_mbytes"] == 10 * 1024 * 1024
