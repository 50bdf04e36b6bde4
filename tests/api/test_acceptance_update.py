"""Spec §12 acceptance, updating: PUT /api/v3/process/{id} (cases 17–23; §3.3)."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from acceptance_helpers import (
    FIXTURE_F,
    create,
    error_body,
    fixture,
    process_url,
    wait_until,
)


@pytest.fixture
def api(backend_api: httpx.Client) -> httpx.Client:
    """Every case here is backend-independent: it runs on both backends."""
    return backend_api


def put(api: httpx.Client, pid: str, body: object) -> httpx.Response:
    return api.put(process_url(pid), json=body)


def cannot_update(*details: str) -> dict[str, object]:
    return error_body(400, "Process can't be updated", *details)


def next_second(after: int) -> None:
    """Wait until the Unix second is past ``after``, so a reset timestamp is visible."""
    wait_until(lambda: int(time.time()) > after, timeout=2.0, what="next second")


# --- case 17, 18: replace and rename ----------------------------------------------------------


def test_put_same_config_replaces_and_keeps_the_process(api: httpx.Client) -> None:
    config = create(api, fixture())
    response = put(api, config["id"], {**FIXTURE_F, "id": config["id"]})
    assert response.status_code == 200
    assert response.json() == config
    assert api.get(process_url(config["id"])).status_code == 200


def test_put_with_other_id_renames_the_process(api: httpx.Client) -> None:
    config = create(api, fixture())
    renamed = f"{config['id']}-2"
    response = put(api, config["id"], {**FIXTURE_F, "id": renamed})
    assert response.status_code == 200
    assert response.json()["id"] == renamed
    assert api.get(process_url(config["id"])).status_code == 404
    assert api.get(process_url(renamed)).json()["id"] == renamed


def test_put_rename_moves_the_metadata(api: httpx.Client) -> None:
    config = create(api, fixture())
    api.put(process_url(config["id"], "/metadata/foo"), json={"a": 1})
    renamed = f"{config['id']}-2"
    assert put(api, config["id"], {"id": renamed}).status_code == 200
    assert api.get(process_url(renamed, "/metadata")).json() == {"foo": {"a": 1}}


# --- case 19–21: errors ------------------------------------------------------------------------


def test_put_invalid_config_is_rejected_and_keeps_the_old(api: httpx.Client) -> None:
    config = create(api, fixture())
    body = json.loads(json.dumps(config))
    body["output"][0]["address"] = ""
    response = put(api, config["id"], body)
    assert response.status_code == 400
    assert response.json() == cannot_update(
        f"the address for output '#{config['id']}:null' must not be empty"
    )
    assert api.get(process_url(config["id"], "/config")).json() == config


def test_put_unknown_process_is_404_process_not_found(api: httpx.Client) -> None:
    response = put(api, "acc-unknown", FIXTURE_F)
    assert response.status_code == 404
    assert response.json() == error_body(404, "Process not found", "acc-unknown")


def test_put_unknown_process_is_404_before_the_body_is_read(api: httpx.Client) -> None:
    response = api.put(
        process_url("acc-unknown"), content=b"not json", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 404
    assert response.json() == error_body(404, "Process not found", "acc-unknown")


def test_put_rename_onto_existing_id_is_rejected(api: httpx.Client) -> None:
    first, second = create(api, fixture()), create(api, fixture())
    response = put(api, second["id"], {"id": first["id"]})
    assert response.status_code == 400
    assert response.json() == cannot_update("process already exists")
    assert api.get(process_url(second["id"], "/config")).json() == second


def test_put_text_plain_body_is_invalid_json(api: httpx.Client) -> None:
    config = create(api, fixture())
    response = api.put(
        process_url(config["id"]), content=b"{}", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 400
    assert response.json() == error_body(
        400, "Invalid JSON", "request doesn't contain JSON content"
    )


def test_put_type_error_is_invalid_json(api: httpx.Client) -> None:
    config = create(api, fixture())
    response = api.put(
        process_url(config["id"]),
        content=b'{"reconnect":"yes"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json() == error_body(
        400,
        "Invalid JSON",
        "expect type 'bool' for 'reconnect' at line 1, character 19: json: cannot unmarshal "
        "string into Go struct field ProcessConfig.reconnect of type bool",
    )


def test_put_empty_input_array_fails_process_validation(api: httpx.Client) -> None:
    config = create(api, fixture())
    response = put(api, config["id"], {"input": []})
    assert response.status_code == 400
    assert response.json() == cannot_update(
        f"at least one input must be defined for the process '{config['id']}'"
    )
    assert api.get(process_url(config["id"], "/config")).json() == config


def test_put_null_input_fails_the_required_tag(api: httpx.Client) -> None:
    config = create(api, fixture())
    response = put(api, config["id"], {"input": None})
    assert response.status_code == 400
    assert response.json() == error_body(
        400,
        "Invalid JSON",
        "Key: 'ProcessConfig.Input' Error:Field validation for 'Input' failed on the "
        "'required' tag",
    )


def test_put_empty_type_is_stored_as_ffmpeg(api: httpx.Client) -> None:
    config = create(api, fixture())
    response = put(api, config["id"], {"type": ""})
    assert response.status_code == 200
    assert response.json()["type"] == "ffmpeg"


# --- case 22, 23: partial updates merge into the stored config ---------------------------------


def test_partial_put_keeps_everything_not_sent(api: httpx.Client) -> None:
    config = create(api, fixture(options=["-loglevel", "info"]))
    response = put(api, config["id"], {"reconnect": False})
    assert response.status_code == 200
    assert response.json() == {**config, "reconnect": False}


def test_partial_put_resets_created_and_updated_at(api: httpx.Client) -> None:
    config = create(api, fixture())
    before = api.get(process_url(config["id"]), params={"filter": "all"}).json()
    next_second(before["created_at"])
    assert put(api, config["id"], {"reconnect": False}).status_code == 200
    after = api.get(process_url(config["id"]), params={"filter": "all"}).json()
    assert after["created_at"] > before["created_at"]
    assert after["updated_at"] == after["created_at"]


def test_partial_put_merges_input_into_the_same_index(api: httpx.Client) -> None:
    config = create(api, fixture())
    response = put(api, config["id"], {"input": [{"address": "testsrc2"}]})
    assert response.status_code == 200
    assert response.json()["input"] == [
        {"id": "video", "address": "testsrc2", "options": ["-f", "lavfi", "-re"]}
    ]


def test_partial_put_shorter_array_drops_the_rest(api: httpx.Client) -> None:
    config = fixture()
    config["input"].append({"id": "audio", "address": "anullsrc", "options": ["-f", "lavfi"]})
    created = create(api, config)
    response = put(api, created["id"], {"input": [{"address": "testsrc2"}]})
    assert [io["id"] for io in response.json()["input"]] == ["video"]


def test_partial_put_limits_merge_field_wise(api: httpx.Client) -> None:
    config = create(api, fixture(limits={"memory_mbytes": 100, "waitfor_seconds": 5}))
    response = put(api, config["id"], {"limits": {"cpu_usage": 10}})
    assert response.json()["limits"] == {
        "cpu_usage": 10,
        "memory_mbytes": 100,
        "waitfor_seconds": 5,
    }


def test_partial_put_null_limits_keep_the_limits(api: httpx.Client) -> None:
    config = create(api, fixture(limits={"memory_mbytes": 100}))
    response = put(api, config["id"], {"limits": None})
    assert response.json()["limits"]["memory_mbytes"] == 100


def test_partial_put_null_empties_an_array(api: httpx.Client) -> None:
    config = create(api, fixture())
    response = put(api, config["id"], {"output": [{"options": None}]})
    assert response.json()["output"][0]["options"] == []


def test_partial_put_autostart_does_not_start(api: httpx.Client) -> None:
    config = create(api, fixture())
    response = put(api, config["id"], {"autostart": True})
    assert response.json()["autostart"] is True
    assert api.get(process_url(config["id"], "/state")).json()["order"] == "stop"


def test_partial_put_regenerates_emptied_io_ids(api: httpx.Client) -> None:
    config = create(api, fixture())
    response = put(api, config["id"], {"output": [{"id": ""}]})
    new_id = response.json()["output"][0]["id"]
    assert len(new_id) == 22
    assert new_id != "null"
