"""The v3 API's Kubernetes backend against its targets: list latency, POST -> Pod latency.

Everything runs in the Kubernetes stand-in of the tests (``tests/kubeenv.py``): the API server
emulator and the pod runner in threads of this process, the operator in a kopf runner thread,
and ``python -m ffmpeg_operator serve --backend kubernetes`` as a subprocess on a kubeconfig
pointing at the emulator, driven over real HTTP:

(a) POST of an autostart process until its run Pod exists in the emulator (the operator's
    work, as an API client sees it), and until ``/state`` shows it running with frame > 0
    (the pod runner starts the agent sidecar, waits for its startup probe, then ffmpeg);
    measured in an empty namespace and again with 1,000 stopped processes beside it;
(b) ``GET /api/v3/process`` (full, and ``?filter=config``) with 1,000 stopped processes,
    p50 and p99 of a raw keep-alive client (the backend serves lists from its watch cache;
    the state and report of a process that never ran are one object per second, so their
    JSON is made once a second);
(c) the API server's RSS with those 1,000 processes.

Without the operator (not importable) (a) measures POST -> FFmpegProcess created instead.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.embedded import _quantile, _raw_latencies, ms, process_config, process_path
from bench.report import Figure, render, save

TESTS = Path(__file__).resolve().parents[1] / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from ffmpeg_operator.kube.names import cr_name, pod_name  # noqa: E402
from kubeenv import NAMESPACE, KubeEnvironment, kube_environment  # noqa: E402

POLL_INTERVAL_S = 0.005


@dataclass(frozen=True)
class Plan:
    starts: int  # (a) repetitions, per phase
    listed_processes: int  # (b), (c)
    list_requests: int  # (b) per variant

    @classmethod
    def full(cls) -> Plan:
        return cls(starts=10, listed_processes=1000, list_requests=300)

    @classmethod
    def quick(cls) -> Plan:
        return cls(starts=3, listed_processes=1000, list_requests=100)


def _config(pid: str, *, autostart: bool) -> dict[str, Any]:
    return process_config(pid, autostart=autostart, rate=25, loglevel="info")


def _running_with_frames(client: httpx.Client, pid: str) -> bool:
    state = client.get(process_path(pid) + "/state").json()
    return bool(state["exec"] == "running" and state["progress"]["frame"] > 0)


def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not within {timeout} s")
        time.sleep(POLL_INTERVAL_S)


# --------------------------------------------------------------------------- (a)


def start_latency(
    env: KubeEnvironment, client: httpx.Client, plan: Plan, label: str
) -> list[Figure]:
    to_object: list[float] = []
    to_pod: list[float] = []
    to_running: list[float] = []
    to_gone: list[float] = []
    for index in range(plan.starts):
        pid = f"bench-start-{label}-{index}"
        name = cr_name(pid)
        started = time.perf_counter()
        client.post("/api/v3/process", json=_config(pid, autostart=True)).raise_for_status()
        to_object.append(time.perf_counter() - started)  # the answer follows the object
        if env.has_operator:
            _until(
                lambda name=name: (
                    env.emulator.get("v1/pods", NAMESPACE, pod_name(name, 1)) is not None
                ),
                30,
                "run Pod",
            )
            to_pod.append(time.perf_counter() - started)
            _until(lambda pid=pid: _running_with_frames(client, pid), 30, "frames")
            to_running.append(time.perf_counter() - started)
        deleting = time.perf_counter()
        client.delete(process_path(pid)).raise_for_status()
        # The answer follows the object's removal (the operator's finalizer done, bounded).
        to_gone.append(time.perf_counter() - deleting)
    figures = [
        Figure(
            f"(a) POST -> FFmpegProcess created, {label}",
            ms(statistics.median(to_object)),
            "ms",
            note=f"{ms(min(to_object)):.0f}-{ms(max(to_object)):.0f} ms over {plan.starts}",
        )
    ]
    figures.append(
        Figure(
            f"(a) DELETE -> FFmpegProcess gone, {label}",
            ms(statistics.median(to_gone)),
            "ms",
            note=f"{ms(min(to_gone)):.0f}-{ms(max(to_gone)):.0f} ms over {plan.starts}; "
            + ("a running process: its run ends first" if env.has_operator else "no operator"),
        )
    )
    if to_pod:
        figures += [
            Figure(
                f"(a) POST -> run Pod created, {label}",
                ms(statistics.median(to_pod)),
                "ms",
                note=f"{ms(min(to_pod)):.0f}-{ms(max(to_pod)):.0f} ms over {plan.starts}",
            ),
            Figure(
                f"(a) POST -> running, frame > 0, {label}",
                ms(statistics.median(to_running)),
                "ms",
                note="pod runner: agent sidecar, its startup probe, then ffmpeg; "
                f"{ms(min(to_running)):.0f}-{ms(max(to_running)):.0f} ms",
            ),
        ]
    return figures


# --------------------------------------------------------------------------- (b), (c)


def create_processes(client: httpx.Client, count: int) -> float:
    started = time.perf_counter()
    for index in range(count):
        pid = f"bench-list-{index:04d}"
        client.post("/api/v3/process", json=_config(pid, autostart=False)).raise_for_status()
    return time.perf_counter() - started


def list_latency(env: KubeEnvironment, client: httpx.Client, plan: Plan) -> list[Figure]:
    count = plan.listed_processes
    figures = []
    variants = (("full", {}, 50.0), ("?filter=config", {"filter": "config"}, 50.0))
    for label, params, target in variants:
        listed = client.get("/api/v3/process", params=params).json()
        assert len(listed) >= count, f"{len(listed)} listed"
        samples = _raw_latencies(env.server.base_url, params, plan.list_requests)
        size = len(client.get("/api/v3/process", params=params).content)
        figures.append(
            Figure(
                f"(b) GET /process {label}, {count} stopped, p50",
                ms(statistics.median(samples)),
                "ms",
                target=target,
                note=f"p99 {ms(_quantile(samples, 0.99)):.1f} ms, p90 "
                f"{ms(_quantile(samples, 0.9)):.1f} ms over {len(samples)} requests of a raw "
                f"keep-alive client, gzip accepted, {size} bytes uncompressed",
            )
        )
        figures.append(
            Figure(
                f"(b) GET /process {label}, {count} stopped, p99",
                ms(_quantile(samples, 0.99)),
                "ms",
            )
        )
    return figures


def _rss_mib(pid: int) -> float:
    return float(psutil.Process(pid).memory_info().rss) / (1024 * 1024)


# --------------------------------------------------------------------------- main


def run(plan: Plan, progress: Callable[[str], None] = print) -> list[Figure]:
    with (
        tempfile.TemporaryDirectory(prefix="bench-kubernetes-") as directory,
        kube_environment(Path(directory)) as env,
        httpx.Client(base_url=env.server.base_url, timeout=60.0) as client,
    ):
        assert env.server.process is not None
        client.get("/api/v3/process").raise_for_status()
        operator = "with the operator" if env.has_operator else "WITHOUT the operator"
        progress(f"(a) start latency, empty namespace, {operator} ...")
        figures = start_latency(env, client, plan, "empty namespace")
        progress(f"creating {plan.listed_processes} stopped processes ...")
        took = create_processes(client, plan.listed_processes)
        figures.append(
            Figure(
                f"POST of {plan.listed_processes} stopped processes, each",
                ms(took / plan.listed_processes),
                "ms",
                note=f"{took:.1f} s in all, one client, one after the other",
            )
        )
        time.sleep(2.0)  # let the operator's first status writes settle
        progress("(b) list latency ...")
        figures += list_latency(env, client, plan)
        figures.append(
            Figure(
                f"(c) API server RSS, {plan.listed_processes} processes",
                _rss_mib(env.server.process.pid),
                "MiB",
            )
        )
        progress(f"(a) start latency beside {plan.listed_processes} processes ...")
        figures += start_latency(env, client, plan, f"{plan.listed_processes} beside")
    return figures


def main(quick: bool = False) -> int:
    plan = Plan.quick() if quick else Plan.full()
    stdout = sys.stdout
    figures = run(plan, progress=lambda text: print(text, file=sys.__stdout__, flush=True))
    sys.stdout = stdout  # kopf's runner swaps sys.stdout while it runs
    print()
    print(render(figures))
    path = save("kubernetes", figures, {"quick": quick, **asdict(plan)})
    print(f"\nsaved {path}")
    return 0
