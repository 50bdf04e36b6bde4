"""The API while the Kubernetes API server is away: every call that needs it answers 503 in
datarhei's error JSON (never a 500), nothing is half-applied, ``/ready`` says so, and the
server serves again once the API server is back. The API runs as a server process over the
emulator behind a :class:`tcpswitch.TcpSwitch`, with a short request timeout."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ffmpeg_operator.kube.names import cr_name
from kubeenv import NAMESPACE
from livesrv import LiveServer, free_port
from tcpswitch import TcpSwitch

SECRET = "k503-settings"
PROCESS = {
    "id": "cam1",
    "input": [{"id": "in", "address": "testsrc", "options": ["-f", "lavfi"]}],
    "output": [{"id": "out", "address": "-", "options": ["-f", "null"]}],
    "autostart": False,
}


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Any]:
    from emulator import RunningEmulator

    (tmp_path / "emulator").mkdir()
    with RunningEmulator(tmp_path / "emulator") as running:
        yield running


@pytest.fixture
def apiserver(emulator: Any) -> Iterator[TcpSwitch]:
    port = int(emulator.url.rsplit(":", 1)[1])
    with TcpSwitch(port) as switch:
        yield switch


def _serve(apiserver: TcpSwitch, tmp_path: Path, **env: str) -> Iterator[LiveServer]:
    from emulator import write_kubeconfig

    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", apiserver.url, NAMESPACE)
    server = LiveServer(
        data_dir=tmp_path / "api",
        port=free_port(),
        env={"KUBECONFIG": str(kubeconfig), "FFMPEG_OPERATOR_KUBE_TIMEOUT": "0.5", **env},
        args=(
            "--backend", "kubernetes", "--namespace", NAMESPACE, "--settings-secret", SECRET,
        ),
    )  # fmt: skip
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def api(apiserver: TcpSwitch, tmp_path: Path) -> Iterator[LiveServer]:
    yield from _serve(apiserver, tmp_path)


@pytest.fixture
def quick_to_rewatch_api(apiserver: TcpSwitch, tmp_path: Path) -> Iterator[LiveServer]:
    """The API with a watch that counts as dead after 1 s without an event (70 s in use)."""
    yield from _serve(apiserver, tmp_path, FFMPEG_OPERATOR_WATCH_INACTIVITY="1")


def _eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the timeout"
        time.sleep(0.1)


def _assert_unavailable(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert (body["code"], body["message"]) == (503, "Kubernetes API unavailable")
    assert len(body["details"]) == 1 and reason in body["details"][0], body


def _objects(emulator: Any) -> list[str]:
    from emulator import FFMPEG_PROCESSES

    return sorted(obj["metadata"]["name"] for obj in emulator.objects(FFMPEG_PROCESSES, NAMESPACE))


def _assert_serves_again(client: httpx.Client, emulator: Any) -> None:
    """Once the API server is back: ``/ready`` turns 200 with no other traffic, and a create
    goes through."""
    _eventually(lambda: client.get("/ready").status_code == 200)
    assert client.post("/api/v3/process", json=PROCESS).status_code == 200
    assert _objects(emulator) == [cr_name("cam1")]


def test_post_answers_503_while_the_apiserver_refuses_and_works_once_it_is_back(
    api: LiveServer, apiserver: TcpSwitch, emulator: Any
) -> None:
    with api.client() as client:
        apiserver.down()
        _assert_unavailable(client.post("/api/v3/process", json=PROCESS), "cannot be reached")
        assert _objects(emulator) == []
        assert client.get("/ping").text == "pong"

        apiserver.up()
        _assert_serves_again(client, emulator)


def test_post_answers_503_when_the_apiserver_never_answers(
    api: LiveServer, apiserver: TcpSwitch, emulator: Any
) -> None:
    with api.client() as client:
        apiserver.hang()
        started = time.monotonic()
        _assert_unavailable(client.post("/api/v3/process", json=PROCESS), "timed out")
        assert time.monotonic() - started < 10  # the configured 0.5 s, not the default 30 s
        assert _objects(emulator) == []
        assert client.get("/ready").status_code == 503

        apiserver.up()
        _assert_serves_again(client, emulator)


def test_every_call_that_writes_answers_503_while_the_apiserver_is_away(
    api: LiveServer, apiserver: TcpSwitch, emulator: Any
) -> None:
    with api.client() as client:
        assert client.post("/api/v3/process", json=PROCESS).status_code == 200
        before = emulator.get(_resource(), NAMESPACE, cr_name("cam1"))
        settings = {**client.get("/api/v3/config").json()["config"], "name": "renamed"}
        apiserver.down()
        calls = [
            ("PUT", "/api/v3/process/cam1", {**PROCESS, "reference": "changed"}),
            ("PUT", "/api/v3/process/cam1", {**PROCESS, "id": "cam2"}),
            ("PUT", "/api/v3/process/cam1/command", {"command": "start"}),
            ("PUT", "/api/v3/process/cam1/metadata/note", "hello"),
            ("DELETE", "/api/v3/process/cam1", None),
            ("PUT", "/api/v3/config", settings),
        ]
        for method, path, body in calls:
            response = client.request(method, path, json=body)
            _assert_unavailable(response, "cannot be reached")
        assert client.get("/ping").text == "pong"

        apiserver.up()
        _eventually(lambda: client.get("/ready").status_code == 200)
        after = emulator.get(_resource(), NAMESPACE, cr_name("cam1"))
        assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
        assert _objects(emulator) == [cr_name("cam1")]
        assert client.put("/api/v3/process/cam1/metadata/note", json="hello").status_code == 200


def test_ready_says_the_apiserver_is_away_while_reads_go_on(
    api: LiveServer, apiserver: TcpSwitch
) -> None:
    with api.client() as client:
        assert client.post("/api/v3/process", json=PROCESS).status_code == 200
        apiserver.down()
        _eventually(lambda: client.get("/ready").status_code == 503)
        assert "Kubernetes API server cannot be used now" in client.get("/ready").text
        listed = client.get("/api/v3/process", params={"filter": "config"})
        assert listed.status_code == 200
        assert [item["id"] for item in listed.json()] == ["cam1"]

        apiserver.up()
        _eventually(lambda: client.get("/ready").status_code == 200)


def test_state_and_report_answer_from_memory_while_the_apiserver_never_answers(
    api: LiveServer, apiserver: TcpSwitch
) -> None:
    with api.client() as client:
        assert client.post("/api/v3/process", json=PROCESS).status_code == 200
        apiserver.hang()
        state = client.get("/api/v3/process/cam1/state")
        assert state.status_code == 200, state.text
        assert state.json()["order"] == "stop"
        report = client.get("/api/v3/process/cam1/report")
        assert report.status_code == 200, report.text


def test_an_apiserver_503_answer_is_a_503(api: LiveServer, emulator: Any) -> None:
    emulator.handler["post", _resource()][:1] << 503
    with api.client() as client:
        _assert_unavailable(client.post("/api/v3/process", json=PROCESS), "answered 503")
        assert _objects(emulator) == []
        assert client.post("/api/v3/process", json=PROCESS).status_code == 200


def test_an_apiserver_429_answer_is_a_503_with_its_retry_after(
    api: LiveServer, emulator: Any
) -> None:
    emulator.handler["post", _resource()][:1] << 429 << {"Retry-After": "7"}
    with api.client() as client:
        response = client.post("/api/v3/process", json=PROCESS)
        _assert_unavailable(response, "answered 429")
        assert response.headers["Retry-After"] == "7"
        assert client.post("/api/v3/process", json=PROCESS).status_code == 200


def test_a_rename_whose_deletion_meets_a_503_takes_the_new_object_back(
    api: LiveServer, emulator: Any
) -> None:
    with api.client() as client:
        assert client.post("/api/v3/process", json=PROCESS).status_code == 200
        emulator.handler["delete", _resource()][:1] << 503
        response = client.put("/api/v3/process/cam1", json={**PROCESS, "id": "cam2"})
        _assert_unavailable(response, "answered 503")
        _eventually(lambda: _objects(emulator) == [cr_name("cam1")], 5)
        assert [item["id"] for item in client.get("/api/v3/process").json()] == ["cam1"]


def test_an_apiserver_refusal_is_a_502_not_a_500(api: LiveServer, emulator: Any) -> None:
    emulator.handler["post", _resource()][:1] << 403
    with api.client() as client:
        response = client.post("/api/v3/process", json=PROCESS)
        assert response.status_code == 502
        body = response.json()
        assert (body["code"], body["message"]) == (502, "Kubernetes API error")
        assert "answered 403" in body["details"][0]
        assert _objects(emulator) == []


def _resource() -> Any:
    from emulator import FFMPEG_PROCESSES

    return FFMPEG_PROCESSES


def test_a_watch_whose_connection_leads_nowhere_is_replaced_and_misses_nothing(
    quick_to_rewatch_api: LiveServer, apiserver: TcpSwitch, emulator: Any
) -> None:
    from emulator import FFMPEG_PROCESSES

    from ffmpeg_operator.core.models import ProcessConfig
    from ffmpeg_operator.kube.spec import cr_from_config

    api = quick_to_rewatch_api
    apiserver.stall()  # the open watch now carries nothing; new connections reach the server
    # Written behind the API's back (kubectl, a GitOps sync) while its watch is dead.
    created = cr_from_config(ProcessConfig.model_validate({**PROCESS, "id": "cam2"}), NAMESPACE)
    emulator.create(FFMPEG_PROCESSES, created, NAMESPACE)

    with api.client() as client:
        _eventually(lambda: "cam2" in [p["id"] for p in client.get("/api/v3/process").json()])
        assert client.get("/ready").status_code == 200
