"""The Kubernetes operator against its targets: Pod creation, memory, status writes.

Everything runs against the test API server (``tests/kube/emulator.py``: kmock with the gaps
filled, in a thread of this process) and the operator as the chart runs it
(``python -m ffmpeg_operator operator --namespace ...`` in a subprocess, kubeconfig pointing at
the emulator):

(a) 1,000 FFmpegProcess objects POSTed (16 requests in flight) until their 1,000 run Pods
    exist, against a bare client POSTing the same 1,000 Pod manifests the same way into a
    fresh emulator: the operator's overhead on the path an object takes to its Pod. For
    scale, the same path through the least kopf operator (``bench/kopf_floor.py``: a daemon
    that POSTs one Pod) shows what the framework itself costs;
(b) the operator's RSS idle and with those 1,000 objects (and their Pods) in its indexes;
(d) the operator's RSS with those 1,000 objects and 10,000 unrelated Pods in the namespace,
    beside (b) in the same run: the operator lists and watches run Pods only (a server-side
    label selector), so the unrelated Pods must cost it nothing;
(c) status writes per running process: a few processes run for real (the pod runner plays
    kubelet: agent + ffmpeg per Pod), and every status write is counted from a watch on the
    objects, during a window that starts once all of them run (target: at most 10 per 5 min,
    i.e. one per 30 s), and separately during start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import yaml

from bench.report import Figure, render, save
from bench.server import stop

CHART_VALUES = Path(__file__).resolve().parents[1] / "helm" / "ffmpeg-operator" / "values.yaml"
KUBE_TESTS = Path(__file__).resolve().parents[1] / "tests" / "kube"
if str(KUBE_TESTS) not in sys.path:
    sys.path.insert(0, str(KUBE_TESTS))

from emulator import (  # noqa: E402
    EVENTS,
    FFMPEG_PROCESSES,
    NAMESPACES,
    PODS,
    RunningEmulator,
    kubeconfig_env,
)
from podrunner import PodRunner  # noqa: E402

from ffmpeg_operator.core.models import ProcessConfig  # noqa: E402
from ffmpeg_operator.kube.names import GROUP  # noqa: E402
from ffmpeg_operator.kube.pod import OperatorSettings, build_run_pod  # noqa: E402
from ffmpeg_operator.kube.spec import API_VERSION, KIND, PLURAL, VERSION  # noqa: E402

NAMESPACE = "bench"
IN_FLIGHT = 16
#: Status writes a running process may cost per 5 minutes (one per 30 s).
WRITES_PER_5_MIN = 10


@dataclass(frozen=True)
class Plan:
    objects: int  # (a), (b)
    running: int  # (c) processes that run for real
    window_s: float  # (c) steady-state window
    unrelated: int = 10_000  # (d) Pods of other workloads in the namespace

    @classmethod
    def full(cls) -> Plan:
        return cls(objects=1000, running=6, window_s=300.0)

    @classmethod
    def quick(cls) -> Plan:
        return cls(objects=1000, running=4, window_s=60.0)


def _spec(pid: str, desired: str = "running") -> dict[str, Any]:
    return {
        "id": pid,
        "options": ["-loglevel", "error"],
        "input": [
            {
                "id": "in",
                "address": "testsrc=size=160x120:rate=10",
                "options": ["-re", "-f", "lavfi"],
            }
        ],
        "output": [{"id": "out", "address": "-", "options": ["-f", "null"]}],
        "reconnect": True,
        "reconnectDelaySeconds": 5,
        "desiredState": desired,
    }


def _process(name: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": _spec(name),
    }


def _no_refs(_pid: str) -> ProcessConfig | None:
    return None


# --------------------------------------------------------------------------- plumbing


async def _post_all(
    url: str, path: str, bodies: Sequence[dict[str, Any]], tls: ssl.SSLContext | None = None
) -> float:
    """POST every body with IN_FLIGHT requests at a time; the seconds it took."""
    gate = asyncio.Semaphore(IN_FLIGHT)
    connector = aiohttp.TCPConnector(limit=IN_FLIGHT, ssl=tls if tls is not None else True)
    async with aiohttp.ClientSession(base_url=url, connector=connector) as session:

        async def post(body: dict[str, Any]) -> None:
            async with gate, session.post(path, json=body) as response:
                if response.status >= 300:
                    raise RuntimeError(f"POST {path}: {response.status} {await response.text()}")

        started = time.perf_counter()
        await asyncio.gather(*(post(body) for body in bodies))
        return time.perf_counter() - started


def _count(emulator: RunningEmulator, resource: Any, namespace: str) -> int:
    return int(
        emulator.call(lambda: len(emulator.handler.list_objects(resource, namespace, None, None)))
    )


def _wait(predicate: Callable[[], bool], timeout: float, what: str, step: float = 0.05) -> float:
    """Poll until true; the perf_counter time it became true."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if predicate():
            return time.perf_counter()
        time.sleep(step)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


