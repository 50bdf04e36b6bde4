"""Placeholders (spec §5): the generic replacer, the location table §5.2, the settings helpers."""

from __future__ import annotations

from typing import Any

import pytest

from ffmpeg_operator.core.models import ProcessConfig
from ffmpeg_operator.core.placeholders import (
    PlaceholderSettings,
    Replacer,
    http_service_url,
    memfs_url,
    resolve_placeholders,
    rtmp_template,
    srt_template,
)

# --------------------------------------------------------------------------- Replacer (§5.6)

V = ";:.,-_$\\£!^"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{foobar}", V),
        ("{foobar^:}", ";\\\\:.,-_$\\\\\\£!^"),
        ("{foobar^:}barfoo{foobar^:}", ";\\\\:.,-_$\\\\\\£!^barfoo;\\\\:.,-_$\\\\\\£!^"),
        ("{foobar^:.}", "{foobar^:.}"),
        ("{foobar^}", "{foobar^}"),
        ("{barfoo^:}", "{barfoo^:}"),
        ("{foobar^^}", ";:.,-_$\\\\\\£!\\\\^"),
        ("{foobar^\\}", ";:.,-_$\\\\\\£!^"),
        ("{barfoo}", "{barfoo}"),
    ],
)
def test_core_replace_table(text: str, expected: str) -> None:
    assert Replacer().replace(text, "foobar", V) == expected


def test_placeholder_with_empty_value_and_no_template_becomes_empty() -> None:
    assert Replacer().replace("{foobar}", "foobar", "") == ""


def test_placeholder_of_another_name_is_left_alone() -> None:
    assert Replacer().replace("{foobar}", "barfoo", "x") == "{foobar}"


def test_escape_doubles_backslashes_before_the_escape_char() -> None:
    assert Replacer().replace("{x^:}", "x", "a\\b:c") == "a\\\\\\b\\\\:c"


def test_escape_with_backslash_as_escape_char_triples_backslashes_only() -> None:
    assert Replacer().replace("{x^\\}", "x", "a\\b:c") == "a\\\\\\b:c"


@pytest.fixture
def greeting() -> Replacer:
    replacer = Replacer()
    replacer.register_template("foo:bar", "Hello {who}! {what}?")
    return replacer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{foo:bar,who=World}", "Hello World! {what}?"),
        ("{foo:bar,who=World,what=E%3dmc^2}", "Hello World! E=mc^2?"),
        ("{foo:bar^:,who=World,what=E%3dmc:2}", "Hello World! E=mc\\\\:2?"),
    ],
)
def test_core_template_table(greeting: Replacer, text: str, expected: str) -> None:
    assert greeting.replace(text, "foo:bar") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{foobar}", "Hello someone! something?"),
        ("{foobar,who=World}", "Hello World! something?"),
    ],
)
def test_template_defaults_apply_when_a_parameter_is_missing(text: str, expected: str) -> None:
    replacer = Replacer()
    replacer.register_template(
        "foobar", "Hello {who}! {what}?", {"who": "someone", "what": "something"}
    )
    assert replacer.replace(text, "foobar") == expected


def test_variables_are_substituted_in_parameter_values() -> None:
    replacer = Replacer()
    replacer.register_template("foobar", "Hello {who}!")
    result = replacer.replace(
        "{foobar,who=$processidxxx}", "foobar", "", {"processid": "123456789"}
    )
    assert result == "Hello 123456789xxx!"


def test_variables_are_not_substituted_outside_parameters() -> None:
    replacer = Replacer()
    replacer.register_template("foobar", "$processid {who}")
    result = replacer.replace("{foobar,who=x}$processid", "foobar", "", {"processid": "1"})
    assert result == "$processid x$processid"


def test_glob_pattern_selects_the_template_by_the_placeholder_name() -> None:
    replacer = Replacer()
    replacer.register_template("foo:baz", "Hello foobaz")
    replacer.register_template("foo:bar", "Hello foobar")
    replacer.register_template("foo:123", "Hello 456")
    result = replacer.replace("{foo:baz}, {foo:bar}, {foo:123}", "foo:*")
    assert result == "Hello foobaz, Hello foobar, Hello 456"


def test_glob_star_does_not_cross_the_colon() -> None:
    replacer = Replacer()
    replacer.register_template("fs", "plain")
    assert replacer.replace("{fs}", "fs:*") == "{fs}"


