"""The configuration document and the rules of PUT /api/v3/config (pure)."""

from __future__ import annotations

import dataclasses

import pytest

from ffmpeg_operator.core.coreconfig import (
    ConfigFacts,
    ConfigInvalidError,
    ConfigRejectedError,
    StoredSettings,
    apply_put,
    changed_fields,
    config_data,
    merge,
    settings_from_json,
)

FACTS = ConfigFacts(
    instance_id="id-1",
    address=":8080",
    disk_dir="/data/disk",
    db_dir="/data",
    ffmpeg_binary="/usr/bin/ffmpeg",
    memfs_username="admin",
    memfs_password="pw",
    settings=StoredSettings(),
)


def test_media_server_urls_become_rtmp_and_srt_settings() -> None:
    facts = dataclasses.replace(
        FACTS, rtmp_url="rtmp://media.example:1936/live/app", srt_url="srt://media.example"
    )
    config = config_data(facts)
    assert config["rtmp"]["enable"] is True
    assert config["rtmp"]["address"] == "media.example:1936"
    assert config["rtmp"]["app"] == "/live/app"
    assert config["srt"]["address"] == "media.example:6000"


def test_rtmps_url_is_a_tls_address() -> None:
    config = config_data(dataclasses.replace(FACTS, rtmp_url="rtmps://m.example/live"))
    assert config["rtmp"]["enable_tls"] is True
    assert config["rtmp"]["address_tls"] == "m.example:1935"


def test_without_a_media_server_rtmp_and_srt_are_off() -> None:
    config = config_data(FACTS)
    assert config["rtmp"]["enable"] is False
    assert config["srt"]["enable"] is False


def test_merge_decodes_like_go_into_a_filled_struct() -> None:
    current = {"a": {"b": 1, "c": [1]}, "d": "x"}
    merged = merge(current, {"a": {"c": [2, 3]}, "d": None, "unknown": 5})
    assert merged == {"a": {"b": 1, "c": [2, 3]}, "d": "x"}
    assert current == {"a": {"b": 1, "c": [1]}, "d": "x"}


@pytest.mark.parametrize("given", [{"a": {"b": "1"}}, {"a": {"b": True}}, {"a": []}])
def test_merge_refuses_a_value_of_another_type(given: dict[str, object]) -> None:
    with pytest.raises(ConfigInvalidError):
        merge({"a": {"b": 1}}, given)


def test_changed_fields_are_dotted_leaves() -> None:
    before = {"a": {"b": 1, "c": 2}, "d": []}
    assert changed_fields(before, {"a": {"b": 1, "c": 3}, "d": ["x"]}) == ["a.c", "d"]


def test_registration_body_of_the_ui_gives_the_settings() -> None:
    body = {"api": {"auth": {"enable": True, "username": "u", "password": "p"}}, "version": 3}
    settings = apply_put(FACTS, body)
    assert settings == StoredSettings(auth_enable=True, auth_username="u", auth_password="p")


def test_the_whole_document_sent_back_unchanged_is_accepted() -> None:
    assert apply_put(FACTS, {**config_data(FACTS)}) == FACTS.settings


def test_overridden_fields_cannot_change() -> None:
    facts = dataclasses.replace(FACTS, overrides=("api.auth.password",))
    with pytest.raises(ConfigRejectedError) as raised:
        apply_put(facts, {"version": 3, "api": {"auth": {"password": "new"}}})
    assert list(raised.value.reasons) == ["api.auth.password"]


def test_host_names_and_name_can_change() -> None:
    settings = apply_put(FACTS, {"version": 3, "name": "studio", "host": {"name": ["a.example"]}})
    assert (settings.name, settings.host_names) == ("studio", ("a.example",))


def test_stored_settings_round_trip_through_json() -> None:
    settings = StoredSettings("n", ("h",), True, "u", "p")
    assert settings_from_json(settings.to_json()) == settings


@pytest.mark.parametrize("document", [[], {"api": {}}, {"api": {"auth": {"enable": "yes"}}}])
def test_malformed_stored_settings_are_refused(document: object) -> None:
    with pytest.raises(ValueError):
        settings_from_json(document)