OPERATOR = [sys.executable, "-m", "ffmpeg_operator", "operator", f"--namespace={NAMESPACE}"]
KOPF_FLOOR = [
    sys.executable, "-m", "kopf", "run", "--standalone", "-n", NAMESPACE,
    str(Path(__file__).resolve().parent / "kopf_floor.py"),
]  # fmt: skip


@contextlib.contextmanager
def operator_process(
    emulator: RunningEmulator, log: Path, command: Sequence[str] = OPERATOR
) -> Iterator[psutil.Process]:
    """``ffmpeg-operator operator`` (or another kopf operator) against the emulator."""
    if emulator.get(NAMESPACES, None, NAMESPACE) is None:  # kopf waits for it to exist
        emulator.create(NAMESPACES, {"metadata": {"name": NAMESPACE}})
    env = {**kubeconfig_env(emulator), "FFMPEG_OPERATOR_POD_NAME": "bench-operator"}
    with log.open("wb") as output:
        child = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        _wait(
            lambda: emulator.watchers(FFMPEG_PROCESSES) > 0 or child.poll() is not None,
            60,
            "the operator's watch",
        )
        if child.poll() is not None:
            raise RuntimeError(f"the operator exited: {log.read_text()[-2000:]}")
        yield psutil.Process(child.pid)
    finally:
        stop(child)


# --------------------------------------------------------------------------- (a), (b)


def bare_creation(directory: Path, count: int) -> float:
    settings = OperatorSettings()
    pods = [
        build_run_pod(_process(f"p{index:04d}"), 1, settings, _no_refs).manifest
        for index in range(count)
    ]
    directory.mkdir(parents=True, exist_ok=True)
    with RunningEmulator(directory) as emulator:
        return asyncio.run(_post_all(emulator.url, f"/api/v1/namespaces/{NAMESPACE}/pods", pods))