def test_invalid_glob_pattern_replaces_nothing() -> None:
    assert Replacer().replace("{a}", "[", "x") == "{a}"


def test_a_given_value_wins_over_a_registered_template() -> None:
    replacer = Replacer()
    replacer.register_template("foobar", "template")
    assert replacer.replace("{foobar}", "foobar", "value") == "value"


def test_template_function_receives_the_section() -> None:
    replacer = Replacer()
    replacer.register_template("s", lambda section: f"<{section}>")
    assert replacer.replace("{s}", "s", "", None, "output") == "<output>"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("who=a+b%2Cc", "a b,c"),  # `+` is a space, %2C a comma
        ("who=bad%zz", "{who}"),  # a pair that fails to unescape is skipped
        ("who%=x", "{who}"),  # ... also when the key fails
        (",,who=x,", "x"),  # empty pairs are skipped
        ("who", ""),  # a key without `=` has the empty value
        ("who=a=b", "a=b"),  # split on the first `=` only
        ("w%68o=x", "x"),  # keys are unescaped as well
    ],
)
def test_parameters_are_url_query_unescaped(params: str, expected: str) -> None:
    replacer = Replacer()
    replacer.register_template("t", "{who}")
    assert replacer.replace("{t," + params + "}", "t") == expected


def test_parameters_end_at_the_first_closing_brace() -> None:
    replacer = Replacer()
    replacer.register_template("t", "[{who}]")
    assert replacer.replace("{t,who=a}b}", "t") == "[a]b}"


def test_multiline_text_does_not_form_a_placeholder_across_lines() -> None:
    assert Replacer().replace("{x,a=\n}", "x", "v") == "{x,a=\n}"


# --------------------------------------------------------------------------- settings helpers


def test_memfs_url_defaults_to_localhost_without_credentials() -> None:
    assert memfs_url() == "http://localhost:8080/memfs"


def test_memfs_url_includes_basic_auth_credentials() -> None:
    assert memfs_url(":8080", username="admin", password="pw") == (
        "http://admin:pw@localhost:8080/memfs"
    )


def test_memfs_url_keeps_an_address_with_host_verbatim() -> None:
    assert memfs_url("127.0.0.1:8080") == "http://127.0.0.1:8080/memfs"


def test_service_url_escapes_credentials_like_a_url() -> None:
    assert http_service_url(":80", "/x", username="a@b", password="p:w/") == (
        "http://a%40b:p%3Aw%2F@localhost:80/x"
    )


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, "rtmp://localhost:1935/{name}"),
        ({"app": "/live", "token": "abc"}, "rtmp://localhost:1935/live/{name}?token=abc"),
        ({"address": "example.org:1936"}, "rtmp://example.org:1936/{name}"),
        ({"address": "[::1]:1935"}, "rtmp://::1:1935/{name}"),
    ],
)
def test_rtmp_template(kwargs: dict[str, str], expected: str) -> None:
    assert rtmp_template(**kwargs) == expected


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {},
            "srt://localhost:6000?mode=caller&transtype=live&latency={latency}"
            "&streamid={name},mode:{mode}",
        ),
        (
            {"address": "localhost:6000", "token": "abcfoobar", "passphrase": "secret"},
            "srt://localhost:6000?mode=caller&transtype=live&latency={latency}"
            "&streamid={name},mode:{mode},token:abcfoobar&passphrase=secret",
        ),
    ],
)
def test_srt_template(kwargs: dict[str, str], expected: str) -> None:
    assert srt_template(**kwargs) == expected


# --------------------------------------------------------------------------- process level

TEST_REPLACER_SETTINGS = PlaceholderSettings(
    diskfs="/mnt/diskfs",
    memfs="http://localhost/mnt/memfs",
    rtmp="rtmp://localhost/app/{name}?token=foobar",
    srt=srt_template("localhost:6000", token="abcfoobar", passphrase="secret"),
)

SRT = "srt://localhost:6000?mode=caller&transtype=live"


def config(**fields: Any) -> ProcessConfig:
    data: dict[str, Any] = {
        "id": "314159265359",
        "reference": "refref",
        "input": [{"id": "in", "address": "-"}],
        "output": [{"id": "out", "address": "-"}],
    }
    data.update(fields)
    return ProcessConfig.model_validate(data)


