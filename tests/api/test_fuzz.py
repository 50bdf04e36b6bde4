"""The API fuzzed from its own OpenAPI document (schemathesis, positive and negative data).

One deterministic run of generated requests against a live server is shared by the tests
below; each asserts one property of it: enough requests were sent, none got a 5xx, every 4xx
has datarhei's error body, and no rejected request changed a process.

A few processes are seeded first (autostart false) and generated ``{pid}`` values use their IDs
some of the time, so the per-process routes are exercised on existing processes too; bodies of
creates and updates also come from a strategy of plausible configs, which the server accepts
often enough to reach what lies behind validation. After
every request the server answers with 4xx, the processes (config, metadata, order, timestamps)
must equal the last snapshot. A request the server accepted may legitimately change them; the
run then restores the seeds and takes a new snapshot.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode

from livesrv import LiveServer, live_server

#: Generated requests per operation and generation mode; operations without inputs send one.
EXAMPLES_PER_MODE = 45
MINIMUM_REQUESTS = 1000
MEMFS_PASSWORD = "memfspw"  # what tests/livesrv.py gives every server

SEEDS: dict[str, dict[str, Any]] = {
    pid: {
        "id": pid,
        "reference": f"ref-{index}",
        "options": ["-loglevel", "error"],
        "input": [
            {
                "id": "in",
                "address": "testsrc=size=160x120:rate=10",
                "options": ["-f", "lavfi", "-re"],
            }
        ],
        "output": [{"id": "out", "address": "-", "options": ["-f", "null"]}],
        "autostart": False,
    }
    for index, pid in enumerate(("fuzz-a", "fuzz/b", "fuzz c"))
}
SEED_METADATA = {"note": {"kept": True}}


@dataclass
class FuzzReport:
    """What the generated requests met; each test checks one list."""

    requests: int = 0
    server_errors: list[str] = field(default_factory=list)
    badly_shaped_rejections: list[str] = field(default_factory=list)
    changing_rejections: list[str] = field(default_factory=list)


def _path(pid: str) -> str:
    return f"/api/v3/process/{quote(pid, safe='')}"


def _snapshot(client: httpx.Client) -> dict[str, Any]:
    """Every process as the API shows it, minus what changes on its own (progress, ...)."""
    listed = client.get("/api/v3/process", params={"filter": "config,metadata,state"}).json()
    return {
        item["id"]: {
            "reference": item["reference"],
            "created_at": item["created_at"],
            "updated_at": item["updated_at"],
            "config": item["config"],
            "metadata": item["metadata"],
            "order": item["state"]["order"],
        }
        for item in listed
    }


def _seed(client: httpx.Client, pid: str) -> None:
    assert client.post("/api/v3/process", json=SEEDS[pid]).status_code == 200
    for key, value in SEED_METADATA.items():
        assert client.put(f"{_path(pid)}/metadata/{key}", json=value).status_code == 200


def _pristine(entry: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in entry.items() if not key.endswith("_at")}


def _restore_seeds(client: httpx.Client, seeded: dict[str, Any]) -> dict[str, Any]:
    """Back to exactly the seeded processes (``seeded`` snapshot); returns the new snapshot."""
    current = _snapshot(client)
    changed = False
    for pid, entry in current.items():
        if pid not in seeded or _pristine(entry) != _pristine(seeded[pid]):
            client.delete(_path(pid))
            changed = True
    for pid, entry in seeded.items():
        if pid not in current or _pristine(current[pid]) != _pristine(entry):
            _seed(client, pid)
            changed = True
    return _snapshot(client) if changed else current


def _describe(case: Case, response: schemathesis.Response) -> str:
    body = case.body if isinstance(case.body, dict | list | str | int | float) else None
    return (
        f"{case.method} {response.request.url} body={body!r} -> "
        f"{response.status_code} {response.content[:300]!r}"
    )


def _has_error_shape(response: schemathesis.Response) -> bool:
    if response.request.method == "HEAD":
        return not response.content
    try:
        body = json.loads(response.content)
    except ValueError:
        return False
    content_type = response.headers.get("content-type", [""])[0]
    return (
        content_type.startswith("application/json")
        and isinstance(body, dict)
        and set(body) == {"code", "message", "details"}
        and body["code"] == response.status_code
        and isinstance(body["message"], str)
        and isinstance(body["details"], list)
        and all(isinstance(detail, str) for detail in body["details"])
    )


class Fuzzer:
    """Sends generated cases and records what the properties need."""

    def __init__(self, server: LiveServer, client: httpx.Client) -> None:
        self.server = server
        self.client = client
        self.session = requests.Session()
        self.report = FuzzReport()
        self.seeded = _snapshot(client)
        self.baseline = self.seeded

    def send(self, case: Case) -> None:
        headers = {}
        if case.path.startswith("/memfs"):
            token = base64.b64encode(f"admin:{MEMFS_PASSWORD}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        response = case.call(
            base_url=self.server.base_url, session=self.session, headers=headers, timeout=30
        )
        self.report.requests += 1
        status = response.status_code
        if status >= 500:
            self.report.server_errors.append(_describe(case, response))
        elif status >= 400:
            if not _has_error_shape(response):
                self.report.badly_shaped_rejections.append(_describe(case, response))
            if _snapshot(self.client) != self.baseline:
                self.report.changing_rejections.append(_describe(case, response))
                self.restore()
        elif case.method != "GET" and case.path.startswith("/api/v3/process"):
            self.restore()

    def restore(self) -> None:
        self.baseline = _restore_seeds(self.client, self.seeded)


# Bodies the schema alone rarely makes acceptable (random addresses, IDs and options): plausible
# configs, mostly valid, so creates and updates also succeed, collide and reference each other.
_WORDS = st.text(max_size=12)


def _mostly(*values: str) -> st.SearchStrategy[str]:
    known = st.sampled_from(values)
    return st.one_of(known, known, known, _WORDS)


_INPUTS = _mostly(
    "testsrc=size=160x120:rate=10",
    "#fuzz-a:output=out",
    "#nowhere:output=out",
    "{memfs}/{processid}.m3u8",
    "-",
)
_OUTPUTS = _mostly(
    "-",
    "{diskfs}/fuzz-{processid}.txt",
    "{memfs}/{processid}.m3u8",
    "rtmp://127.0.0.1:1935/live/{processid}",
)
_OPTIONS = st.lists(_mostly("-f", "lavfi", "-re", "null", "-c", "copy"), max_size=4)
_CLEANUP = st.fixed_dictionaries(
    {"pattern": _mostly("memfs:/{processid}_*.ts", "diskfs:/**", "bad")},
    optional={
        "max_files": st.integers(0, 10),
        "max_file_age_seconds": st.integers(0, 100),
        "purge_on_delete": st.booleans(),
    },
)


def _ios(addresses: st.SearchStrategy[str]) -> st.SearchStrategy[list[dict[str, Any]]]:
    io = st.fixed_dictionaries(
        {"id": _mostly("in", "out", ""), "address": addresses},
        optional={"options": _OPTIONS, "cleanup": st.lists(_CLEANUP, max_size=2)},
    )
    return st.lists(io, min_size=1, max_size=2)


PLAUSIBLE_CONFIGS = st.fixed_dictionaries(
    {
        "id": _mostly(*SEEDS, "fuzz-new", "fuzz/new", ""),
        "input": _ios(_INPUTS),
        "output": _ios(_OUTPUTS),
    },
    optional={
        "type": _mostly("ffmpeg"),
        "reference": _mostly("ref-0", "ref-1"),
        "options": _OPTIONS,
        "autostart": st.booleans(),
        "reconnect": st.booleans(),
        "reconnect_delay_seconds": st.integers(0, 5),
        "stale_timeout_seconds": st.integers(0, 5),
    },
)


def _integral_floats_as_ints(value: Any) -> Any:
    # JSON Schema counts 3.0 as an integer, Go's decoder does not: without this most
    # generated configs would fail on a number's spelling before reaching anything else.
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, list):
        return [_integral_floats_as_ints(item) for item in value]
    if isinstance(value, dict):
        return {key: _integral_floats_as_ints(item) for key, item in value.items()}
    return value


def _with_body(pair: tuple[Case, dict[str, Any]]) -> Case:
    case, body = pair
    case.body = body
    return case


def _strategy(operation: Any, mode: GenerationMode) -> st.SearchStrategy[Case]:
    # Random IDs almost never name a process: use the seeded ones (and their key) too.
    targets: list[dict[str, str]] = [{}]
    if "{pid}" in operation.path:
        keys = {"key": next(iter(SEED_METADATA))} if "{key}" in operation.path else {}
        targets += [{"pid": pid, **keys} for pid in SEEDS]
    variants = [
        operation.as_strategy(generation_mode=mode, path_parameters=target) for target in targets
    ]
    method = operation.method.upper()
    if mode is GenerationMode.POSITIVE and method in {"POST", "PUT"} and _takes_config(operation):
        # The placeholder body spares generating a schema body that is replaced anyway.
        variants += [
            st.tuples(
                operation.as_strategy(generation_mode=mode, path_parameters=target, body={}),
                PLAUSIBLE_CONFIGS,
            ).map(_with_body)
            for target in targets
        ]
    return st.one_of(variants)


def _takes_config(operation: Any) -> bool:
    return operation.path in {"/api/v3/process", "/api/v3/process/{pid}"}


def _has_typed_input(operation: dict[str, Any]) -> bool:
    """Whether negative data can exist: a typed body or query (path parameters are any text)."""
    content = operation.get("requestBody", {}).get("content", {})
    body_schema = content.get("application/json", {}).get("schema")
    query = [p for p in operation.get("parameters", []) if p["in"] == "query"]
    return bool(body_schema) or bool(query)


def _run(fuzzer: Fuzzer, operation: Any, mode: GenerationMode) -> None:
    @settings(
        max_examples=EXAMPLES_PER_MODE,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(operation, mode))
    def send_one(case: Case) -> None:
        fuzzer.send(case)

    send_one()


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("fuzz") / "data") as server:
        yield server


def run_fuzzer(server: LiveServer) -> FuzzReport:
    """Seed, then send generated requests for every operation of the served document."""
    with server.client() as client:
        for pid in SEEDS:
            _seed(client, pid)
        schema = schemathesis.openapi.from_dict(client.get("/api/swagger/doc.json").json())
        schema.hook("map_body")(lambda _context, body: _integral_floats_as_ints(body))
        fuzzer = Fuzzer(server, client)
        # Sorted: routes with several methods list them in set order, which varies per run.
        operations = sorted(
            (result.ok() for result in schema.get_all_operations()),
            key=lambda operation: (operation.path, operation.method.upper()),
        )
        for operation in operations:
            _run(fuzzer, operation, GenerationMode.POSITIVE)
            if _has_typed_input(operation.definition.raw):
                _run(fuzzer, operation, GenerationMode.NEGATIVE)
        fuzzer.restore()
        return fuzzer.report


@pytest.fixture(scope="module")
def fuzz_report(fuzz_server: LiveServer) -> FuzzReport:
    return run_fuzzer(fuzz_server)


def test_fuzzing_sends_at_least_a_thousand_requests(fuzz_report: FuzzReport) -> None:
    assert fuzz_report.requests >= MINIMUM_REQUESTS


def test_no_generated_request_gets_a_server_error(fuzz_report: FuzzReport) -> None:
    assert fuzz_report.server_errors == []


def test_every_rejection_has_datarhei_error_body(fuzz_report: FuzzReport) -> None:
    assert fuzz_report.badly_shaped_rejections == []


def test_no_rejected_request_changes_a_process(fuzz_report: FuzzReport) -> None:
    assert fuzz_report.changing_rejections == []


# Regressions the fuzzer found, pinned as plain requests.


def test_metadata_integer_beyond_int64_is_echoed_as_float(fuzz_server: LiveServer) -> None:
    with fuzz_server.client() as client:
        body = b"123456789012345678901234567890"
        headers = {"content-type": "application/json"}
        put = client.put("/api/v3/metadata/huge", content=body, headers=headers)
        assert put.status_code == 200
        assert put.json() == pytest.approx(1.2345678901234568e29)
        assert client.get("/api/v3/metadata/huge").json() == put.json()


def test_integer_field_with_thousands_of_digits_is_a_type_error(fuzz_server: LiveServer) -> None:
    config = json.dumps({**SEEDS["fuzz-a"], "id": "fuzz-digits"}).replace(
        '"autostart": false', '"autostart": false, "reconnect_delay_seconds": 1' + "0" * 5000
    )
    with fuzz_server.client() as client:
        created = client.post(
            "/api/v3/process", content=config, headers={"content-type": "application/json"}
        )
    assert created.status_code == 400
    assert "cannot unmarshal number" in created.json()["details"][0]


def test_memfs_upload_to_non_latin1_name_tells_its_escaped_location(
    fuzz_server: LiveServer,
) -> None:
    with fuzz_server.client(auth=("admin", MEMFS_PASSWORD)) as client:
        created = client.put("/memfs/caf%C3%A9-%E9%9F%B3.txt", content=b"x")
    assert created.status_code == 201
    assert created.headers["content-location"] == "/memfs/caf%C3%A9-%E9%9F%B3.txt"
