"""References `#<processid>:output=<outputid>` (spec §6)."""

from __future__ import annotations

from typing import Any

import pytest

from ffmpeg_operator.core.errors import ConfigError
from ffmpeg_operator.core.models import ProcessConfig
from ffmpeg_operator.core.references import parse_reference, resolve_references


def process(pid: str, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]]) -> ProcessConfig:
    return ProcessConfig.model_validate({"id": pid, "input": inputs, "output": outputs})


PROCESSES = {
    "process": process("process", [{"id": "in", "address": "-"}], [{"id": "out", "address": "-"}]),
    "tee": process(
        "tee",
        [{"id": "in", "address": "-"}],
        [{"id": "out", "address": "[f=flv]rtmp://a/b|[f=mpegts]udp://c:1/"}],
    ),
    "a:output=b": process("a:output=b", [], [{"id": "c", "address": "greedy"}]),
}


def lookup(pid: str) -> ProcessConfig | None:
    return PROCESSES.get(pid)


def referencing(address: str, pid: str = "process2", input_id: str = "in") -> ProcessConfig:
    return process(pid, [{"id": input_id, "address": address}], [{"id": "o", "address": "-"}])


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("#process:output=out", ("process", "out")),
        ("#a:output=b:output=c", ("a:output=b", "c")),
        ("#p:q:output=o", ("p:q", "o")),
        ("#process:foobar=out", None),
        ("#:output=out", None),
        ("#process:output=", None),
        ("process:output=out", None),
    ],
)
def test_parse_reference(address: str, expected: tuple[str, str] | None) -> None:
    assert parse_reference(address) == expected


def test_reference_is_replaced_by_the_referenced_output_address() -> None:
    resolved = resolve_references(referencing("#process:output=out"), lookup)
    assert resolved.input[0].address == "-"


def test_tee_output_address_is_copied_whole() -> None:
    resolved = resolve_references(referencing("#tee:output=out"), lookup)
    assert resolved.input[0].address == "[f=flv]rtmp://a/b|[f=mpegts]udp://c:1/"


def test_reference_matching_is_greedy() -> None:
    resolved = resolve_references(referencing("#a:output=b:output=c"), lookup)
    assert resolved.input[0].address == "greedy"


def test_addresses_without_hash_are_kept() -> None:
    resolved = resolve_references(referencing("rtmp://x/#y:output=z"), lookup)
    assert resolved.input[0].address == "rtmp://x/#y:output=z"


def test_outputs_are_never_resolved() -> None:
    config = process(
        "p", [{"id": "i", "address": "-"}], [{"id": "o", "address": "#process:output=out"}]
    )
    assert resolve_references(config, lookup).output[0].address == "#process:output=out"


def test_resolving_leaves_the_config_untouched() -> None:
    config = referencing("#process:output=out")
    resolve_references(config, lookup)
    assert config.input[0].address == "#process:output=out"


@pytest.mark.parametrize(
    ("pid", "address", "detail"),
    [
        # Core test data (§6)
        ("process2", "#process:foobar=out", "invalid format (#process:foobar=out)"),
        ("process2", "#process2:output=out", "self-reference not possible (#process2:output=out)"),
        (
            "process2",
            "#process:output=foobar",
            "the process 'process' has no outputs with the ID 'foobar' (#process:output=foobar)",
        ),
        ("process2", "#nope:output=out", "unknown process 'nope' (#nope:output=out)"),
        ("process2", "", "empty address"),
    ],
)
def test_reference_errors(pid: str, address: str, detail: str) -> None:
    with pytest.raises(ConfigError) as error:
        resolve_references(referencing(address, pid=pid, input_id="in"), lookup)
    assert str(error.value) == f"reference error for '#{pid}:in': {detail}"


def test_whitespace_address_is_not_a_reference_error() -> None:
    # It is not empty and does not start with `#`; validation refuses it later.
    assert resolve_references(referencing("  "), lookup).input[0].address == "  "


def test_self_reference_is_refused_before_lookup() -> None:
    asked: list[str] = []

    def recording(pid: str) -> ProcessConfig | None:
        asked.append(pid)
        return None

    with pytest.raises(ConfigError, match="self-reference"):
        resolve_references(referencing("#process2:output=o"), recording)
    assert asked == []


def test_first_failing_input_decides_the_error() -> None:
    config = process(
        "p",
        [{"id": "a", "address": "#nope:output=x"}, {"id": "b", "address": ""}],
        [{"id": "o", "address": "-"}],
    )
    with pytest.raises(ConfigError, match=r"^reference error for '#p:a': unknown process"):
        resolve_references(config, lookup)


# §12 case 37: process `test` with output `null` (address `-`), referencing process `p2`.
FIXTURE = {
    "test": process(
        "test",
        [{"id": "video", "address": "testsrc=size=1280x720:rate=25"}],
        [{"id": "null", "address": "-"}],
    )
}


def test_case_37_reference_resolves_to_the_output_address() -> None:
    resolved = resolve_references(referencing("#test:output=null", pid="p2"), FIXTURE.get)
    assert resolved.input[0].address == "-"


@pytest.mark.parametrize(
    "address",
    ["#test:foobar=null", "#p2:output=null", "#test:output=foo", "#nope:output=null"],
)
def test_case_37_bad_references_are_refused(address: str) -> None:
    with pytest.raises(ConfigError, match=r"^reference error for '#p2:in': "):
        resolve_references(referencing(address, pid="p2"), FIXTURE.get)