def test_replacer_process_level_table() -> None:
    """Core's TestReplacer (§5.6), field by field."""
    stored = config(
        input=[
            {
                "id": "in_{processid}_{reference}",
                "address": "input:{inputid}_process:{processid}_reference:{reference}"
                "_diskfs:{diskfs}/disk.txt_memfs:{memfs}/mem.txt_fsdisk:{fs:disk}/fsdisk.txt"
                "_fsmem:{fs:mem}/fsmem.txt_rtmp:{rtmp,name=pmtr}_srt:{srt,name=trs}"
                "_rtmp:{rtmp,name=$inputid}",
                "options": [
                    "-f",
                    "lavfi",
                    "input:{inputid}",
                    "process:{processid}",
                    "reference:{reference}",
                    "diskfs:{diskfs}/disk.txt",
                    "memfs:{memfs}/mem.txt",
                    "fsmem:{fs:mem}/$inputid.txt",
                ],
            }
        ],
        output=[
            {
                "id": "out_{processid}_{reference}",
                "address": "output:{outputid}_process:{processid}_reference:{reference}"
                "_diskfs:{diskfs}/disk.txt_memfs:{memfs}/mem.txt_fsdisk:{fs:disk}/fsdisk.txt"
                "_fsmem:{fs:mem}/fsmem.txt_rtmp:{rtmp,name=$processid}"
                "_srt:{srt,name=$reference,latency=42}_rtmp:{rtmp,name=$outputid}",
                "options": ["output:{outputid}", "fsmem:{fs:mem}/$outputid.txt"],
                "cleanup": [
                    {"pattern": "pattern_{outputid}_{processid}_{reference}_{rtmp,name=$outputid}"}
                ],
            }
        ],
        options=[
            "-loglevel",
            "info",
            "{diskfs}/foobar_on_disk.txt",
            "{memfs}/foobar_in_mem.txt",
            "{fs:disk}/foobar_on_disk_aswell.txt",
            "{fs:mem}/foobar_in_mem_aswell.txt",
        ],
    )

    resolved = resolve_placeholders(stored, TEST_REPLACER_SETTINGS)

    (io_in,) = resolved.input
    assert io_in.id == "in_314159265359_refref"
    assert io_in.address == (
        "input:in_314159265359_refref_process:314159265359_reference:refref"
        "_diskfs:/mnt/diskfs/disk.txt_memfs:http://localhost/mnt/memfs/mem.txt"
        "_fsdisk:/mnt/diskfs/fsdisk.txt_fsmem:http://localhost/mnt/memfs/fsmem.txt"
        "_rtmp:rtmp://localhost/app/pmtr?token=foobar"
        f"_srt:{SRT}&latency=20000&streamid=trs,mode:request,token:abcfoobar&passphrase=secret"
        "_rtmp:rtmp://localhost/app/in_314159265359_refref?token=foobar"
    )
    assert io_in.options == [
        "-f",
        "lavfi",
        "input:in_314159265359_refref",
        "process:314159265359",
        "reference:refref",
        "diskfs:/mnt/diskfs/disk.txt",
        "memfs:http://localhost/mnt/memfs/mem.txt",
        "fsmem:http://localhost/mnt/memfs/$inputid.txt",
    ]
    (io_out,) = resolved.output
    assert io_out.id == "out_314159265359_refref"
    assert io_out.address == (
        "output:out_314159265359_refref_process:314159265359_reference:refref"
        "_diskfs:/mnt/diskfs/disk.txt_memfs:http://localhost/mnt/memfs/mem.txt"
        "_fsdisk:/mnt/diskfs/fsdisk.txt_fsmem:http://localhost/mnt/memfs/fsmem.txt"
        "_rtmp:rtmp://localhost/app/314159265359?token=foobar"
        f"_srt:{SRT}&latency=42&streamid=refref,mode:publish,token:abcfoobar&passphrase=secret"
        "_rtmp:rtmp://localhost/app/out_314159265359_refref?token=foobar"
    )
    assert io_out.options == [
        "output:out_314159265359_refref",
        "fsmem:http://localhost/mnt/memfs/$outputid.txt",
    ]
    assert io_out.cleanup[0].pattern == (
        "pattern_out_314159265359_refref_314159265359_refref_{rtmp,name=$outputid}"
    )
    assert resolved.options == [
        "-loglevel",
        "info",
        "/mnt/diskfs/foobar_on_disk.txt",
        "{memfs}/foobar_in_mem.txt",
        "/mnt/diskfs/foobar_on_disk_aswell.txt",
        "http://localhost/mnt/memfs/foobar_in_mem_aswell.txt",
    ]


