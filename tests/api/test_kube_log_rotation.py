"""A long run's report keeps its prelude after kubelet rotated the run's log (10 Mi by
default): the head of the log is then no longer ffmpeg's start. The pod runner's log file is
rotated as kubelet does it (a new file; the container keeps writing to the old one)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import httpx
import pytest
from acceptance_helpers import create, light_fixture, process_url, wait_until

from backends import BackendServer, require_runs
from ffmpeg_operator.kube.names import PROCESS_LABEL, cr_name
from kubeenv import NAMESPACE


@pytest.fixture
def kube(kube_backend_server: BackendServer) -> Iterator[tuple[BackendServer, httpx.Client]]:
    require_runs(kube_backend_server)
    with kube_backend_server.live.client() as client:
        try:
            yield kube_backend_server, client
        finally:
            for process in client.get("/api/v3/process").json():
                if process["id"].startswith("rot-"):
                    client.delete(process_url(process["id"]))


def _report(api: httpx.Client, pid: str) -> dict:  # type: ignore[type-arg]
    response = api.get(process_url(pid, "/report"))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_report_prelude_survives_a_rotation_of_the_run_log(
    kube: tuple[BackendServer, httpx.Client],
) -> None:
    server, api = kube
    config = light_fixture(autostart=True, id=f"rot-{os.getpid()}-{time.monotonic_ns()}")
    # A log line per frame after the prelude (showinfo), as a long run's log grows.
    config["output"][0]["options"] = ["-vf", "showinfo", "-f", "null"]
    pid = config["id"]
    create(api, config)
    before = wait_until(
        lambda: (r := _report(api, pid))["prelude"] and len(r["log"]) > 3 and r, 20,
        what="a prelude and log lines",
    )  # fmt: skip

    pods = server.kube.emulator.objects(
        "v1/pods", NAMESPACE, label_selector=f"{PROCESS_LABEL}={cr_name(pid)}"
    )
    (pod,) = pods
    path = server.kube.pod_runner.log_path(NAMESPACE, pod["metadata"]["name"], "ffmpeg")
    assert path is not None and path.exists()
    # kubelet's rotation: the current file starts over; what was before is in another file.
    rotated = path.with_name("log.rotated")
    rotated.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[-3:]))
    os.replace(rotated, path)
    time.sleep(1.5)  # past the API's log cache (RunObserver.log_ttl)

    after = _report(api, pid)

    assert after["prelude"] == before["prelude"]
