"""The pipeline of create/update/reload: ids, placeholders, references, validation, argv."""

from __future__ import annotations

from typing import Any

import pytest

from ffmpeg_operator.core.errors import ConfigError
from ffmpeg_operator.core.models import ProcessConfig
from ffmpeg_operator.core.placeholders import PlaceholderSettings, memfs_url
from ffmpeg_operator.core.prepare import PreparedProcess, prepare_process
from ffmpeg_operator.core.validation import AddressPolicy
from specdata import FIXTURE_F

SETTINGS = PlaceholderSettings(
    diskfs="/core/data", memfs=memfs_url(":8080", username="admin", password="pw")
)
POLICY = AddressPolicy(disk_dir="/core/data", cwd="/core")


def fixture(**changes: Any) -> ProcessConfig:
    data = {**FIXTURE_F, **changes}
    return ProcessConfig.model_validate(data)


def no_processes(_pid: str) -> ProcessConfig | None:
    return None


def prepare(config: ProcessConfig, lookup: Any = no_processes) -> PreparedProcess:
    return prepare_process(config, SETTINGS, POLICY, lookup)


def error_of(config: ProcessConfig, lookup: Any = no_processes) -> str:
    with pytest.raises(ConfigError) as raised:
        prepare(config, lookup)
    return str(raised.value)


def test_fixture_f_prepares_to_its_command() -> None:
    prepared = prepare(fixture())
    assert prepared.command == [
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
    assert prepared.config == fixture()
    assert prepared.resolved == fixture()


def test_case_35_stored_config_keeps_placeholders_and_command_has_the_memfs_url() -> None:
    config = fixture(output=[{"id": "hls", "address": "{memfs}/{processid}.m3u8"}])
    prepared = prepare(config)
    assert prepared.config.output[0].address == "{memfs}/{processid}.m3u8"
    assert prepared.resolved.output[0].address == "http://admin:pw@localhost:8080/memfs/test.m3u8"
    assert "http://admin:pw@localhost:8080/memfs/test.m3u8" in prepared.command


def test_case_36_escaped_process_id_has_two_backslashes() -> None:
    config = fixture(
        id="abc:snapshot",
        output=[
            {
                "id": "o",
                "address": "-",
                "options": ["-vf", "drawtext=text={processid^:}", "-f", "null"],
            }
        ],
    )
    assert "drawtext=text=abc\\\\:snapshot" in prepare(config).command


def p2(address: str) -> ProcessConfig:
    return fixture(id="p2", input=[{"id": "in", "address": address}])


def stored_test(pid: str) -> ProcessConfig | None:
    return fixture() if pid == "test" else None


def test_case_37_reference_gives_the_referenced_output_address() -> None:
    prepared = prepare(p2("#test:output=null"), stored_test)
    assert prepared.command[:2] == ["-i", "-"]
    assert prepared.config.input[0].address == "#test:output=null"


@pytest.mark.parametrize(
    ("address", "detail"),
    [
        ("#test:foobar=null", "invalid format (#test:foobar=null)"),
        ("#p2:output=null", "self-reference not possible (#p2:output=null)"),
        (
            "#test:output=foo",
            "the process 'test' has no outputs with the ID 'foo' (#test:output=foo)",
        ),
        ("#nope:output=null", "unknown process 'nope' (#nope:output=null)"),
    ],
)
def test_case_37_bad_references_are_refused(address: str, detail: str) -> None:
    assert error_of(p2(address), stored_test) == f"reference error for '#p2:in': {detail}"


def test_referenced_process_placeholders_are_resolved_with_its_own_values() -> None:
    def lookup(pid: str) -> ProcessConfig | None:
        if pid != "src":
            return None
        return fixture(
            id="src",
            output=[{"id": "out_{processid}", "address": "{memfs}/{processid}.m3u8"}],
        )

    prepared = prepare(p2("#src:output=out_src"), lookup)
    assert prepared.resolved.input[0].address == "http://admin:pw@localhost:8080/memfs/src.m3u8"


def test_reference_is_looked_up_after_the_own_placeholders() -> None:
    prepared = prepare(
        fixture(
            id="p2", input=[{"id": "in", "address": "#t{reference}:output=null"}], reference="est"
        ),
        stored_test,
    )
    assert prepared.resolved.input[0].address == "-"


# --------------------------------------------------------------------------- §3.2 step 3 texts


@pytest.mark.parametrize("pid", ["", "  "])
def test_case_7_empty_id(pid: str) -> None:
    assert error_of(fixture(id=pid)) == "an empty ID is not allowed"


def test_empty_id_is_refused_before_references_are_resolved() -> None:
    assert error_of(fixture(id=" ", input=[{"id": "i", "address": "#x:output=y"}])) == (
        "an empty ID is not allowed"
    )


def test_case_8_duplicate_input_id() -> None:
    video = FIXTURE_F["input"][0]
    assert error_of(fixture(input=[video, video])) == (
        "the input ID 'video' is already in use for the process `test`"
    )


@pytest.mark.parametrize("address", ["", "  "])
def test_case_8_and_19_empty_output_address(address: str) -> None:
    config = fixture(output=[{"id": "null", "address": address}])
    assert error_of(config) == "the address for output '#test:null' must not be empty"


def test_empty_input_address_is_a_reference_error_first() -> None:
    # Core resolves references before validation, and the reference step refuses "".
    config = fixture(input=[{"id": "video", "address": ""}])
    assert error_of(config) == "reference error for '#test:video': empty address"


def test_output_outside_the_storage_directory() -> None:
    config = fixture(output=[{"id": "o", "address": "/etc/x"}])
    assert error_of(config) == (
        "the address for output '#test:o' is invalid: /etc/x is not inside of /core/data"
    )


def test_disk_output_through_diskfs_placeholder_is_inside() -> None:
    config = fixture(output=[{"id": "o", "address": "{diskfs}/{processid}.mp4"}])
    assert prepare(config).command[-1] == "/core/data/test.mp4"


def test_placeholders_resolve_before_validation() -> None:
    config = fixture(output=[{"id": "{reference}", "address": "-"}], reference="")
    assert error_of(config) == "empty output IDs are not allowed (process 'test')"


# --------------------------------------------------------------------------- IO ids


def test_missing_io_ids_are_generated_and_kept_in_the_stored_config() -> None:
    config = fixture(
        input=[
            {"address": "a", "options": []},
            {"address": "{inputid}.mp4"},
        ],
        output=[{"address": "-"}],
    )
    prepared = prepare(config)
    input_ids = [io.id for io in prepared.config.input]
    assert all(len(io_id) == 22 for io_id in input_ids)
    assert len(set(input_ids)) == 2
    assert len(prepared.config.output[0].id) == 22
    assert prepared.resolved.input[1].address == f"{input_ids[1]}.mp4"


def test_whitespace_io_ids_are_not_regenerated() -> None:
    config = fixture(output=[{"id": " ", "address": "-"}])
    assert error_of(config) == "empty output IDs are not allowed (process 'test')"


def test_preparing_does_not_change_the_given_config() -> None:
    config = fixture(output=[{"address": "{memfs}/x"}])
    prepare(config)
    assert config.output[0].id == ""
    assert config.output[0].address == "{memfs}/x"