VERIFIED_SETTINGS = PlaceholderSettings(
    diskfs="/core/data",
    memfs="http://admin:pw@localhost:8080/memfs",
    rtmp="rtmp://localhost:1935/live/{name}?token=abc",
    srt=srt_template(":6000", token="abc", passphrase="1234"),
)


@pytest.mark.parametrize(
    ("process_id", "section", "address", "expected"),
    [
        ("a\\b:c", "output", "{processid^:}", "a\\\\\\b\\\\:c"),
        ("a\\b:c", "output", "{processid^\\}", "a\\\\\\b:c"),
        ("a_b", "output", "{processid^_}", "a\\\\_b"),
        ("abc:snap", "output", "{processid^::}", "{processid^::}"),
        (
            "abc:snap",
            "output",
            "{memfs^:}/a.m3u8",
            "http\\\\://admin\\\\:pw@localhost\\\\:8080/memfs/a.m3u8",
        ),
        ("abc:snap", "output", "{rtmp}", "rtmp://localhost:1935/live/{name}?token=abc"),
        (
            "abc:snap",
            "output",
            "{rtmp,name=$processid.stream}",
            "rtmp://localhost:1935/live/abc:snap.stream?token=abc",
        ),
        (
            "abc:snap",
            "output",
            "{rtmp,name=a+b%2Cc}",
            "rtmp://localhost:1935/live/a b,c?token=abc",
        ),
        (
            "abc:snap",
            "input",
            "{srt,name=foo,mode=request}",
            f"{SRT}&latency=20000&streamid=foo,mode:request,token:abc&passphrase=1234",
        ),
        (
            "abc:snap",
            "output",
            "{srt,name=foo}",
            f"{SRT}&latency=20000&streamid=foo,mode:publish,token:abc&passphrase=1234",
        ),
        (
            "abc:snap",
            "output",
            "{srt,name=foo,mode=request}",
            f"{SRT}&latency=20000&streamid=foo,mode:publish,token:abc&passphrase=1234",
        ),
        ("abc:snap", "output", "{fs:aws}/a", "/a"),
        ("abc:snap", "output", "{fs:a-b}/x", "{fs:a-b}/x"),
        ("abc:snap", "output", "{PROCESSID}", "{PROCESSID}"),
        ("abc:snap", "output", "{unknown}", "{unknown}"),
        ("abc:snap", "output", "{processid", "{processid"),
        ("abc:snap", "output", "{processid,foo=bar}", "abc:snap"),
        ("abc:snap", "output", "{x^ab}", "{x^ab}"),
    ],
)
def test_additional_verified_cases(
    process_id: str, section: str, address: str, expected: str
) -> None:
    io = {"id": "io", "address": address}
    stored = config(id=process_id, **{section: [io]})
    resolved = resolve_placeholders(stored, VERIFIED_SETTINGS)
    assert getattr(resolved, section)[0].address == expected


# --------------------------------------------------------------------------- table §5.2

ALL = (
    "{inputid}|{outputid}|{processid}|{reference}|{diskfs}|{memfs}|{fs:disk}|{fs:mem}"
    "|{fs:s3}|{rtmp,name=n}|{srt,name=n}"
)
SETTINGS = PlaceholderSettings(
    diskfs="/d",
    memfs="http://m",
    rtmp="rtmp://r/{name}",
    srt="srt://s/{name}/{mode}/{latency}",
    storages={"s3": "http://s3", "disk": "http://ignored", "memfs": "http://ignored"},
)


def resolve_all(**fields: Any) -> ProcessConfig:
    return resolve_placeholders(config(id="P", reference="R", **fields), SETTINGS)


def test_global_options_replace_only_file_systems() -> None:
    resolved = resolve_all(options=[ALL])
    assert resolved.options == [
        "{inputid}|{outputid}|{processid}|{reference}|/d|{memfs}|/d|http://m|http://s3"
        "|{rtmp,name=n}|{srt,name=n}"
    ]


