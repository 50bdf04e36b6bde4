"""The test pod runner plays kubelet: processes for containers, statuses back to the API."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from emulator import PODS, RunningEmulator
from kube_examples import minimal_cr
from podrunner import PathMap, PodRunner, expand_references

from ffmpeg_operator.kube.pod import OperatorSettings, build_run_pod

# A native sidecar: runs until SIGTERM, then leaves a termination message (path in argv[1]).
SIDECAR = """
import signal, sys, time
def stop(*_):
    open(sys.argv[1], "w").write("stopped by SIGTERM")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
print("sidecar up", flush=True)
while True:
    time.sleep(0.02)
"""
# Exits 1 on its first run and 0 on the next (the count lives in argv[1]).
FAILS_ONCE = """
import os, sys
runs = int(open(sys.argv[1]).read()) if os.path.exists(sys.argv[1]) else 0
open(sys.argv[1], "w").write(str(runs + 1))
print("run", runs)
sys.exit(1 if runs == 0 else 0)
"""
TESTSRC = ["-nostdin", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10"]
LIVE = ["-nostdin", "-re", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10"]


def ffmpeg_pod(name: str, *args: str, policy: str = "Never", **main: Any) -> dict[str, Any]:
    """A run Pod's shape: a sidecar and an ffmpeg main container."""
    return {
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": policy,
            "initContainers": [
                {
                    "name": "agent",
                    "image": "agent",
                    "restartPolicy": "Always",
                    "command": ["python3", "-c", SIDECAR, "/dev/termination-log"],
                }
            ],
            "containers": [
                {
                    "name": "ffmpeg",
                    "image": "ffmpeg",
                    "command": ["ffmpeg"],
                    "args": list(args),
                    **main,
                }
            ],
        },
    }


def python_pod(
    name: str, script: str, *args: str, policy: str = "Never", **spec: Any
) -> dict[str, Any]:
    main = {"name": "main", "image": "python", "command": ["python3", "-c", script, *args]}
    main.update(spec.pop("main", {}))
    return {
        "metadata": {"name": name},
        "spec": {"restartPolicy": policy, "containers": [main], **spec},
    }


def status_of(emulator: RunningEmulator, name: str) -> dict[str, Any]:
    return (emulator.get(PODS, "default", name) or {}).get("status") or {}


def wait_phase(
    emulator: RunningEmulator, name: str, *phases: str, timeout: float = 10
) -> dict[str, Any]:
    return emulator.wait_for(
        lambda: status_of(emulator, name).get("phase") in phases and status_of(emulator, name),
        timeout,
        f"pod {name} never reached {phases}: {status_of(emulator, name)}",
    )


def state_of(status: dict[str, Any], name: str) -> dict[str, Any]:
    entries = status.get("containerStatuses", []) + status.get("initContainerStatuses", [])
    return next(entry for entry in entries if entry["name"] == name)["state"]


@pytest.fixture
def http(emulator: RunningEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, timeout=5, verify=False) as client:
        yield client


def test_pod_is_running_while_its_main_container_runs(
    emulator: RunningEmulator, pod_runner: PodRunner
) -> None:
    emulator.create(PODS, ffmpeg_pod("p", *LIVE, "-t", "5", "-f", "null", "-"))

    status = wait_phase(emulator, "p", "Running")

    assert "running" in state_of(status, "ffmpeg")
    assert "running" in state_of(status, "agent")
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"


def test_pod_succeeds_when_its_main_container_exits_zero(
    emulator: RunningEmulator, pod_runner: PodRunner
) -> None:
    emulator.create(PODS, ffmpeg_pod("p", *TESTSRC, "-t", "1", "-f", "null", "-"))

    status = wait_phase(emulator, "p", "Succeeded", "Failed")

    terminated = state_of(status, "ffmpeg")["terminated"]
    assert (status["phase"], terminated["exitCode"], terminated["reason"]) == (
        "Succeeded",
        0,
        "Completed",
    )
    assert terminated["startedAt"] <= terminated["finishedAt"]


