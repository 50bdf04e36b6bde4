"""Spec §12 acceptance, reading one process: GET /api/v3/process/{id}[/…] (cases 12–14, §1.3)."""

from __future__ import annotations

from urllib.parse import unquote_plus

import httpx
import pytest
from acceptance_helpers import create, error_body, fixture, process_url

PROCESS_KEYS = ["id", "type", "reference", "created_at", "updated_at"]


@pytest.fixture
def api(backend_api: httpx.Client) -> httpx.Client:
    """Every case here is backend-independent: it runs on both backends."""
    return backend_api


UNKNOWN_PROCESS = error_body(404, "Unknown process ID", "unknown process")


# --- case 12, 13: aspects ------------------------------------------------------------------


def test_get_process_has_all_four_aspects_and_null_metadata(api: httpx.Client) -> None:
    config = create(api, fixture(reference="ref-12"))
    response = api.get(process_url(config["id"]))
    assert response.status_code == 200
    process = response.json()
    assert list(process) == [*PROCESS_KEYS, "config", "state", "report", "metadata"]
    assert process["id"] == config["id"]
    assert process["type"] == "ffmpeg"
    assert process["reference"] == "ref-12"
    assert process["config"] == config
    assert process["metadata"] is None
    assert '"metadata":null' in response.text


def test_get_process_timestamps_are_unix_seconds(api: httpx.Client) -> None:
    config = create(api, fixture())
    process = api.get(process_url(config["id"])).json()
    assert isinstance(process["created_at"], int)
    assert process["created_at"] == process["updated_at"]
    assert process["report"]["created_at"] >= process["created_at"]


def test_get_never_started_process_state(api: httpx.Client) -> None:
    config = create(api, fixture())
    state = api.get(process_url(config["id"], "/state")).json()
    assert state["order"] == "stop"
    assert state["exec"] == "finished"
    assert state["reconnect_seconds"] == -1
    assert state["last_logline"] == ""
    assert state["memory_bytes"] == 0
    assert state["cpu_usage"] == 0
    assert state["progress"] == {
        "inputs": [], "outputs": [], "frame": 0, "packet": 0, "fps": 0, "q": 0, "size_kb": 0,
        "time": 0, "bitrate_kbit": 0, "speed": 0, "drop": 0, "dup": 0,
    }  # fmt: skip
    assert state["command"] == [
        "-f", "lavfi", "-re", "-i", "testsrc=size=1280x720:rate=25",
        "-codec:v", "copy", "-f", "null", "-",
    ]  # fmt: skip


def test_get_never_started_process_report_is_empty(api: httpx.Client) -> None:
    config = create(api, fixture())
    report = api.get(process_url(config["id"], "/report")).json()
    assert list(report) == ["created_at", "prelude", "log", "history"]
    assert (report["prelude"], report["log"], report["history"]) == ([], [], [])


def test_get_process_config_equals_post_response(api: httpx.Client) -> None:
    config = create(api, fixture())
    response = api.get(process_url(config["id"], "/config"))
    assert response.status_code == 200
    assert response.json() == config


@pytest.mark.parametrize(
    ("query", "aspects"),
    [
        ("config", ["config"]),
        ("all", []),
        ("state,report", ["state", "report"]),
        ("report,state", ["state", "report"]),
        ("metadata", ["metadata"]),
        ("config,,metadata", ["config", "metadata"]),
        ("config, state", ["config"]),  # no trimming: " state" is no aspect name
        ("", ["config", "state", "report", "metadata"]),
    ],
)
def test_get_process_filter_selects_aspects(
    api: httpx.Client, query: str, aspects: list[str]
) -> None:
    config = create(api, fixture())
    response = api.get(process_url(config["id"]), params={"filter": query})
    assert response.status_code == 200
    assert list(response.json()) == [*PROCESS_KEYS, *aspects]


def test_get_process_uses_the_first_of_repeated_filter_parameters(api: httpx.Client) -> None:
    config = create(api, fixture())
    response = api.get(process_url(config["id"]) + "?filter=state&filter=config")
    assert list(response.json()) == [*PROCESS_KEYS, "state"]


