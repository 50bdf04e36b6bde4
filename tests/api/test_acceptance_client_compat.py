"""Spec §12 acceptance, the official Python client (case 44; §13).

The client (datarhei/core-client-python) posts ``ProcessConfig.model_dump()``: every optional
field of its v16/v17 models is present, most as ``null``. The bodies below are what that dump
produces for a config built from fixture F (field order as in the client's models).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from acceptance_helpers import create, fixture, process_url


@pytest.fixture
def api(backend_api: httpx.Client) -> httpx.Client:
    """Every case here is backend-independent: it runs on both backends."""
    return backend_api


def client_io(io_id: str, address: str, options: list[str] | None) -> dict[str, Any]:
    return {"address": address, "cleanup": None, "id": io_id, "options": options}


def client_dump(pid: str, **overrides: Any) -> dict[str, Any]:
    """``ProcessConfig(...).model_dump()`` of the Python client, with its model defaults."""
    return {
        "autostart": False,
        "id": pid,
        "input": [client_io("video", "testsrc=size=1280x720:rate=25", ["-f", "lavfi", "-re"])],
        "limits": None,
        "options": [],
        "output": [client_io("null", "-", None)],
        "reconnect": True,
        "reconnect_delay_seconds": 60,
        "reference": "",
        "stale_timeout_seconds": 10,
        "scheduler": None,
        "runtime_duration_seconds": None,
        "log_patterns": None,
        "type": "ffmpeg",
        "binary": None,
        "domain": None,
        "owner": None,
        "metadata": None,
        **overrides,
    }


def test_client_model_dump_with_nulls_is_accepted(api: httpx.Client) -> None:
    pid = fixture()["id"]
    response = api.post("/api/v3/process", json=client_dump(pid))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": pid,
        "type": "ffmpeg",
        "reference": "",
        "input": [
            {"id": "video", "address": "testsrc=size=1280x720:rate=25",
             "options": ["-f", "lavfi", "-re"]}
        ],
        "output": [{"id": "null", "address": "-", "options": []}],
        "options": [],
        "reconnect": True,
        "reconnect_delay_seconds": 60,
        "autostart": False,
        "stale_timeout_seconds": 10,
        "limits": {"cpu_usage": 0, "memory_mbytes": 0, "waitfor_seconds": 0},
    }  # fmt: skip


def test_client_limits_with_v17_fields_are_accepted(api: httpx.Client) -> None:
    pid = fixture()["id"]
    limits = {
        "cpu_usage": 50.5, "memory_mbytes": 256, "gpu_usage": 0, "gpu_encoder": 0,
        "gpu_decoder": 0, "gpu_memory_mbytes": 0, "waitfor_seconds": 5, "log_event_rate": 0,
    }  # fmt: skip
    stored = create(api, client_dump(pid, limits=limits))
    assert stored["limits"] == {"cpu_usage": 50.5, "memory_mbytes": 256, "waitfor_seconds": 5}


def test_client_limits_with_null_values_keep_the_defaults(api: httpx.Client) -> None:
    pid = fixture()["id"]
    limits = {"cpu_usage": None, "memory_mbytes": None, "waitfor_seconds": None}
    stored = create(api, client_dump(pid, limits=limits))
    assert stored["limits"] == {"cpu_usage": 0, "memory_mbytes": 0, "waitfor_seconds": 0}


def test_client_cleanup_defaults_are_accepted(api: httpx.Client) -> None:
    pid = fixture()["id"]
    output = client_io("null", "-", ["-f", "null"])
    output["cleanup"] = [
        {"pattern": "memfs:/{processid}_*.ts", "max_files": 0, "max_file_age_seconds": 0,
         "purge_on_delete": True}
    ]  # fmt: skip
    stored = create(api, client_dump(pid, output=[output]))
    assert stored["output"][0]["cleanup"] == output["cleanup"]


def test_client_update_with_model_dump_is_accepted(api: httpx.Client) -> None:
    pid = create(api, client_dump(fixture()["id"]))["id"]
    response = api.put(process_url(pid), json=client_dump(pid, reference="updated"))
    assert response.status_code == 200, response.text
    assert response.json()["reference"] == "updated"


def test_responses_carry_every_key_the_client_requires(api: httpx.Client) -> None:
    pid = create(api, client_dump(fixture()["id"]))["id"]
    process = api.get(process_url(pid)).json()
    assert {"created_at", "id", "reference", "type"} <= set(process)
    assert isinstance(process["created_at"], int)
    assert {"id", "input", "output", "options", "reference"} <= set(process["config"])
    assert isinstance(process["config"]["options"], list)
    assert isinstance(process["state"]["command"], list)
    listed = api.get("/api/v3/process", params={"id": pid}).json()
    assert {"created_at", "id", "reference", "type"} <= set(listed[0])


def test_client_error_model_fields_are_present(api: httpx.Client) -> None:
    error = api.get(process_url("acc-unknown")).json()
    assert set(error) == {"code", "message", "details"}
    assert isinstance(error["details"], list)
