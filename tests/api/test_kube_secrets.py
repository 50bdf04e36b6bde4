"""The memfs password on Kubernetes: in no object, and redacted wherever a command or log shows.

Run Pods get it from a Secret (env ``valueFrom``) and kubelet expands ``$(VAR)`` in ffmpeg's
arguments (the emulator tier's pod runner does as kubelet does). Not yet run against a real
apiserver and kubelet.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from acceptance_helpers import create, light_fixture, process_url, wait_until

from backends import BackendServer, require_runs
from ffmpeg_operator.core.redact import REDACTED
from kubeenv import MEMFS_PASSWORD, MEMFS_SECRET, MEMFS_SECRET_KEY, NAMESPACE

# Half-second HLS segments PUT into memfs: ffmpeg logs the URLs it opens, credentials included.
# fmt: off
_HLS_TO_MEMFS = [
    "-codec:v", "mpeg2video", "-g", "5",
    "-f", "hls", "-hls_time", "0.5", "-hls_list_size", "3",
    "-hls_segment_filename", "{memfs}/{processid}_%d.ts", "-method", "PUT",
]
# fmt: on


@pytest.fixture
def kube(kube_backend_server: BackendServer) -> Iterator[tuple[BackendServer, httpx.Client]]:
    require_runs(kube_backend_server)
    with kube_backend_server.live.client() as client:
        before = {p["id"] for p in client.get("/api/v3/process").json()}
        try:
            yield kube_backend_server, client
        finally:
            for process in client.get("/api/v3/process").json():
                if process["id"] not in before:
                    client.delete(process_url(process["id"]))


@pytest.fixture
def writing_to_memfs(kube: tuple[BackendServer, httpx.Client]) -> str:
    """A process that has written HLS segments into memfs (so the password worked)."""
    _, api = kube
    config = light_fixture(autostart=True)
    config["output"][0].update(address="{memfs}/{processid}.m3u8", options=_HLS_TO_MEMFS)
    pid: str = config["id"]
    create(api, config)

    def segments() -> list[str]:
        names = [entry["name"] for entry in api.get("/memfs").json()]
        return [name for name in names if name.startswith(f"/{pid}_")]

    wait_until(segments, 15, what="an HLS segment PUT into memfs")
    return pid


def _objects(server: BackendServer) -> str:
    emulator = server.kube.emulator
    kinds = ("ffmpeg-operator.io/v1alpha1/ffmpegprocesses", "v1/pods", "v1/events")
    return json.dumps([emulator.objects(kind, NAMESPACE) for kind in kinds])


def test_memfs_password_is_in_no_pod_process_or_event_object(
    kube: tuple[BackendServer, httpx.Client], writing_to_memfs: str
) -> None:
    server, _ = kube
    objects = _objects(server)
    assert writing_to_memfs in objects
    assert MEMFS_PASSWORD not in objects


def test_run_pods_read_the_memfs_password_from_the_secret(
    kube: tuple[BackendServer, httpx.Client], writing_to_memfs: str
) -> None:
    server, _ = kube
    pods = server.kube.emulator.objects("v1/pods", NAMESPACE)
    (pod,) = [p for p in pods if writing_to_memfs in json.dumps(p["metadata"].get("annotations"))]
    ffmpeg = next(c for c in pod["spec"]["containers"] if c["name"] == "ffmpeg")
    assert {
        "name": "FFMPEG_OPERATOR_MEMFS_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": MEMFS_SECRET, "key": MEMFS_SECRET_KEY}},
    } in ffmpeg["env"]
    assert any("admin:$(FFMPEG_OPERATOR_MEMFS_PASSWORD)@" in arg for arg in ffmpeg["args"])
    # No log tail of a failed ffmpeg (naming the URLs it opened) copied into the Pod's status.
    assert ffmpeg["terminationMessagePolicy"] == "File"


def test_api_command_state_and_report_show_no_memfs_password(
    kube: tuple[BackendServer, httpx.Client], writing_to_memfs: str
) -> None:
    _, api = kube
    shown = {
        "process": api.get(process_url(writing_to_memfs)).text,
        "state": api.get(process_url(writing_to_memfs, "/state")).text,
        "report": api.get(process_url(writing_to_memfs, "/report")).text,
        "list": api.get("/api/v3/process", params={"id": writing_to_memfs}).text,
    }
    for name, text in shown.items():
        assert MEMFS_PASSWORD not in text, name
    # ffmpeg's prelude names the output with its credentials: redacted, not left out.
    prelude = "\n".join(api.get(process_url(writing_to_memfs, "/report")).json()["prelude"])
    assert f"admin:{REDACTED}@" in prelude
