"""Address and id validation of a resolved process config (spec §7, §3.2 step 3)."""

from __future__ import annotations

from typing import Any

import pytest

from ffmpeg_operator.core.errors import ConfigError
from ffmpeg_operator.core.models import ProcessConfig
from ffmpeg_operator.core.validation import (
    AddressPolicy,
    has_url_scheme,
    normalize_output_address,
    validate_input_address,
    validate_process,
    validate_url,
)

CORE = AddressPolicy(disk_dir="/core/data", cwd="/core")

# --------------------------------------------------------------------------- §7 table


@pytest.mark.parametrize(
    ("address", "normalised"),
    [
        ("/dev/null", "file:/dev/null"),
        ("/dev/fb0", "file:/dev/fb0"),
        ("/core/data/./etc/passwd", "file:/core/data/etc/passwd"),
        ("file:/core/data/foobar", "file:/core/data/foobar"),
        ("http://example.com", "http://example.com"),
        ("-", "pipe:"),
        ("/core/data/foobar|http://example.com", "file:/core/data/foobar|http://example.com"),
        ("[f=mpegts]udp://10.0.1.255:1234/", "[f=mpegts]udp://10.0.1.255:1234/"),
        ("[f=null]-|[f=null]-", "[f=null]pipe:|[f=null]pipe:"),
        (
            "[onfail=ignore]/core/data/archive-20121107.mkv|[f=mpegts]udp://10.0.1.255:1234/",
            "[onfail=ignore]file:/core/data/archive-20121107.mkv|[f=mpegts]udp://10.0.1.255:1234/",
        ),
    ],
)
def test_valid_output_addresses_are_normalised(address: str, normalised: str) -> None:
    assert normalize_output_address(address, CORE) == normalised


@pytest.mark.parametrize(
    ("address", "error"),
    [
        ("/dev/../etc/passwd", "/etc/passwd is not inside of /core/data"),
        ("/etc/passwd", "/etc/passwd is not inside of /core/data"),
        ("/core/data/../../etc/passwd", "/etc/passwd is not inside of /core/data"),
        ("/core/data/foobar|/etc/passwd", "/etc/passwd is not inside of /core/data"),
    ],
)
def test_invalid_output_addresses_are_refused(address: str, error: str) -> None:
    with pytest.raises(ConfigError) as raised:
        normalize_output_address(address, CORE)
    assert str(raised.value) == error


@pytest.mark.parametrize(
    ("cwd", "address", "outcome"),
    [
        ("/core/data", "a.mp4", "file:/core/data/a.mp4"),
        ("/core/data/sub", "../b.mp4", "file:/core/data/b.mp4"),
        ("/tmp", "a.mp4", "/tmp/a.mp4 is not inside of /core/data"),
        ("/", "//core/data/x", "file:/core/data/x"),
        ("/", "/../core/data/x", "file:/core/data/x"),
        # Core compares plain string prefixes; we require a path boundary.
        ("/", "/core/database/x", "/core/database/x is not inside of /core/data"),
        ("/", "/core/data", "file:/core/data"),
    ],
)
def test_relative_output_paths_resolve_against_the_working_directory(
    cwd: str, address: str, outcome: str
) -> None:
    policy = AddressPolicy(disk_dir="/core/data", cwd=cwd)
    try:
        result = normalize_output_address(address, policy)
    except ConfigError as error:
        result = str(error)
    assert result == outcome


@pytest.mark.parametrize("address", ["[", "[f=null", "[[x", "[a|[b"])
def test_an_unclosed_tee_options_block_is_a_plain_address_not_endless_recursion(
    address: str,
) -> None:
    # Core recurses on such an address until its stack overflows; here it is a file name.
    with pytest.raises(ConfigError, match="is not inside of"):
        normalize_output_address(address, AddressPolicy(disk_dir="/core/data", cwd="/"))
    assert normalize_output_address(
        address, AddressPolicy(disk_dir="/core/data", cwd="/core/data")
    ) == "|".join(f"file:/core/data/{part}" for part in address.split("|"))


def test_thousands_of_tee_options_blocks_are_stripped_without_deep_recursion() -> None:
    address = "[f=null]" * 5000 + "-"
    policy = AddressPolicy(disk_dir="/core/data", cwd="/")
    assert normalize_output_address(address, policy) == "[f=null]" * 5000 + "pipe:"


def test_tee_part_options_block_is_stripped_only_at_the_start() -> None:
    with pytest.raises(ConfigError, match="is not inside of"):
        normalize_output_address("x[f=null]-", AddressPolicy(disk_dir="/core/data", cwd="/"))


# --------------------------------------------------------------------------- allow/block lists

ALLOW = AddressPolicy(
    disk_dir="/core/data",
    input_allow=("^https?://",),
    output_allow=("^https?://", "^rtmp://"),
)