def test_sidecar_gets_sigterm_after_the_main_container_exits(
    emulator: RunningEmulator, pod_runner: PodRunner
) -> None:
    # In real time: the sidecar must have set up its SIGTERM handler by then.
    emulator.create(PODS, ffmpeg_pod("p", *LIVE, "-t", "1", "-f", "null", "-"))

    status = wait_phase(emulator, "p", "Succeeded", "Failed")

    terminated = state_of(status, "agent")["terminated"]
    assert (terminated["exitCode"], terminated["message"]) == (0, "stopped by SIGTERM")


def test_pod_fails_when_its_main_container_fails(
    emulator: RunningEmulator, pod_runner: PodRunner
) -> None:
    emulator.create(
        PODS,
        ffmpeg_pod(
            "p",
            "-nostdin",
            "-i",
            "/missing.mp4",
            "-f",
            "null",
            "-",
            terminationMessagePolicy="FallbackToLogsOnError",
        ),
    )

    status = wait_phase(emulator, "p", "Succeeded", "Failed")

    terminated = state_of(status, "ffmpeg")["terminated"]
    assert (status["phase"], terminated["exitCode"], terminated["reason"]) == (
        "Failed",
        254,
        "Error",
    )
    assert "/missing.mp4" in terminated["message"]  # the log tail stands in for a message


def _with_init(pod: dict[str, Any], script: str) -> dict[str, Any]:
    mount = [{"name": "work", "mountPath": "/work"}]
    pod["spec"]["initContainers"] = [
        {
            "name": "init",
            "image": "python",
            "volumeMounts": mount,
            "command": ["python3", "-c", script, "/work/ready"],
        }
    ]
    pod["spec"]["containers"][0]["volumeMounts"] = mount
    pod["spec"]["volumes"] = [{"name": "work", "emptyDir": {}}]
    return pod


def test_init_container_completes_before_the_main_container_starts(
    emulator: RunningEmulator, pod_runner: PodRunner
) -> None:
    main = "import os, sys; sys.exit(0 if os.path.exists(sys.argv[1]) else 3)"
    emulator.create(
        PODS,
        _with_init(
            python_pod("p", main, "/work/ready"),
            "import sys, time; time.sleep(0.3); open(sys.argv[1], 'w').write('ok')",
        ),
    )

    status = wait_phase(emulator, "p", "Succeeded", "Failed")

    assert status["phase"] == "Succeeded"


def test_failed_init_container_fails_the_pod_before_the_main_container(
    emulator: RunningEmulator, pod_runner: PodRunner
) -> None:
    emulator.create(PODS, _with_init(python_pod("p", "pass"), "raise SystemExit(2)"))

    status = wait_phase(emulator, "p", "Succeeded", "Failed")

    assert status["phase"] == "Failed"
    assert state_of(status, "init")["terminated"]["exitCode"] == 2
    assert "waiting" in state_of(status, "main")


def test_unknown_command_is_a_start_error(emulator: RunningEmulator, pod_runner: PodRunner) -> None:
    emulator.create(PODS, python_pod("p", "", main={"command": ["no-such-binary"]}))

    status = wait_phase(emulator, "p", "Failed")

    assert state_of(status, "main")["terminated"]["reason"] == "StartError"


def test_deleting_a_pod_kills_its_processes(
    emulator: RunningEmulator, pod_runner: PodRunner
) -> None:
    emulator.create(PODS, ffmpeg_pod("p", *LIVE, "-t", "60", "-f", "null", "-"))
    wait_phase(emulator, "p", "Running")
    processes = [psutil.Process(pid) for pid in pod_runner.pids("default", "p").values()]

    emulator.delete(PODS, "default", "p")

    gone, alive = psutil.wait_procs(processes, timeout=5)
    assert (len(gone), alive) == (2, [])