def _unrelated_pods(emulator: RunningEmulator, count: int) -> None:
    """``count`` Pods of another workload (no run Pod label), as a busy namespace has."""
    if emulator.get(NAMESPACES, None, NAMESPACE) is None:
        emulator.create(NAMESPACES, {"metadata": {"name": NAMESPACE}})
    for index in range(count):
        emulator.create(
            PODS,
            {
                "metadata": {"name": f"web-{index:05d}", "labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
            NAMESPACE,
        )


def operator_creation(
    directory: Path, count: int, unrelated: int = 0
) -> tuple[list[Figure], dict[str, float]]:
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{PLURAL}"
    bodies = [_process(f"p{index:04d}") for index in range(count)]
    directory.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        emulator = stack.enter_context(RunningEmulator(directory))
        _unrelated_pods(emulator, unrelated)
        operator = stack.enter_context(operator_process(emulator, directory / "operator.log"))
        time.sleep(2.0)
        idle_rss = operator.memory_info().rss / 2**20
        idle_cpu = operator.cpu_times()
        started = time.perf_counter()
        posted = asyncio.run(_post_all(emulator.url, path, bodies))
        done = _wait(
            lambda: _count(emulator, PODS, NAMESPACE) >= count + unrelated, 600, "the Pods"
        )
        elapsed = done - started
        # Let the status writes and events that follow the Pods settle, then weigh it.
        settle = _wait(lambda: _statuses(emulator) >= count, 600, "the statuses")
        time.sleep(3.0)
        loaded_rss = operator.memory_info().rss / 2**20
        cpu = operator.cpu_times()
        timings = {
            "crs_posted_s": posted,
            "pods_s": elapsed,
            "statuses_s": settle - started,
            "operator_cpu_s": cpu.user + cpu.system - idle_cpu.user - idle_cpu.system,
            "idle_rss_mib": idle_rss,
            "loaded_rss_mib": loaded_rss,
            "events": float(_count(emulator, EVENTS, NAMESPACE)),
        }
    figures = [
        Figure(
            "(b) operator RSS idle",
            idle_rss,
            "MiB",
        ),
        Figure(
            f"(b) operator RSS, {count} processes",
            loaded_rss,
            "MiB",
            target=chart_memory_limit_mib(),
            reference="the chart's memory limit",
            note=f"{(loaded_rss - idle_rss) * 1024 / count:.1f} KiB per process",
        ),
    ]
    return figures, timings


def chart_memory_limit_mib() -> float:
    """The operator's memory limit in the chart's values (in Mi): the RSS target."""
    values = yaml.safe_load(CHART_VALUES.read_text())
    limit = str(values["operator"]["resources"]["limits"]["memory"])
    if not limit.endswith("Mi"):
        raise ValueError(f"the chart's operator memory limit is not in Mi: {limit}")
    return float(limit[:-2])


def _statuses(emulator: RunningEmulator) -> int:
    def written() -> int:
        objects = emulator.handler.list_objects(FFMPEG_PROCESSES, NAMESPACE, None, None)
        return sum(1 for obj in objects if (obj.get("status") or {}).get("state"))

    return int(emulator.call(written))


def floor_creation(directory: Path, count: int) -> float:
    """The same path through the least kopf operator (``bench/kopf_floor.py``)."""
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{PLURAL}"
    bodies = [_process(f"p{index:04d}") for index in range(count)]
    directory.mkdir(parents=True, exist_ok=True)
    with (
        RunningEmulator(directory) as emulator,
        operator_process(emulator, directory / "floor.log", KOPF_FLOOR),
    ):
        time.sleep(2.0)
        started = time.perf_counter()
        asyncio.run(_post_all(emulator.url, path, bodies))
        done = _wait(lambda: _count(emulator, PODS, NAMESPACE) >= count, 600, "the Pods")
    return done - started


def creation(directory: Path, plan: Plan) -> list[Figure]:
    bare = bare_creation(directory / "bare", plan.objects)
    floor = floor_creation(directory / "floor", plan.objects)
    figures, timings = operator_creation(directory / "operator", plan.objects)
    _, busy = operator_creation(directory / "busy", plan.objects, plan.unrelated)
    pods = timings["pods_s"]
    busy_figure = Figure(
        f"(d) operator RSS, {plan.objects} processes + {plan.unrelated} unrelated Pods",
        busy["loaded_rss_mib"],
        "MiB",
        target=chart_memory_limit_mib(),
        reference=f"without the unrelated Pods {timings['loaded_rss_mib']:.1f} MiB (b)",
        note=f"ratio {busy['loaded_rss_mib'] / timings['loaded_rss_mib']:.2f}; idle "
        f"{busy['idle_rss_mib']:.1f} MiB with them",
    )
    return [
        Figure(
            f"(a) {plan.objects} objects -> {plan.objects} Pods",
            pods,
            "s",
            reference=f"bare client {bare:.2f} s, kopf floor {floor:.2f} s",
            note=f"the objects' POSTs alone took {timings['crs_posted_s']:.2f} s; all statuses "
            f"written after {timings['statuses_s']:.2f} s; operator CPU "
            f"{timings['operator_cpu_s']:.1f} s; {timings['events']:.0f} events",
        ),
        Figure(
            "(a) operator path / bare Pod creation",
            pods / bare,
            "x",
            target=1.5,
            reference=f"{IN_FLIGHT} requests in flight both",
            note=f"the least kopf operator (a daemon POSTing the Pod): {floor / bare:.1f}x",
        ),
        *figures,
        busy_figure,
    ]


# --------------------------------------------------------------------------- (c)


class StatusWriteCounter:
    """Counts status changes per object from a watch stream (each status PATCH is one)."""

    def __init__(self, emulator: RunningEmulator) -> None:
        self.url = emulator.url + f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{PLURAL}"
        self.writes: Counter[str] = Counter()
        self._last: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)
        self._lock = threading.Lock()

    def __enter__(self) -> StatusWriteCounter:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.writes)

    def _main(self) -> None:
        asyncio.run(self._watch())

    async def _watch(self) -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_read=1.0)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            version = "0"
            while not self._stop.is_set():
                params = {"watch": "true", "resourceVersion": version}
                try:
                    async with session.get(self.url, params=params) as stream:
                        async for line in stream.content:
                            if self._stop.is_set():
                                return
                            if line.strip():
                                version = self._event(json.loads(line)) or version
                except (aiohttp.ClientError, TimeoutError):
                    await asyncio.sleep(0.05)

    def _event(self, event: dict[str, Any]) -> str | None:
        obj = event.get("object") or {}
        meta = obj.get("metadata") or {}
        name, status = meta.get("name"), obj.get("status")
        with self._lock:
            if name and status is not None and self._last.get(name) != status:
                if name in self._last or status:
                    self.writes[name] += 1
                self._last[name] = status
        return meta.get("resourceVersion")


