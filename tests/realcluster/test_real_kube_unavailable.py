"""The API while the real kube-apiserver is stopped: 503 in datarhei's error JSON, not 500.

``tests/api/test_kube_unavailable.py`` proves it over the emulator behind a TCP switch; here the
API server (``serve --backend kubernetes`` as a local process with the cluster's admin
kubeconfig and a one-second request timeout) meets the real apiserver stopped and started
again: a POST answers 503 and creates nothing, ``/ready`` says 503 while it is away and 200 once
it is back, with no other traffic, and the next POST creates the object.

Stopping the apiserver ends every watch of the shared cluster: it is stopped once, and the
fixture starts it again also when the test fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from realkit import Kube, cluster, eventually

from ffmpeg_operator.kube.names import cr_name
from livesrv import LiveServer, free_port

pytestmark = [pytest.mark.realcluster, pytest.mark.timeout(300)]

NAMESPACE = "ffmpeg-rc-unavailable"
PROCESS_ID = "rc-unavailable"
PROCESS = {
    "id": PROCESS_ID,
    "input": [{"id": "in", "address": "testsrc", "options": ["-f", "lavfi"]}],
    "output": [{"id": "out", "address": "-", "options": ["-f", "null"]}],
    "autostart": False,
}


class Apiserver:
    """The cluster's kube-apiserver, stopped and started by the test."""

    def __init__(self) -> None:
        self.lay = cluster.layout()
        self.stopped = False

    def down(self) -> None:
        self.stopped = True
        cluster.stop("kube-apiserver", self.lay)

    def up(self) -> None:
        cluster.start("kube-apiserver", self.lay)
        cluster.wait_for("kube-apiserver", lambda: cluster.apiserver_ready(self.lay), self.lay)
        self.stopped = False


@pytest.fixture
def namespace(kube: Kube, crd: None) -> Iterator[str]:
    kube.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}])
    try:
        yield NAMESPACE
    finally:
        kube.run("delete", "ffp", "--all", "-n", NAMESPACE, "--wait=true", "--timeout=60s",
                 check=False, timeout=90)  # fmt: skip
        kube.run("delete", "namespace", NAMESPACE, "--wait=true", "--timeout=120s",
                 check=False, timeout=150)  # fmt: skip


@pytest.fixture
def apiserver(namespace: str) -> Iterator[Apiserver]:
    """Started again after the test (before the namespace goes), whatever happened."""
    control = Apiserver()
    try:
        yield control
    finally:
        if control.stopped:
            control.up()


@pytest.fixture
def api(kube: Kube, namespace: str, apiserver: Apiserver, tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(
        data_dir=tmp_path / "api",
        port=free_port(),
        env={"KUBECONFIG": str(kube.kubeconfig), "FFMPEG_OPERATOR_KUBE_TIMEOUT": "1"},
        args=("--backend", "kubernetes", "--namespace", namespace,
              "--context", cluster.CONTEXT),
    )  # fmt: skip
    server.start(timeout=60)
    try:
        yield server
    finally:
        server.stop()


def _within(check: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll every 0.2 s until true; the seconds it took."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout:.0f} s"
        time.sleep(0.2)
    return time.monotonic() - started


def _objects(kube: Kube) -> list[str]:
    return sorted(obj["metadata"]["name"] for obj in kube.items("ffp", namespace=NAMESPACE))


def test_post_answers_503_while_the_real_apiserver_is_stopped_and_works_once_it_is_back(
    kube: Kube, api: LiveServer, apiserver: Apiserver
) -> None:
    with httpx.Client(base_url=api.base_url, timeout=30.0) as client:
        _within(lambda: client.get("/ready").status_code == 200, 60, "/ready at first")
        apiserver.down()

        started = time.monotonic()
        response = client.post("/api/v3/process", json=PROCESS)
        assert time.monotonic() - started < 10  # the configured second, not the default 30
        assert response.status_code == 503, response.text
        body = response.json()
        assert set(body) == {"code", "message", "details"}
        assert (body["code"], body["message"]) == (503, "Kubernetes API unavailable")
        assert len(body["details"]) == 1 and "cannot be reached" in body["details"][0], body
        _within(lambda: client.get("/ready").status_code == 503, 30, "/ready 503 while away")
        assert client.get("/ping").text == "pong"

        apiserver.up()
        _within(lambda: client.get("/ready").status_code == 200, 60, "/ready 200 once back")
        assert _objects(kube) == []  # the refused POST created nothing
        created = client.post("/api/v3/process", json=PROCESS)
        assert created.status_code == 200, created.text
        eventually(lambda: _objects(kube) == [cr_name(PROCESS_ID)], 30, "the object")