def test_allow_list_rejects_a_lavfi_input() -> None:
    with pytest.raises(ConfigError, match=r"^address is not allowed$"):
        validate_input_address("testsrc=size=1280x720:rate=25", ALLOW)


def test_allow_list_accepts_an_http_input() -> None:
    validate_input_address("http://example.com/live.m3u8", ALLOW)


@pytest.mark.parametrize(
    "address",
    [
        "http://example.com/live.m3u8",
        "[f=flv]http://example.com/live.flv",
        "[f=hls]http://example.com/live.m3u8|[f=flv]rtmp://example.com/live/x",
    ],
)
def test_allow_list_accepts_http_and_rtmp_outputs(address: str) -> None:
    assert normalize_output_address(address, ALLOW) == address


@pytest.mark.parametrize("address", ["/core/data/x.mp4", "-x", "srt://example.com:6000"])
def test_allow_list_rejects_other_outputs(address: str) -> None:
    with pytest.raises(ConfigError, match=r"^address is not allowed$|is not inside"):
        normalize_output_address(address, ALLOW)


def test_dev_output_is_checked_against_the_lists_as_file_url() -> None:
    policy = AddressPolicy(disk_dir="/core/data", output_block=("^file:/dev/",))
    with pytest.raises(ConfigError, match=r"^address is not allowed$"):
        normalize_output_address("/dev/null", policy)


def test_disk_output_is_checked_against_the_lists_as_file_url() -> None:
    policy = AddressPolicy(disk_dir="/core/data", output_allow=("^file:/core/data/ok",))
    assert normalize_output_address("/core/data/ok.mp4", policy) == "file:/core/data/ok.mp4"
    with pytest.raises(ConfigError, match=r"^address is not allowed$"):
        normalize_output_address("/core/data/no.mp4", policy)


def test_block_list_wins_over_allow_list() -> None:
    policy = AddressPolicy(disk_dir="/d", input_allow=("^rtmp://",), input_block=("secret",))
    with pytest.raises(ConfigError, match=r"^address is not allowed$"):
        validate_input_address("rtmp://host/secret", policy)


def test_expressions_are_searched_anywhere() -> None:
    policy = AddressPolicy(disk_dir="/d", input_block=("evil",))
    with pytest.raises(ConfigError):
        validate_input_address("rtmp://host/evil/x", policy)


def test_empty_expressions_are_ignored() -> None:
    policy = AddressPolicy(disk_dir="/d", input_allow=("", "  "))
    validate_input_address("anything", policy)


def test_an_invalid_expression_is_refused_when_the_policy_is_made() -> None:
    with pytest.raises(ValueError, match="invalid expression"):
        AddressPolicy(disk_dir="/d", output_block=("(",))


def test_local_file_inputs_are_not_confined_to_the_storage_directory() -> None:
    validate_input_address("/etc/passwd", CORE)


# --------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("http://example.com", True),
        ("rtmp://host/app", True),
        ("file:/x", True),
        ("file:///x", True),
        ("a.b+c-d://x", True),
        ("HTTP://x", True),
        ("/core/data/x", False),
        ("-", False),
        ("testsrc=size=1280x720:rate=25", False),
        ("1http://x", False),
        ("pipe:1", False),
    ],
)
def test_url_scheme_detection(address: str, expected: bool) -> None:
    assert has_url_scheme(address) is expected


@pytest.mark.parametrize(
    "address",
    [
        "rtmp://user:pw@host:1935/app/stream?token=x",
        "srt://host:6000?mode=caller&streamid=a,mode:publish",
        "http://[::1]:8080/memfs/x.m3u8",
        "udp://@:1234",
        "file:///etc/passwd",
        "http://host:/x",
        "http://h%C3%A4st/x",
        "http://host/path with spaces#frag ment",
        "rtmp://host/a{b}|c",
    ],
)
def test_valid_urls_pass(address: str) -> None:
    validate_url(address)


@pytest.mark.parametrize(
    ("address", "error"),
    [
        ("rtmp://host:abc/x", 'parse "//host:abc": invalid port ":abc" after host'),
        ("http://h:\u200b/", 'parse "//h:\\u200b": invalid port ":\\u200b" after host'),
        ("http://h:\U000e0001/", 'parse "//h:\\U000e0001": invalid port ":\\U000e0001" after host'),
        ("http://[::1/x", """parse "//[::1": missing ']' in host"""),
        ("http://[::1]x/", """parse "//[::1]x": invalid port "x" after host"""),
        ("http://us er@host/", 'parse "//us er@host": net/url: invalid userinfo'),
        ("http://u%zz@host/", 'parse "//u%zz@host": invalid URL escape "%zz"'),
        ("http://ho st/", 'parse "//ho st": invalid character " " in host name'),
        ("http://host%/", 'parse "//host%": invalid URL escape "%"'),
        ("http://h%41/", 'parse "//h%41": invalid URL escape "%41"'),
        ("http://ho\x01st/", 'parse "//ho\\x01st": net/url: invalid control character in URL'),
        ("http://ho\\st/", 'parse "//ho\\\\st": invalid character "\\\\" in host name'),
        (
            "http://h\u00e4\x7f/",
            'parse "//h\u00e4\\x7f": net/url: invalid control character in URL',
        ),
    ],
)
def test_invalid_urls_give_go_parse_errors(address: str, error: str) -> None:
    with pytest.raises(ConfigError) as raised:
        validate_url(address)
    assert str(raised.value) == error