def status_writes(directory: Path, plan: Plan, progress: Callable[[str], None]) -> list[Figure]:
    names = [f"run{index}" for index in range(plan.running)]
    (directory / "emulator").mkdir(parents=True, exist_ok=True)
    with (
        RunningEmulator(directory / "emulator", graceful_pod_deletion=True) as emulator,
        PodRunner(emulator, directory / "pods", isolate_loopback=True),
        operator_process(emulator, directory / "operator.log"),
        StatusWriteCounter(emulator) as counter,
    ):
        for name in names:
            emulator.create(
                FFMPEG_PROCESSES, {"metadata": {"name": name}, "spec": _spec(name)}, NAMESPACE
            )

        def all_running() -> bool:
            objects = emulator.objects(FFMPEG_PROCESSES, NAMESPACE)
            states = [(o.get("status") or {}).get("state") for o in objects]
            return states.count("running") == len(names)

        _wait(all_running, 120, "the processes to run", step=0.2)
        time.sleep(1.0)
        start_up = counter.snapshot()
        progress(
            f"(c) {len(names)} processes run; counting status writes for {plan.window_s:.0f} s ..."
        )
        time.sleep(plan.window_s)
        end = counter.snapshot()
        still = sum(
            (o.get("status") or {}).get("state") == "running"
            for o in emulator.objects(FFMPEG_PROCESSES, NAMESPACE)
        )
    per_process = [end[name] - start_up[name] for name in names]
    target = math.ceil(WRITES_PER_5_MIN * plan.window_s / 300.0)
    return [
        Figure(
            f"(c) status writes per running process, {plan.window_s:.0f} s",
            float(max(per_process)),
            "writes",
            target=float(target),
            reference="one per 30 s",
            note=f"per process {per_process}; {still}/{len(names)} still running at the end",
        ),
        Figure(
            "(c) status writes per process during start-up",
            float(max(start_up[name] for name in names)),
            "writes",
            note="creation until running (starting, running)",
        ),
    ]


# --------------------------------------------------------------------------- main


def run(plan: Plan, progress: Callable[[str], None] = print) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="bench-operator-") as temporary:
        directory = Path(temporary)
        progress(f"(a)/(b) {plan.objects} objects -> Pods, bare client and operator ...")
        figures = creation(directory / "creation", plan)
        progress("(c) status writes with the pod runner ...")
        figures += status_writes(directory / "writes", plan, progress)
    return figures


def main(quick: bool = False) -> int:
    plan = Plan.quick() if quick else Plan.full()
    figures = run(plan)
    print()
    print(render(figures))
    path = save("operator", figures, {"quick": quick, "in_flight": IN_FLIGHT, **asdict(plan)})
    print(f"\nsaved {path}")
    return 0
