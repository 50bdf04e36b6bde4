"""FFmpegProcess on a real cluster: the operator, the v3 API and the GitOps tree end to end.

Run with ``make e2e-kind``; without the kind cluster every test here skips (see conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from e2ekit import ROOT, Kubectl, Settings

from ffmpeg_operator.core.models import Cleanup, ProcessConfig, ProcessConfigIO
from ffmpeg_operator.kube.names import PROCESS_LABEL
from ffmpeg_operator.kube.spec import cr_from_config
from kubectlkit import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

GITOPS_NAMESPACE = "media"
PRINTER_COLUMNS = ["NAME", "STATE", "ORDER", "FPS", "BITRATE", "UPTIME", "RESTARTS", "AGE"]
Create = Callable[[str], dict[str, Any]]
HLS_OPTIONS = [
    *("-c:v", "libx264", "-preset", "ultrafast", "-g", "20"),
    *("-f", "hls", "-hls_time", "2", "-hls_list_size", "3", "-hls_flags", "delete_segments"),
    *("-method", "PUT"),
]


def _testcard(process_id: str, namespace: str) -> dict[str, Any]:
    """A small test picture published as HLS into {memfs}, purged when deleted."""
    config = ProcessConfig(
        id=process_id,
        reference="e2e",
        input=[
            ProcessConfigIO(
                id="lavfi", address="testsrc2=size=160x120:rate=10", options=["-re", "-f", "lavfi"]
            )
        ],
        output=[
            ProcessConfigIO(
                id="hls",
                address="{memfs}/{processid}.m3u8",
                options=HLS_OPTIONS,
                cleanup=[Cleanup(pattern="memfs:/{processid}*", purge_on_delete=True)],
            )
        ],
        reconnect=True,
        reconnect_delay_seconds=2,
    )
    return cr_from_config(config, namespace, "running")


@pytest.fixture
def create_process(kubectl: Kubectl, settings: Settings) -> Iterator[Create]:
    created: list[str] = []

    def create(process_id: str) -> dict[str, Any]:
        obj = _testcard(process_id, settings.namespace)
        kubectl.apply([obj])
        created.append(obj["metadata"]["name"])
        return obj

    yield create
    for name in created:
        kubectl.run(
            "delete", "ffp", name, "-n", settings.namespace, "--ignore-not-found", "--wait=false"
        )


def _wait_running(kubectl: Kubectl, name: str, namespace: str) -> None:
    kubectl.run(
        "wait",
        "--for=condition=Running",
        f"ffp/{name}",
        "-n",
        namespace,
        "--timeout=240s",
        timeout=260,
    )


def _live_pods(kubectl: Kubectl, name: str, namespace: str) -> list[dict[str, Any]]:
    pods = kubectl.pods(f"{PROCESS_LABEL}={name}", namespace)
    return [p for p in pods if p["status"].get("phase") in ("Pending", "Running")]


def _state(api: httpx.Client, process_id: str) -> dict[str, Any]:
    response = api.get(f"/api/v3/process/{quote(process_id, safe='')}/state")
    response.raise_for_status()
    state: dict[str, Any] = response.json()
    return state


# --------------------------------------------------------------------------- the operator


def test_applied_process_reaches_running_in_one_pod(
    kubectl: Kubectl, settings: Settings, create_process: Create
) -> None:
    name = create_process("e2e-running")["metadata"]["name"]
    _wait_running(kubectl, name, settings.namespace)
    assert [p["status"]["phase"] for p in _live_pods(kubectl, name, settings.namespace)] == [
        "Running"
    ]


def test_kubectl_get_ffp_shows_state_and_progress(
    kubectl: Kubectl, settings: Settings, create_process: Create
) -> None:
    name = create_process("e2e-columns")["metadata"]["name"]
    _wait_running(kubectl, name, settings.namespace)

    def progress() -> float | None:
        obj = kubectl.get("ffp", name)
        fps = float((obj or {}).get("status", {}).get("progress", {}).get("fps") or 0)
        return fps if fps > 0 else None

    # The status summary is written at most about every 30 s (design §5).
    eventually(progress, 90, "a progress summary in the status", every=3)
    table = kubectl.run("get", "ffp", name, "-n", settings.namespace).stdout.splitlines()
    assert table[0].split() == PRINTER_COLUMNS
    row = table[1].split()
    assert row[:3] == [name, "running", "start"]
    assert float(row[3]) > 0


# --------------------------------------------------------------------------- the API


def test_api_reports_live_progress(
    kubectl: Kubectl, settings: Settings, api: httpx.Client, create_process: Create
) -> None:
    name = create_process("e2e-api-progress")["metadata"]["name"]
    _wait_running(kubectl, name, settings.namespace)
    first = eventually(
        lambda: _state(api, "e2e-api-progress")["progress"]["frame"] or None, 60, "frames"
    )
    later = eventually(
        lambda: (f := _state(api, "e2e-api-progress")["progress"]["frame"]) > first and f,
        30,
        "the frame counter to advance",
    )
    assert later > first
    assert _state(api, "e2e-api-progress")["exec"] == "running"


def test_api_stops_and_starts_a_process(
    kubectl: Kubectl, settings: Settings, api: httpx.Client, create_process: Create
) -> None:
    process_id = "e2e-stop-start"
    name = create_process(process_id)["metadata"]["name"]
    _wait_running(kubectl, name, settings.namespace)
    command = f"/api/v3/process/{process_id}/command"

    assert api.put(command, json={"command": "stop"}).status_code == 200
    obj = kubectl.get("ffp", name)
    assert obj is not None and obj["spec"]["desiredState"] == "stopped"
    eventually(lambda: not _live_pods(kubectl, name, settings.namespace), 60, "the run Pod to end")
    state = eventually(
        lambda: (s := _state(api, process_id))["exec"] != "running" and s,
        30,
        "exec to leave running",
    )
    assert state["order"] == "stop"

    assert api.put(command, json={"command": "start"}).status_code == 200
    _wait_running(kubectl, name, settings.namespace)
    assert _state(api, process_id)["order"] == "start"


def test_delete_removes_run_pods_and_purges_memfs(
    kubectl: Kubectl, settings: Settings, api: httpx.Client, create_process: Create
) -> None:
    process_id = "e2e-purge"
    name = create_process(process_id)["metadata"]["name"]
    _wait_running(kubectl, name, settings.namespace)
    playlist = f"/memfs/{process_id}.m3u8"
    eventually(lambda: api.get(playlist).status_code == 200, 60, "the HLS playlist in memfs")

    kubectl.run("delete", "ffp", name, "-n", settings.namespace, "--timeout=120s", timeout=140)
    eventually(
        lambda: not kubectl.pods(f"{PROCESS_LABEL}={name}", settings.namespace),
        60,
        "the run Pods to be gone",
    )
    eventually(lambda: api.get(playlist).status_code == 404, 60, "the purge of memfs files")


# --------------------------------------------------------------------------- Restreamer UI


def test_ui_publishes_its_player_page_on_the_diskfs_claim(api: httpx.Client) -> None:
    """What the UI does after a channel is created: a page on {diskfs}, served at /."""
    preflight = api.options(
        "/api/v3/fs/disk/channels/e2e/player.html",
        headers={"Origin": "http://ui.example", "Access-Control-Request-Method": "PUT"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    config = api.get("/api/v3/config").json()
    # The chart turns auth on: the UI shows its login, never its registration.
    assert "api.auth.enable" in config["overrides"]
    path = "/channels/e2e/player.html"
    put = api.put(f"/api/v3/fs/disk{path}", content=b"<h1>e2e</h1>")
    assert put.status_code in (201, 204)
    try:
        assert api.get(path).content == b"<h1>e2e</h1>"
        listed = api.get("/api/v3/fs/disk", params={"glob": "/channels/e2e/*"}).json()
        assert [f["name"] for f in listed] == [path]
    finally:
        api.delete(f"/api/v3/fs/disk{path}")


# --------------------------------------------------------------------------- GitOps


def test_gitops_overlay_runs_the_example_processes(kubectl: Kubectl) -> None:
    # What Argo CD or Flux would apply: the production overlay (with the e2e image), then the
    # processes kept in Git.
    kubectl.apply(kubectl.kustomize(ROOT / "tests" / "e2e" / "gitops"))
    try:
        kubectl.run(
            "wait",
            "--for=condition=Available",
            "deployment/ffmpeg-operator-operator",
            "deployment/ffmpeg-operator-api",
            "-n",
            GITOPS_NAMESPACE,
            "--timeout=300s",
            timeout=320,
        )
        kubectl.apply(kubectl.kustomize(ROOT / "deploy" / "examples" / "gitops"))
        _wait_running(kubectl, "testcard", GITOPS_NAMESPACE)
        stopped = kubectl.get("ffp", "archive", GITOPS_NAMESPACE)
        assert stopped is not None
        assert not _live_pods(kubectl, "archive", GITOPS_NAMESPACE)
    finally:
        # Processes first, while their operator still runs to remove its finalizers.
        kubectl.run(
            "delete",
            "ffp",
            "--all",
            "-n",
            GITOPS_NAMESPACE,
            "--timeout=120s",
            timeout=140,
            check=False,
        )
        kubectl.run(
            "delete", "namespace", GITOPS_NAMESPACE, "--timeout=300s", timeout=320, check=False
        )