def test_input_url_must_parse() -> None:
    with pytest.raises(ConfigError, match="invalid port"):
        validate_input_address("rtmp://host:abc/x", CORE)


def test_output_url_must_parse() -> None:
    with pytest.raises(ConfigError, match="invalid port"):
        normalize_output_address("file:rtmp://host:abc/x", CORE)


# --------------------------------------------------------------------------- whole process


def process(**fields: Any) -> ProcessConfig:
    data: dict[str, Any] = {
        "id": "p",
        "input": [{"id": "i", "address": "testsrc", "options": ["-f", "lavfi"]}],
        "output": [{"id": "o", "address": "-"}],
    }
    data.update(fields)
    return ProcessConfig.model_validate(data)


def error_of(config: ProcessConfig, policy: AddressPolicy = CORE) -> str:
    with pytest.raises(ConfigError) as raised:
        validate_process(config, policy)
    return str(raised.value)


def test_a_valid_process_passes() -> None:
    validate_process(process(), CORE)


@pytest.mark.parametrize("pid", ["", "  ", "\t\n"])
def test_empty_process_id_is_refused(pid: str) -> None:
    assert error_of(process(id=pid)) == "an empty ID is not allowed"


def test_at_least_one_input() -> None:
    assert error_of(process(input=[])) == "at least one input must be defined for the process 'p'"


def test_at_least_one_output() -> None:
    assert error_of(process(output=[])) == (
        "at least one output must be defined for the process '#p'"
    )


@pytest.mark.parametrize(("direction", "pid"), [("input", ""), ("output", "  ")])
def test_empty_io_ids_are_refused(direction: str, pid: str) -> None:
    config = process(**{direction: [{"id": pid, "address": "-"}]})
    assert error_of(config) == f"empty {direction} IDs are not allowed (process 'p')"


def test_duplicate_input_id_is_refused() -> None:
    config = process(input=[{"id": "video", "address": "a"}, {"id": " video ", "address": "b"}])
    assert error_of(config) == "the input ID 'video' is already in use for the process `p`"


def test_duplicate_output_id_is_refused() -> None:
    config = process(output=[{"id": "o", "address": "-"}, {"id": "o", "address": "-"}])
    assert error_of(config) == "the output ID 'o' is already in use for the process `p`"


def test_an_input_and_an_output_may_share_an_id() -> None:
    validate_process(process(output=[{"id": "i", "address": "-"}]), CORE)


@pytest.mark.parametrize("address", ["", "   "])
def test_empty_output_address_is_refused(address: str) -> None:
    config = process(output=[{"id": "o", "address": address}])
    assert error_of(config) == "the address for output '#p:o' must not be empty"


def test_empty_input_address_is_refused() -> None:
    config = process(input=[{"id": "i", "address": " "}])
    assert error_of(config) == "the address for input '#p:i' must not be empty"


def test_invalid_output_address_names_the_output() -> None:
    config = process(output=[{"id": "o", "address": "/etc/x"}])
    assert error_of(config) == (
        "the address for output '#p:o' is invalid: /etc/x is not inside of /core/data"
    )


def test_invalid_input_address_names_the_input_and_its_trimmed_address() -> None:
    config = process(input=[{"id": " i ", "address": " testsrc "}])
    assert error_of(config, ALLOW) == (
        "the address for input '#p:i' (testsrc) is invalid: address is not allowed"
    )


def test_addresses_are_checked_trimmed() -> None:
    validate_process(process(output=[{"id": "o", "address": "  -  "}]), CORE)


def test_one_io_is_checked_completely_before_the_next() -> None:
    config = process(
        input=[{"id": "a", "address": "rtmp://h:x/"}, {"id": "a", "address": "b"}],
    )
    assert error_of(config).startswith("the address for input '#p:a' (rtmp://h:x/) is invalid")


def test_inputs_are_checked_before_outputs() -> None:
    config = process(input=[{"id": "i", "address": ""}], output=[{"id": "o", "address": ""}])
    assert "input" in error_of(config)


def test_validation_does_not_trim_the_config() -> None:
    config = process(output=[{"id": " o ", "address": " - "}])
    validate_process(config, CORE)
    assert (config.output[0].id, config.output[0].address) == (" o ", " - ")
