"""An operator under test with what it acts on: the emulator, the pod runner, the disk volume."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import httpx
from emulator import FFMPEG_PROCESSES, PODS, RunningEmulator
from podrunner import PodRunner

from ffmpeg_operator.kube.names import PROCESS_LABEL, run_from_pod_name
from ffmpeg_operator.kube.pod import OperatorSettings
from ffmpeg_operator.operator.config import OperatorConfig
from ffmpeg_operator.operator.context import OperatorContext
from ffmpeg_operator.operator.handlers import build_registry

T = TypeVar("T")
Obj = dict[str, Any]

NAMESPACE = "default"
DISK_MOUNT = "/data"
#: A live test source, cheap on CPU.
TESTSRC = {"address": "testsrc=size=160x120:rate=10", "options": ["-re", "-f", "lavfi"]}


def spec_of(process_id: str, **changes: Any) -> Obj:
    """A CR spec streaming the test source to nowhere, with ``changes`` (camelCase keys)."""
    spec: Obj = {
        "id": process_id,
        "input": [{"id": "in", **copy.deepcopy(TESTSRC)}],
        "output": [{"id": "out", "address": "-", "options": ["-f", "null"]}],
        "options": ["-loglevel", "info"],
        "reconnect": False,
        "reconnectDelaySeconds": 0,
        "desiredState": "running",
    }
    spec.update(changes)
    return spec


def operator_config(disk: Path, **changes: Any) -> OperatorConfig:
    pods = OperatorSettings(
        diskfs_pvc="diskfs", diskfs_mount_path=DISK_MOUNT, termination_grace_period_seconds=5
    )
    return replace(OperatorConfig(pods=pods, diskfs_root=disk), **changes)


@dataclass
class OperatorHarness:
    emulator: RunningEmulator
    pods: PodRunner
    start_kopf: Callable[..., Any]
    disk: Path
    operators: list[tuple[Any, OperatorContext]] = field(default_factory=list)

    # ------------------------------------------------------------------ operators

    def start_operator(
        self, *, peering: str | None = None, priority: int | None = None, **config: Any
    ) -> OperatorContext:
        """An operator; with ``peering``, returned once it announced itself there (a standby
        does not watch FFmpegProcesses, so their watch cannot tell)."""
        registry, context = build_registry(operator_config(self.disk, **config))
        args = () if priority is None else (f"--priority={priority}",)
        if peering is None:
            runner = self.start_kopf(registry, args=args)
        else:
            peers = len(self._peering(peering))
            runner = self.start_kopf(registry, peering=peering, args=args, wait=None)
            self.wait(lambda: len(self._peering(peering)) > peers, 10, "no peering record")
        self.operators.append((runner, context))
        return context

    def _peering(self, name: str) -> Obj:
        found = self.emulator.get("kopf.dev/v1/kopfpeerings", NAMESPACE, name) or {}
        return found.get("status") or {}

    def stop_operator(self, context: OperatorContext) -> None:
        for runner, known in self.operators:
            if known is context:
                runner.__exit__(None, None, None)

    # ------------------------------------------------------------------ objects

    def create(self, name: str, **spec: Any) -> Obj:
        body = {"metadata": {"name": name}, "spec": spec_of(name, **spec)}
        return self.emulator.create(FFMPEG_PROCESSES, body, NAMESPACE)

    def patch_spec(self, name: str, **changes: Any) -> Obj:
        return self.emulator.patch(FFMPEG_PROCESSES, NAMESPACE, name, {"spec": changes})

    def delete(self, name: str) -> Obj:
        return self.emulator.delete(FFMPEG_PROCESSES, NAMESPACE, name)

    def process(self, name: str) -> Obj | None:
        return self.emulator.get(FFMPEG_PROCESSES, NAMESPACE, name)

    def status(self, name: str) -> Obj:
        return (self.process(name) or {}).get("status") or {}

    def condition(self, name: str, kind: str) -> Obj:
        found = [c for c in self.status(name).get("conditions", []) if c["type"] == kind]
        return found[0] if found else {}

    def pod(self, name: str) -> Obj | None:
        return self.emulator.get(PODS, NAMESPACE, name)

    def run_pods(self, name: str) -> list[str]:
        """Names of the process's run Pods, by run number."""
        pods = self.emulator.objects(PODS, NAMESPACE, label_selector=f"{PROCESS_LABEL}={name}")
        names = [p["metadata"]["name"] for p in pods]
        return sorted(names, key=lambda pod: run_from_pod_name(name, pod) or 0)

    def ffmpeg_state(self, pod: str) -> Obj:
        """The ffmpeg container's state in the Pod's status ({} before there is one)."""
        statuses = ((self.pod(pod) or {}).get("status") or {}).get("containerStatuses") or []
        found = [s for s in statuses if s["name"] == "ffmpeg"]
        return found[0]["state"] if found else {}

    def events(self, name: str) -> list[Obj]:
        return [
            e
            for e in self.emulator.objects("v1/events", NAMESPACE)
            if e.get("involvedObject", {}).get("name") == name
        ]

    def request_mark(self) -> int:
        """The id of the last request the emulator received (see :meth:`status_patches`)."""
        return max((r.id for r in self._logged_requests()), default=0)

    def status_patches(self, name: str, since: int) -> int:
        """PATCHes of the process's status subresource received after request ``since``.

        The emulator keeps only its last requests; fails when some after ``since`` are gone.
        """
        logged = [r for r in self._logged_requests() if r.id > since]
        assert (logged and min(r.id for r in logged) == since + 1) or not logged, "log too short"
        return sum(
            1
            for r in logged
            if str(r.method).upper().endswith("PATCH")
            and r.subresource == "status"
            and r.name == name
            and r.resource is not None
            and r.resource.plural == "ffmpegprocesses"
        )

    def _logged_requests(self) -> list[Any]:
        return self.emulator.call(lambda: list(self.emulator.handler._requests))

    # ------------------------------------------------------------------ waiting

    def wait(self, predicate: Callable[[], T], timeout: float = 15.0, message: str = "") -> T:
        return self.emulator.wait_for(predicate, timeout, message)

    def wait_state(self, name: str, *states: str, timeout: float = 15.0) -> Obj:
        return self.wait(
            lambda: self.status(name).get("state") in states and self.status(name),
            timeout,
            f"{name} never reached {states}: {self.status(name)}",
        )

    def wait_transcoding(self, pod: str, timeout: float = 20.0) -> None:
        """Until ffmpeg in ``pod`` has opened its output: its signal handlers are in place then
        (a SIGTERM before that kills it; the Pod runs from its first instruction on)."""
        self.wait(
            lambda: "Output #0" in self.pods.log(NAMESPACE, pod, "ffmpeg"),
            timeout,
            f"ffmpeg in {pod} never opened its output",
        )

    def wait_running(self, name: str, timeout: float = 20.0) -> Obj:
        return self.wait(
            lambda: self.condition(name, "Running").get("status") == "True" and self.status(name),
            timeout,
            f"{name} is not running: {self.status(name)}",
        )

    def wait_progress(self, name: str, run: int = 1, timeout: float = 20.0) -> Obj:
        """Wait until the run's agent saw ffmpeg's progress: ffmpeg has its signal handlers
        then (a SIGTERM before that kills it: exit 143, "killed", not ffmpeg's 255)."""

        def progressed() -> Obj | None:
            pod = self.pod(f"{name}-{run}") or {}
            ip = (pod.get("status") or {}).get("podIP")
            if not ip:
                return None
            port = OperatorSettings().agent_port
            try:
                state: Obj = httpx.get(f"http://{ip}:{port}/state", timeout=2).json()
            except (httpx.HTTPError, ValueError):
                return None
            return state if state.get("progress", {}).get("frame", 0) > 0 else None

        return self.wait(progressed, timeout, f"no progress from {name}-{run}")


def monotonic_until(predicate: Callable[[], Any], timeout: float, step: float = 0.02) -> float:
    """Poll ``predicate`` until true; the monotonic time it became true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(step)
    raise TimeoutError(f"condition not met within {timeout}s")
