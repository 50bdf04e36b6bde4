"""Spec §12 acceptance, metadata per process and global (cases 39, 40; §3.6)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from acceptance_helpers import create, error_body, fixture, process_url

from livesrv import LiveServer


@pytest.fixture
def api(backend_api: httpx.Client) -> httpx.Client:
    """Every case here is backend-independent: it runs on both backends."""
    return backend_api


UNKNOWN_PROCESS = error_body(404, "Unknown process ID", "unknown process")


def put_null(api: httpx.Client, url: str) -> httpx.Response:
    # httpx sends no body at all for json=None.
    return api.put(url, content=b"null", headers={"Content-Type": "application/json"})


def global_key() -> str:
    # Global metadata is shared by the whole session: every test uses keys of its own.
    return f"acc-{uuid.uuid4().hex[:8]}"


# --- case 39: process metadata ----------------------------------------------------------------


def test_process_metadata_put_echoes_the_value(api: httpx.Client) -> None:
    pid = create(api, fixture())["id"]
    response = api.put(process_url(pid, "/metadata/foo"), json={"a": 1})
    assert response.status_code == 200
    assert response.json() == {"a": 1}


def test_process_metadata_reads_back_by_key_and_whole(api: httpx.Client) -> None:
    pid = create(api, fixture())["id"]
    api.put(process_url(pid, "/metadata/foo"), json={"a": 1})
    assert api.get(process_url(pid, "/metadata/foo")).json() == {"a": 1}
    assert api.get(process_url(pid, "/metadata")).json() == {"foo": {"a": 1}}
    assert api.get(process_url(pid), params={"filter": "metadata"}).json()["metadata"] == {
        "foo": {"a": 1}
    }


def test_process_metadata_null_removes_the_key(api: httpx.Client) -> None:
    pid = create(api, fixture())["id"]
    api.put(process_url(pid, "/metadata/foo"), json={"a": 1})
    api.put(process_url(pid, "/metadata/bar"), json=2)
    response = put_null(api, process_url(pid, "/metadata/foo"))
    assert (response.status_code, response.text) == (200, "null")
    assert api.get(process_url(pid, "/metadata")).json() == {"bar": 2}


def test_process_metadata_without_keys_is_null(api: httpx.Client) -> None:
    pid = create(api, fixture())["id"]
    api.put(process_url(pid, "/metadata/foo"), json=1)
    put_null(api, process_url(pid, "/metadata/foo"))
    response = api.get(process_url(pid, "/metadata"))
    assert (response.status_code, response.text) == (200, "null")


def test_process_metadata_unknown_key_is_404_unknown_key(api: httpx.Client) -> None:
    pid = create(api, fixture())["id"]
    response = api.get(process_url(pid, "/metadata/foo"))
    assert response.status_code == 404
    assert response.json() == error_body(404, "Unknown process ID", "unknown key")


def test_process_metadata_of_unknown_process_put_is_404(api: httpx.Client) -> None:
    response = api.put(process_url("acc-unknown", "/metadata/foo"), json=1)
    assert response.status_code == 404
    assert response.json() == UNKNOWN_PROCESS


def test_process_metadata_put_needs_json_content(api: httpx.Client) -> None:
    pid = create(api, fixture())["id"]
    response = api.put(
        process_url(pid, "/metadata/foo"), content=b"1", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 400
    assert response.json() == error_body(
        400, "Invalid JSON", "request doesn't contain JSON content"
    )


def test_process_metadata_put_rejects_a_syntax_error(api: httpx.Client) -> None:
    pid = create(api, fixture())["id"]
    response = api.put(
        process_url(pid, "/metadata/foo"),
        content=b'{"a":}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json() == error_body(
        400,
        "Invalid JSON",
        "syntax error at line 1, character 6: invalid character '}' looking for beginning of value",
    )


def test_process_metadata_is_not_touched_by_commands(api: httpx.Client) -> None:
    pid = create(api, fixture())["id"]
    api.put(process_url(pid, "/metadata/foo"), json="bar")
    before = api.get(process_url(pid), params={"filter": "all"}).json()
    api.put(process_url(pid, "/command"), json={"command": "stop"})
    after = api.get(process_url(pid), params={"filter": "metadata"}).json()
    assert after["metadata"] == {"foo": "bar"}
    assert after["updated_at"] == before["updated_at"]


# --- case 40: global metadata -----------------------------------------------------------------


@pytest.mark.parametrize("value", ["1", 1, [1], {"1": 1}, 1.5, True, ""])
def test_global_metadata_keeps_the_json_type(api: httpx.Client, value: object) -> None:
    key = global_key()
    response = api.put(f"/api/v3/metadata/{key}", json=value)
    assert response.status_code == 200
    assert response.json() == value
    assert type(response.json()) is type(value)
    read = api.get(f"/api/v3/metadata/{key}").json()
    assert (read, type(read)) == (value, type(value))
    put_null(api, f"/api/v3/metadata/{key}")


def test_global_metadata_unknown_key_is_404_metadata_not_found(api: httpx.Client) -> None:
    response = api.get(f"/api/v3/metadata/{global_key()}")
    assert response.status_code == 404
    assert response.json() == error_body(404, "Metadata not found", "unknown key")


def test_global_metadata_lists_every_key(api: httpx.Client) -> None:
    key = global_key()
    api.put(f"/api/v3/metadata/{key}", json={"x": [1, 2]})
    whole = api.get("/api/v3/metadata").json()
    assert whole[key] == {"x": [1, 2]}
    put_null(api, f"/api/v3/metadata/{key}")
    assert key not in (api.get("/api/v3/metadata").json() or {})


def test_global_metadata_null_deletes_the_key(api: httpx.Client) -> None:
    key = global_key()
    api.put(f"/api/v3/metadata/{key}", json=1)
    assert put_null(api, f"/api/v3/metadata/{key}").status_code == 200
    assert api.get(f"/api/v3/metadata/{key}").status_code == 404


def test_global_metadata_put_empty_body_has_no_content(api: httpx.Client) -> None:
    response = api.put(
        f"/api/v3/metadata/{global_key()}",
        content=b"",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json() == error_body(400, "Invalid JSON", "request doesn't contain any content")


def test_global_and_process_metadata_are_separate(api: httpx.Client) -> None:
    pid = create(api, fixture())["id"]
    key = global_key()
    api.put(process_url(pid, f"/metadata/{key}"), json=1)
    assert api.get(f"/api/v3/metadata/{key}").status_code == 404


def test_global_metadata_of_a_fresh_server_is_null(fresh_server: LiveServer) -> None:
    with fresh_server.client() as api:
        response = api.get("/api/v3/metadata")
        assert (response.status_code, response.text) == (200, "null")
        api.put("/api/v3/metadata/only", json=1)
        put_null(api, "/api/v3/metadata/only")
        # Deleting the last key makes the whole object null again (§3.6).
        assert api.get("/api/v3/metadata").text == "null"