def test_large_get_process_is_gzipped_for_clients_that_accept_it(api: httpx.Client) -> None:
    config = create(api, fixture())
    api.put(process_url(config["id"], "/metadata/big"), json="x" * 3000)
    plain = api.get(process_url(config["id"]), headers={"accept-encoding": "identity"})
    zipped = api.get(process_url(config["id"]), headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    # Core's /api answers vary by Origin as well (Echo's CORS middleware adds it to every one).
    assert (zipped.headers["content-encoding"], zipped.headers["vary"]) == (
        "gzip",
        "Accept-Encoding, Origin",
    )
    assert int(zipped.headers["content-length"]) < len(plain.content)
    assert zipped.json() == plain.json()
    assert zipped.json()["metadata"] == {"big": "x" * 3000}


def test_cross_origin_get_process_varies_like_the_same_origin_read(api: httpx.Client) -> None:
    # A read with Origin goes through the CORS middleware; one without is answered ahead of the
    # application (api/fastread.py). Both must tell caches the same.
    config = create(api, fixture())
    api.put(process_url(config["id"], "/metadata/big"), json="x" * 3000)
    for encoding in ("identity", "gzip"):
        headers = {"accept-encoding": encoding}
        same = api.get(process_url(config["id"]), headers=headers)
        cross = api.get(process_url(config["id"]), headers={**headers, "origin": "http://ui.test"})
        assert (same.headers["vary"], cross.headers["vary"]) == ("Accept-Encoding, Origin",) * 2


# --- case 14: unknown process ---------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/config", "/state", "/report", "/metadata"])
def test_get_unknown_process_is_404_unknown_process_id(api: httpx.Client, suffix: str) -> None:
    response = api.get(process_url("acc-unknown", suffix))
    assert response.status_code == 404
    assert response.json() == UNKNOWN_PROCESS


def test_get_metadata_key_of_unknown_process_is_404_unknown_process(api: httpx.Client) -> None:
    response = api.get(process_url("acc-unknown", "/metadata/foo"))
    assert response.status_code == 404
    assert response.json() == UNKNOWN_PROCESS


# --- §1.3: IDs with any characters, percent-encoded in the path -------------------------------


@pytest.mark.parametrize(
    "pid",
    ["acc/with/slashes", "acc:colon", "acc with spaces", "acc-ünïcødé-名前", "acc?#%25+&="],
)
def test_ids_with_special_characters_work_on_every_route(api: httpx.Client, pid: str) -> None:
    config = create(api, fixture(id=pid))
    assert config["id"] == pid
    assert api.get(process_url(pid)).json()["id"] == pid
    assert api.get(process_url(pid, "/config")).json()["id"] == pid
    assert api.get(process_url(pid, "/state")).status_code == 200
    assert api.get(process_url(pid, "/report")).status_code == 200
    assert api.put(process_url(pid, "/metadata/k"), json=1).json() == 1
    assert api.get(process_url(pid, "/metadata")).json() == {"k": 1}
    assert api.put(process_url(pid, "/command"), json={"command": "stop"}).json() == "OK"
    assert api.put(process_url(pid), json={"reference": "r"}).json()["id"] == pid
    if unquote_plus(pid) == pid:  # Core unescapes query values twice (§1.4)
        listed = api.get("/api/v3/process", params={"id": pid, "filter": "all"}).json()
        assert [p["id"] for p in listed] == [pid]
    assert api.delete(process_url(pid)).json() == "OK"
    assert api.get(process_url(pid)).status_code == 404


def test_slash_id_does_not_reach_a_similar_process(api: httpx.Client) -> None:
    create(api, fixture(id="acc-a"))
    response = api.get("/api/v3/process/acc-a%2Fconfig")
    assert response.status_code == 404
    assert response.json() == UNKNOWN_PROCESS


def test_metadata_key_with_slash_is_one_key(api: httpx.Client) -> None:
    config = create(api, fixture())
    key = "a/b c"
    assert api.put(process_url(config["id"], "/metadata/a%2Fb%20c"), json=[1]).json() == [1]
    assert api.get(process_url(config["id"], "/metadata")).json() == {key: [1]}
