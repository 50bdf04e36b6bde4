"""Spec §12 acceptance, commands and delete at status/body level (cases 25, 27, 28, 34; §3.4, §3.5).

What the commands do to a running ffmpeg over time is the lifecycle suite's job.
"""

from __future__ import annotations

import httpx
import psutil
import pytest
from acceptance_helpers import (
    command,
    create,
    error_body,
    fixture,
    light_fixture,
    process_url,
    state,
    wait_for,
)


@pytest.fixture
def api(backend_api: httpx.Client) -> httpx.Client:
    """Every case here is backend-independent: it runs on both backends."""
    return backend_api


def ffmpeg_with_marker(marker: str) -> list[psutil.Process]:
    """Live OS processes whose command line carries ``marker`` (our ffmpeg children)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if any(marker in arg for arg in cmdline):
            found.append(proc)
    return found


def marked_fixture() -> dict[str, object]:
    """A light running config whose ffmpeg command line names the process ID."""
    config = light_fixture(autostart=True, reconnect=False)
    config["output"][0]["options"] = ["-f", "null", "-metadata", f"comment={config['id']}"]
    return config


# --- case 25 --------------------------------------------------------------------------------


def test_start_command_answers_ok_and_sets_order_start(api: httpx.Client) -> None:
    config = create(api, light_fixture(reconnect=False))
    response = command(api, config["id"], "start")
    assert response.status_code == 200
    assert response.text == '"OK"'
    assert state(api, config["id"])["order"] == "start"


def test_start_command_twice_is_a_no_op(api: httpx.Client) -> None:
    config = create(api, light_fixture(reconnect=False))
    assert command(api, config["id"], "start").status_code == 200
    response = command(api, config["id"], "start")
    assert response.status_code == 200
    assert response.json() == "OK"
    assert state(api, config["id"])["order"] == "start"


def test_stop_command_on_stopped_process_is_ok(api: httpx.Client) -> None:
    config = create(api, fixture())
    response = command(api, config["id"], "stop")
    assert (response.status_code, response.text) == (200, '"OK"')
    assert state(api, config["id"])["order"] == "stop"


@pytest.mark.parametrize("verb", ["restart", "reload"])
def test_restart_and_reload_of_stopped_process_are_ok(api: httpx.Client, verb: str) -> None:
    config = create(api, fixture())
    response = command(api, config["id"], verb)
    assert (response.status_code, response.text) == (200, '"OK"')
    assert state(api, config["id"])["order"] == "stop"


# --- case 27, 28: command errors ----------------------------------------------------------------


def test_command_on_unknown_process_is_400_command_failed(api: httpx.Client) -> None:
    response = command(api, "acc-unknown", "start")
    assert response.status_code == 400
    assert response.json() == error_body(400, "Command failed", "unknown process")


def test_unknown_command_is_rejected(api: httpx.Client) -> None:
    config = create(api, fixture())
    response = command(api, config["id"], "foobar")
    assert response.status_code == 400
    assert response.json() == error_body(
        400, "Unknown command provided", "Known commands are: start, stop, reload, restart"
    )


@pytest.mark.parametrize("body", [{}, {"command": ""}, {"command": None}])
def test_missing_command_is_invalid_json(api: httpx.Client, body: object) -> None:
    config = create(api, fixture())
    response = api.put(process_url(config["id"], "/command"), json=body)
    assert response.status_code == 400
    assert response.json() == error_body(
        400,
        "Invalid JSON",
        "Key: 'Command.Command' Error:Field validation for 'Command' failed on the 'required' tag",
    )


def test_command_body_must_be_json_content(api: httpx.Client) -> None:
    config = create(api, fixture())
    response = api.put(
        process_url(config["id"], "/command"),
        content=b'{"command":"start"}',
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 400
    assert response.json() == error_body(
        400, "Invalid JSON", "request doesn't contain JSON content"
    )
    assert state(api, config["id"])["order"] == "stop"


def test_command_verb_is_case_sensitive(api: httpx.Client) -> None:
    config = create(api, fixture())
    response = command(api, config["id"], "START")
    assert response.status_code == 400
    assert response.json()["message"] == "Unknown command provided"


# --- case 34: delete ----------------------------------------------------------------------------


@pytest.mark.needs_operator
def test_delete_running_process_answers_ok_after_ffmpeg_exited(api: httpx.Client) -> None:
    config = create(api, marked_fixture())
    wait_for(api, config["id"], lambda s: s["exec"] == "running" and s["progress"]["frame"] > 0)
    assert ffmpeg_with_marker(config["id"])
    response = api.delete(process_url(config["id"]))
    assert (response.status_code, response.text) == (200, '"OK"')
    assert ffmpeg_with_marker(config["id"]) == []
    assert api.get(process_url(config["id"])).status_code == 404


def test_delete_removes_the_metadata(api: httpx.Client) -> None:
    config = create(api, fixture())
    api.put(process_url(config["id"], "/metadata/foo"), json=1)
    assert api.delete(process_url(config["id"])).status_code == 200
    create(api, config)
    assert api.get(process_url(config["id"], "/metadata")).json() is None


def test_delete_unknown_process_is_404(api: httpx.Client) -> None:
    response = api.delete(process_url("acc-foobar"))
    assert response.status_code == 404
    assert response.json() == error_body(404, "Unknown process ID", "unknown process")
