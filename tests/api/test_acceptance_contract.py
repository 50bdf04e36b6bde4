"""Spec §12 acceptance, the HTTP contract around the process routes (§1, §11, §13, design §7).

Companion endpoints, router errors, gzip, number formatting on the wire, and every response
shape checked against datarhei's own swagger definitions.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from acceptance_helpers import (
    command,
    create,
    error_body,
    fixture,
    light_fixture,
    probed_lavfi_fps,
    process_url,
    swagger_response_schema,
    wait_for,
)

from backends import BackendServer, require_runs


@pytest.fixture
def api(backend_api: httpx.Client) -> httpx.Client:
    """Every case here is backend-independent: it runs on both backends."""
    return backend_api


# --- a process that ran twice: every part of state and report is filled ---------------------


@pytest.fixture(scope="module")
def ran_twice(backend_server: BackendServer) -> Iterator[str]:
    """A running process with one archived run (report history) and live progress."""
    require_runs(backend_server)
    config = light_fixture(autostart=True, reconnect=False)
    with backend_server.live.client() as api:
        create(api, config)
        pid = config["id"]
        wait_for(api, pid, lambda s: s["progress"]["frame"] > 0)
        assert command(api, pid, "stop").status_code == 200
        assert command(api, pid, "start").status_code == 200
        wait_for(api, pid, lambda s: s["progress"]["frame"] > 0 and s["progress"]["inputs"])
        yield pid
        api.delete(process_url(pid))


@pytest.fixture(scope="module")
def swagger(shared_dir: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (shared_dir / "reference" / "datarhei-core-swagger.json").read_text()
    )
    return document


# --- design §7: response shapes validate against datarhei's swagger ---------------------------


@pytest.mark.parametrize(
    ("swagger_path", "suffix"),
    [
        ("/api/v3/process/{id}", ""),
        ("/api/v3/process/{id}/config", "/config"),
        ("/api/v3/process/{id}/state", "/state"),
        ("/api/v3/process/{id}/report", "/report"),
        ("/api/v3/process/{id}/probe", "/probe"),
    ],
)
def test_process_responses_validate_against_datarhei_swagger(
    api: httpx.Client, swagger: dict[str, Any], ran_twice: str, swagger_path: str, suffix: str
) -> None:
    response = api.get(process_url(ran_twice, suffix))
    assert response.status_code == 200
    body = response.json()
    jsonschema.validate(body, swagger_response_schema(swagger, "GET", swagger_path))


def test_process_list_validates_against_datarhei_swagger(
    api: httpx.Client, swagger: dict[str, Any], ran_twice: str
) -> None:
    listed = api.get("/api/v3/process", params={"id": ran_twice}).json()
    assert len(listed) == 1
    jsonschema.validate(listed, swagger_response_schema(swagger, "GET", "/api/v3/process"))


def test_post_response_validates_against_datarhei_swagger(
    api: httpx.Client, swagger: dict[str, Any]
) -> None:
    config = fixture()
    config["output"][0]["cleanup"] = [{"pattern": "memfs:/{processid}_*.ts", "max_files": 3}]
    body = create(api, config)
    assert body["output"][0]["cleanup"] == [
        {"pattern": "memfs:/{processid}_*.ts", "max_files": 3, "max_file_age_seconds": 0,
         "purge_on_delete": False}
    ]  # fmt: skip
    jsonschema.validate(body, swagger_response_schema(swagger, "POST", "/api/v3/process"))


def test_error_bodies_validate_against_datarhei_swagger(
    api: httpx.Client, swagger: dict[str, Any]
) -> None:
    error_schema = {"$ref": "#/definitions/api.Error", "definitions": swagger["definitions"]}
    for response in (
        api.get(process_url("acc-unknown")),
        api.post("/api/v3/process", content=b"{", headers={"Content-Type": "application/json"}),
        api.get("/api/v3/nowhere"),
    ):
        jsonschema.validate(response.json(), error_schema)
        assert list(response.json()) == ["code", "message", "details"]


def test_skills_validate_against_datarhei_swagger(
    api: httpx.Client, swagger: dict[str, Any]
) -> None:
    skills = api.get("/api/v3/skills").json()
    jsonschema.validate(skills, swagger_response_schema(swagger, "GET", "/api/v3/skills"))


def test_about_validates_against_datarhei_swagger(
    api: httpx.Client, swagger: dict[str, Any]
) -> None:
    about = api.get("/api").json()
    jsonschema.validate(about, swagger_response_schema(swagger, "GET", "/api"))


# --- §2.3–§2.5: what a running process shows ---------------------------------------------------


def test_running_state_has_every_client_required_key(api: httpx.Client, ran_twice: str) -> None:
    state = api.get(process_url(ran_twice, "/state")).json()
    # §13: keys the Python client's pydantic models require.
    assert {
        "command", "cpu_usage", "exec", "last_logline", "memory_bytes", "order",
        "reconnect_seconds", "runtime_seconds",
    } <= set(state)  # fmt: skip
    assert {
        "bitrate_kbit", "drop", "dup", "fps", "frame", "inputs", "outputs", "packet", "q",
        "size_kb", "speed", "time",
    } <= set(state["progress"])  # fmt: skip
    for io in (*state["progress"]["inputs"], *state["progress"]["outputs"]):
        assert {
            "address", "bitrate_kbit", "codec", "coder", "format", "fps", "frame", "id", "index",
            "packet", "pps", "size_kb", "stream", "type",
        } <= set(io)  # fmt: skip
    assert state["exec"] == "running"
    assert state["memory_bytes"] > 0


def test_running_progress_ios_name_the_config_ids(api: httpx.Client, ran_twice: str) -> None:
    progress = api.get(process_url(ran_twice, "/state")).json()["progress"]
    assert [(io["id"], io["type"]) for io in progress["inputs"]] == [("video", "video")]
    assert [(io["id"], io["address"]) for io in progress["outputs"]] == [("null", "pipe:")]
    assert (progress["inputs"][0]["width"], progress["inputs"][0]["height"]) == (160, 120)


def test_report_log_lines_are_unix_second_strings(api: httpx.Client, ran_twice: str) -> None:
    report = api.get(process_url(ran_twice, "/report")).json()
    assert report["log"]
    for entry in report["log"]:
        assert len(entry) == 2
        assert re.fullmatch(r"\d{10}", entry[0])
        assert not entry[1].startswith("frame=")
    assert len(report["history"]) == 1
    assert isinstance(report["history"][0]["created_at"], int)
    assert report["history"][0]["prelude"]


# --- §1.6: number formatting, read from the raw response text ---------------------------------


class Literal(str):
    """A JSON number exactly as written on the wire."""


def raw_numbers(text: str) -> Any:
    """``text`` parsed with every number kept as its literal text."""
    return json.loads(text, parse_int=Literal, parse_float=Literal)


RULE_A = re.compile(r"-?\d+(\.\d{3})?")  # whole values without decimals, others with 3
RULE_B = re.compile(r"-?\d+\.\d{3}")  # always 3 decimals


def assert_rule_a(value: Literal, what: str) -> None:
    assert isinstance(value, Literal), what
    assert RULE_A.fullmatch(value), f"{what}={value} is not rule A"
    assert not value.endswith(".000"), f"{what}={value}: whole values carry no decimals"


def assert_rule_b(value: Literal, what: str) -> None:
    assert isinstance(value, Literal), what
    assert RULE_B.fullmatch(value), f"{what}={value} is not rule B"


def test_state_numbers_follow_core_rules_on_the_wire(api: httpx.Client, ran_twice: str) -> None:
    state = raw_numbers(api.get(process_url(ran_twice, "/state")).text)
    assert_rule_a(state["cpu_usage"], "cpu_usage")
    progress = state["progress"]
    for key in ("fps", "q", "time", "bitrate_kbit", "speed"):
        assert_rule_a(progress[key], f"progress.{key}")
    for io in (*progress["inputs"], *progress["outputs"]):
        for key in ("fps", "pps", "bitrate_kbit", "q"):
            assert_rule_b(io[key], f"io.{key}")
        for key in ("min", "max", "avg"):
            assert_rule_b(io["framerate"][key], f"io.framerate.{key}")
    for key in ("frame", "packet", "size_kb", "drop", "dup"):
        assert re.fullmatch(r"\d+", progress[key]), key
    assert re.fullmatch(r"-?\d+", state["runtime_seconds"])


def test_progress_time_has_three_decimals_while_running(api: httpx.Client, ran_twice: str) -> None:
    # ffmpeg's time has centisecond precision; a non-whole value must read like "3.100".
    def fractional_time(state: dict[str, Any]) -> bool:
        return state["progress"]["time"] != int(state["progress"]["time"])

    wait_for(api, ran_twice, fractional_time, timeout=5.0, interval=0.05)
    text = api.get(process_url(ran_twice, "/state")).text
    time_literal = raw_numbers(text)["progress"]["time"]
    assert re.fullmatch(r"\d+\.\d{3}", time_literal), time_literal


def test_probe_numbers_follow_rule_a(api: httpx.Client, ran_twice: str) -> None:
    stream = raw_numbers(api.get(process_url(ran_twice, "/probe")).text)["streams"][0]
    # A whole rate prints without decimals: "10" where ffmpeg states the rate (9.x says
    # "10 fps"); ffmpeg 5.1 gives raw lavfi video only "10 tbr", which Core reads as 0 (§9.3).
    assert stream["fps"] == str(probed_lavfi_fps(stream["codec"], 10))
    assert_rule_a(stream["bitrate_kbps"], "bitrate_kbps")
    assert_rule_a(stream["duration_sec"], "duration_sec")


def test_config_limits_cpu_usage_reads_back_as_sent(api: httpx.Client) -> None:
    config = create(api, fixture(limits={"cpu_usage": 12.5, "memory_mbytes": 1}))
    text = api.get(process_url(config["id"], "/config")).text
    assert '"limits":{"cpu_usage":12.5,"memory_mbytes":1,"waitfor_seconds":0}' in text


# --- §1.5: "OK" bodies and gzip -----------------------------------------------------------------


def test_command_and_delete_bodies_are_the_json_string_ok(api: httpx.Client) -> None:
    config = create(api, fixture())
    for response in (command(api, config["id"], "stop"), api.delete(process_url(config["id"]))):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        assert response.content == b'"OK"'


def test_large_api_v3_responses_are_gzipped(api: httpx.Client) -> None:
    with api.stream("GET", "/api/v3/skills", headers={"Accept-Encoding": "gzip"}) as response:
        raw = b"".join(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    assert raw[:2] == b"\x1f\x8b"
    assert "ffmpeg" in json.loads(gzip.decompress(raw))


def test_large_responses_are_plain_without_accept_encoding(api: httpx.Client) -> None:
    response = api.get("/api/v3/skills", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in response.headers
    assert len(response.content) > 1000


def test_small_api_v3_responses_are_not_gzipped(api: httpx.Client) -> None:
    response = api.get(process_url("acc-unknown"), headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 404
    assert "content-encoding" not in response.headers


def test_gzip_threshold_is_about_1000_bytes(api: httpx.Client) -> None:
    key = "acc-gzip-threshold"
    below = api.put(f"/api/v3/metadata/{key}", json="x" * 900, headers={"Accept-Encoding": "gzip"})
    above = api.put(f"/api/v3/metadata/{key}", json="x" * 1100, headers={"Accept-Encoding": "gzip"})
    api.put(
        f"/api/v3/metadata/{key}", content=b"null", headers={"Content-Type": "application/json"}
    )
    assert "content-encoding" not in below.headers
    assert above.headers["content-encoding"] == "gzip"
    assert above.json() == "x" * 1100


# --- router errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/api/v3/nowhere", "/api/v3/process/x/nowhere", "/api/v3/metadata/", "/api/v3/process/"],
)
def test_unknown_route_is_404_with_datarhei_body(api: httpx.Client, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 404
    assert response.json() == error_body(404, "Not Found", "Not Found")


def test_put_metadata_without_key_is_404_not_a_redirect(api: httpx.Client) -> None:
    # Echo does not match an empty trailing parameter, so Core's "Invalid key" is unreachable.
    response = api.put("/api/v3/metadata/", json=1)
    assert response.status_code == 404
    assert response.json() == error_body(404, "Not Found", "Not Found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/v3/metadata"),
        ("PATCH", "/api/v3/process/acc-x"),
        ("POST", "/api/v3/process/acc-x"),
        ("GET", "/api/v3/process/acc-x/command"),
        ("DELETE", "/api/v3/process"),
    ],
)
def test_wrong_method_is_405_with_datarhei_body(api: httpx.Client, method: str, path: str) -> None:
    response = api.request(method, path)
    assert response.status_code == 405
    assert response.json() == error_body(405, "Method Not Allowed", "Method Not Allowed")


# --- §11: companion endpoints ---------------------------------------------------------------------


def test_ping_answers_pong_as_text(api: httpx.Client) -> None:
    response = api.get("/ping")
    assert response.status_code == 200
    assert response.text == "pong"
    assert response.headers["content-type"].startswith("text/plain")


def test_about_has_core_shape(api: httpx.Client) -> None:
    about = api.get("/api").json()
    assert list(about) == ["app", "auths", "name", "id", "created_at", "uptime_seconds", "version"]
    assert about["app"] == "datarhei-core"
    assert about["auths"] == []
    assert about["version"]["number"] == "16.16.0"
    assert set(about["version"]) == {
        "number", "repository_commit", "repository_branch", "build_date", "arch", "compiler",
    }  # fmt: skip
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", about["created_at"])
    assert isinstance(about["uptime_seconds"], int)


def test_login_is_not_routed_without_auth(api: httpx.Client) -> None:
    response = api.post("/api/login", json={"username": "a", "password": "b"})
    assert response.status_code == 404
    assert response.json() == error_body(404, "Not Found", "Not Found")


# The Python client's Skills model (core_client/base/models/v3/skills*.py): required keys and
# types; ``None`` where the client allows it.
NAMED = {"id": str, "name": str}
SKILLS_MODEL: dict[str, Any] = {
    "ffmpeg": {
        "version": str, "compiler": str, "configuration": str,
        "libraries": [{"name": str, "compiled": str, "linked": str}],
    },
    "filter": [NAMED],
    "hwaccels": [NAMED],
    "codecs": {
        kind: [{**NAMED, "encoders": (None, [str]), "decoders": (None, [str])}]
        for kind in ("audio", "video", "subtitle")
    },
    "devices": {
        kind: [{**NAMED, "devices": [{"id": str, "name": str, "extra": str, "media": str}]}]
        for kind in ("demuxers", "muxers")
    },
    "formats": {"demuxers": [NAMED], "muxers": [NAMED]},
    "protocols": {"input": [NAMED], "output": [NAMED]},
}  # fmt: skip


def conforms(value: Any, model: Any, where: str = "skills") -> list[str]:
    """Where ``value`` does not fit ``model`` (type, [item model], {key: model} or alternatives)."""
    if isinstance(model, tuple):
        if any(not conforms(value, option, where) for option in model):
            return []
        return [f"{where}: {value!r} fits none of {model}"]
    if model is None:
        return [] if value is None else [f"{where}: expected null"]
    if isinstance(model, type):
        return [] if isinstance(value, model) else [f"{where}: expected {model.__name__}"]
    if isinstance(model, list):
        if not isinstance(value, list):
            return [f"{where}: expected a list"]
        return [
            p for i, item in enumerate(value) for p in conforms(item, model[0], f"{where}[{i}]")
        ]
    if not isinstance(value, dict):
        return [f"{where}: expected an object"]
    problems = [f"{where}.{key}: missing" for key in model if key not in value]
    for key, sub in model.items():
        if key in value:
            problems += conforms(value[key], sub, f"{where}.{key}")
    return problems


def test_skills_have_every_key_the_python_client_requires(api: httpx.Client) -> None:
    response = api.get("/api/v3/skills")
    assert response.status_code == 200
    skills = response.json()
    assert conforms(skills, SKILLS_MODEL) == []
    assert skills["ffmpeg"]["version"]
    assert any(f["id"] == "testsrc" for f in skills["filter"])
    # Like Core: a format lists its first name only ("mov,mp4,…" -> "mov"); devices such as
    # lavfi appear under devices, not formats.
    assert any(fmt["id"] == "mov" for fmt in skills["formats"]["demuxers"])
    assert any(device["id"] == "lavfi" for device in skills["devices"]["demuxers"])


def test_skills_reload_answers_the_same_shape(api: httpx.Client) -> None:
    response = api.get("/api/v3/skills/reload")
    assert response.status_code == 200
    assert conforms(response.json(), SKILLS_MODEL) == []


def test_openapi_document_is_served(api: httpx.Client) -> None:
    response = api.get("/api/swagger/doc.json")
    assert response.status_code == 200
    document = response.json()
    assert "openapi" in document
    for path in (
        "/api/v3/process",
        "/api/v3/process/{pid}",
        "/api/v3/process/{pid}/command",
        "/api/v3/process/{pid}/state",
        "/api/v3/process/{pid}/probe",
        "/api/v3/metadata/{key}",
    ):
        assert path in document["paths"], path
    post = document["paths"]["/api/v3/process"]["post"]
    assert "application/json" in post["requestBody"]["content"]


def test_head_gets_the_status_without_a_body(api: httpx.Client) -> None:
    # Echo routes no HEAD for GET routes: the router's 405, status only.
    response = api.head("/api/v3/process")
    assert response.status_code == 405
    assert response.content == b""


# --- §3: the playout routes exist, and stock FFmpeg never has a playout ---------------------

PLAYOUT_CALLS = [
    ("GET", "/status"),
    ("GET", "/keyframe/last.jpg"),
    ("GET", "/errorframe/encode"),
    ("POST", "/errorframe/frame.jpg"),
    ("GET", "/reopen"),
    ("PUT", "/stream"),
]


@pytest.mark.parametrize(("method", "suffix"), PLAYOUT_CALLS)
def test_playout_of_a_stock_input_is_404_no_playout(
    api: httpx.Client, method: str, suffix: str
) -> None:
    pid = create(api, fixture())["id"]
    response = api.request(method, process_url(pid, f"/playout/video{suffix}"))
    assert response.status_code == 404
    assert response.json() == error_body(
        404, "Unknown process or input", f"no playout for input ID 'video' and process '{pid}'"
    )


def test_playout_of_unknown_process_is_404_unknown_process(api: httpx.Client) -> None:
    response = api.get(process_url("acc-unknown", "/playout/video/status"))
    assert response.status_code == 404
    assert response.json() == error_body(404, "Unknown process or input", "unknown process")