def test_graceful_deletion_ends_with_the_runner_deleting_the_pod(
    emulator: RunningEmulator, pod_runner: PodRunner
) -> None:
    emulator.handler.graceful_pod_deletion = True
    emulator.create(PODS, ffmpeg_pod("p", *LIVE, "-t", "60", "-f", "null", "-"))
    wait_phase(emulator, "p", "Running")

    emulator.delete(PODS, "default", "p")

    emulator.wait_for(lambda: emulator.get(PODS, "default", "p") is None)
    assert pod_runner.pids("default", "p") == {}


def test_log_route_serves_the_tail_of_a_container_log(
    emulator: RunningEmulator, pod_runner: PodRunner, http: httpx.Client
) -> None:
    emulator.create(PODS, python_pod("p", "print('one'); print('two')"))
    wait_phase(emulator, "p", "Succeeded")

    response = http.get(
        "/api/v1/namespaces/default/pods/p/log", params={"container": "main", "tailLines": "1"}
    )

    assert response.text == "two\n"


def test_log_route_needs_a_container_name_given_several(
    emulator: RunningEmulator, pod_runner: PodRunner, http: httpx.Client
) -> None:
    emulator.create(PODS, ffmpeg_pod("p", *TESTSRC, "-t", "1", "-f", "null", "-"))
    wait_phase(emulator, "p", "Succeeded")

    response = http.get("/api/v1/namespaces/default/pods/p/log")

    assert response.status_code == 400


def test_restart_policy_on_failure_restarts_the_container(
    emulator: RunningEmulator, pod_runner: PodRunner, http: httpx.Client
) -> None:
    emulator.create(
        PODS,
        python_pod(
            "p",
            FAILS_ONCE,
            "/work/runs",
            policy="OnFailure",
            main={"volumeMounts": [{"name": "work", "mountPath": "/work"}]},
            volumes=[{"name": "work", "emptyDir": {}}],
        ),
    )

    status = wait_phase(emulator, "p", "Succeeded")

    main = status["containerStatuses"][0]
    assert (main["restartCount"], main["lastState"]["terminated"]["exitCode"]) == (1, 1)
    previous = http.get(
        "/api/v1/namespaces/default/pods/p/log", params={"container": "main", "previous": "true"}
    )
    assert previous.text == "run 0\n"


def test_pvc_mount_path_maps_to_the_claims_host_directory(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    disk = tmp_path / "disk"
    pod = ffmpeg_pod("p", *TESTSRC, "-frames:v", "1", "-y", "/data/frame.png")
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "diskfs", "mountPath": "/data"}]
    pod["spec"]["volumes"] = [{"name": "diskfs", "persistentVolumeClaim": {"claimName": "diskfs"}}]

    with PodRunner(emulator, tmp_path / "pods", pvc_paths={"diskfs": disk}):
        emulator.create(PODS, pod)
        wait_phase(emulator, "p", "Succeeded")

    assert (disk / "frame.png").stat().st_size > 0


def test_env_comes_from_the_pod_spec_and_field_refs(
    emulator: RunningEmulator, pod_runner: PodRunner
) -> None:
    env = [
        {"name": "WHO", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "GREETING", "value": "hello $(WHO)"},
    ]
    emulator.create(
        PODS,
        python_pod(
            "p",
            "import os, sys; print(os.environ['GREETING'], sys.argv[1])",
            "$(WHO)",
            main={"env": env},
        ),
    )

    wait_phase(emulator, "p", "Succeeded")

    assert pod_runner.log("default", "p", "main") == "hello p p\n"