def test_input_id_replaces_only_processid_and_reference() -> None:
    resolved = resolve_all(input=[{"id": ALL, "address": "-"}])
    assert resolved.input[0].id == (
        "{inputid}|{outputid}|P|R|{diskfs}|{memfs}|{fs:disk}|{fs:mem}|{fs:s3}"
        "|{rtmp,name=n}|{srt,name=n}"
    )


def test_output_id_replaces_only_processid_and_reference() -> None:
    resolved = resolve_all(output=[{"id": ALL, "address": "-"}])
    assert resolved.output[0].id == (
        "{inputid}|{outputid}|P|R|{diskfs}|{memfs}|{fs:disk}|{fs:mem}|{fs:s3}"
        "|{rtmp,name=n}|{srt,name=n}"
    )


def test_input_address_replaces_everything_but_outputid() -> None:
    resolved = resolve_all(input=[{"id": "i", "address": ALL}])
    assert resolved.input[0].address == (
        "i|{outputid}|P|R|/d|http://m|/d|http://m|http://s3|rtmp://r/n|srt://s/n/request/20000"
    )


def test_output_address_replaces_everything_but_inputid() -> None:
    resolved = resolve_all(output=[{"id": "o", "address": ALL}])
    assert resolved.output[0].address == (
        "{inputid}|o|P|R|/d|http://m|/d|http://m|http://s3|rtmp://r/n|srt://s/n/publish/20000"
    )


def test_input_options_replace_no_stream_templates() -> None:
    resolved = resolve_all(input=[{"id": "i", "address": "-", "options": [ALL]}])
    assert resolved.input[0].options == [
        "i|{outputid}|P|R|/d|http://m|/d|http://m|http://s3|{rtmp,name=n}|{srt,name=n}"
    ]


def test_output_options_replace_no_stream_templates() -> None:
    resolved = resolve_all(output=[{"id": "o", "address": "-", "options": [ALL]}])
    assert resolved.output[0].options == [
        "{inputid}|o|P|R|/d|http://m|/d|http://m|http://s3|{rtmp,name=n}|{srt,name=n}"
    ]


def test_cleanup_pattern_replaces_only_outputid_processid_reference() -> None:
    resolved = resolve_all(output=[{"id": "o", "address": "-", "cleanup": [{"pattern": ALL}]}])
    assert resolved.output[0].cleanup[0].pattern == (
        "{inputid}|o|P|R|{diskfs}|{memfs}|{fs:disk}|{fs:mem}|{fs:s3}|{rtmp,name=n}|{srt,name=n}"
    )


def test_variables_in_global_options_know_processid_and_reference() -> None:
    replacer_settings = PlaceholderSettings(diskfs="/d", memfs="", storages={"x": "<{name}>"})
    stored = config(id="P", reference="R", options=["{fs:x,name=$processid-$reference-$inputid}"])
    assert resolve_placeholders(stored, replacer_settings).options == ["<P-R-$inputid>"]


def test_io_id_placeholders_use_the_resolved_io_id() -> None:
    resolved = resolve_all(input=[{"id": "in_{processid}", "address": "{inputid}/$inputid"}])
    assert resolved.input[0].address == "in_P/$inputid"


def test_replacement_is_sequential_so_inserted_text_is_matched_later() -> None:
    stored = config(
        id="a{reference}", reference="r", output=[{"id": "o", "address": "{processid}"}]
    )
    assert resolve_placeholders(stored, SETTINGS).output[0].address == "ar"


def test_empty_reference_replaces_with_empty_text() -> None:
    stored = config(reference="", output=[{"id": "o", "address": "x{reference}y"}])
    assert resolve_placeholders(stored, SETTINGS).output[0].address == "xy"


def test_reserved_storage_names_do_not_override_disk_and_mem() -> None:
    resolved = resolve_all(output=[{"id": "o", "address": "{fs:disk}|{fs:memfs}|{fs:diskfs}"}])
    assert resolved.output[0].address == "/d||"


def test_srt_latency_parameter_overrides_the_default() -> None:
    resolved = resolve_all(output=[{"id": "o", "address": "{srt,name=n,latency=42}"}])
    assert resolved.output[0].address == "srt://s/n/publish/42"


def test_resolving_leaves_the_stored_config_untouched() -> None:
    stored = config(output=[{"id": "o", "address": "{processid}"}])
    resolve_placeholders(stored, SETTINGS)
    assert stored.output[0].address == "{processid}"