def test_loopback_isolation_gives_each_pod_its_own_address(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    script = "import sys; print(sys.argv[1])"
    with PodRunner(emulator, tmp_path / "pods", isolate_loopback=True) as runner:
        emulator.create(PODS, python_pod("a", script, "tcp://127.0.0.1:9000"))
        emulator.create(PODS, python_pod("b", script, "tcp://127.0.0.1:9000"))
        addresses = {name: wait_phase(emulator, name, "Succeeded")["podIP"] for name in "ab"}
        logs = {name: runner.log("default", name, "main") for name in "ab"}

    assert len(set(addresses.values())) == 2
    assert logs == {name: f"tcp://{ip}:9000\n" for name, ip in addresses.items()}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/data/x.mp4", "/host/d/x.mp4"),
        ("file:/data/x.mp4", "file:/host/d/x.mp4"),
        ("-hls_segment_filename=/data/s_%d.ts", "-hls_segment_filename=/host/d/s_%d.ts"),
        ("/data", "/host/d"),
        ("/database/x", "/database/x"),
        ("/var/data/x", "/var/data/x"),
        ("http://host/data/x", "http://host/data/x"),
        ("/dev/termination-log", "/host/t"),
    ],
)
def test_mount_paths_are_rewritten_only_where_a_path_starts(text: str, expected: str) -> None:
    mapping = PathMap({"/data": "/host/d", "/dev/termination-log": "/host/t"})

    assert mapping(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("$(A)-$(B)", "1-$(B)"), ("$$(A)", "$(A)"), ("cost $5", "cost $5")],
)
def test_variable_references_expand_like_kubernetes(text: str, expected: str) -> None:
    assert expand_references(text, {"A": "1"}) == expected


def test_stopping_the_runner_leaves_no_process(emulator: RunningEmulator, tmp_path: Path) -> None:
    with PodRunner(emulator, tmp_path / "pods") as runner:
        emulator.create(PODS, ffmpeg_pod("p", *LIVE, "-t", "60", "-f", "null", "-"))
        wait_phase(emulator, "p", "Running")
        processes = [psutil.Process(pid) for pid in runner.pids("default", "p").values()]

    assert not [p for p in processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# A sidecar that becomes ready late: its HTTP port opens 0.5 s after a file says it will.
LATE_SERVER = """
import http.server, pathlib, sys, time
time.sleep(0.5)
pathlib.Path(sys.argv[2]).write_text("ready")
handler = http.server.SimpleHTTPRequestHandler
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
"""


def test_containers_after_a_sidecar_wait_for_its_startup_probe(
    emulator: RunningEmulator, pod_runner: PodRunner
) -> None:
    port = free_port()
    pod = python_pod(
        "p",
        "import os; print(os.path.exists('/shared/ready'))",
        main={"volumeMounts": [{"name": "shared", "mountPath": "/shared"}]},
    )
    pod["spec"]["volumes"] = [{"name": "shared", "emptyDir": {}}]
    pod["spec"]["initContainers"] = [
        {
            "name": "server",
            "image": "python",
            "restartPolicy": "Always",
            "command": ["python3", "-c", LATE_SERVER, str(port), "/shared/ready"],
            "volumeMounts": [{"name": "shared", "mountPath": "/shared"}],
            "startupProbe": {
                "httpGet": {"path": "/", "port": port},
                "periodSeconds": 1,
                "failureThreshold": 10,
            },
        }
    ]
    emulator.create(PODS, pod)

    wait_phase(emulator, "p", "Succeeded", timeout=15)

    assert pod_runner.log("default", "p", "main") == "True\n"


@pytest.mark.slow
def test_run_pods_of_two_processes_run_side_by_side(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    settings = OperatorSettings()
    with PodRunner(emulator, tmp_path / "pods", isolate_loopback=True) as runner:
        for name in ("one", "two"):
            cr = minimal_cr(id=name)
            cr["metadata"].update(name=name, namespace="default")
            cr["spec"]["input"][0]["options"] = ["-re", "-f", "lavfi"]
            emulator.create(PODS, build_run_pod(cr, 1, settings, lambda _pid: None).manifest)
        addresses = [
            runner.wait_phase("default", f"{name}-1", "Running", timeout=20)["podIP"]
            for name in ("one", "two")
        ]

        def frames(address: str) -> int:
            url = f"http://{address}:{settings.agent_port}/state"
            try:
                return int(httpx.get(url, timeout=2).json()["progress"]["frame"])
            except httpx.HTTPError:
                return 0

        emulator.wait_for(lambda: all(frames(a) > 0 for a in addresses), 20, "no progress")

    assert len(set(addresses)) == 2
