"""(a)/(b) of the ``operator`` suite on the real kube-apiserver of the local cluster.

1,000 FFmpegProcesses -> 1,000 run Pods created, three paths side by side in one run, each in a
namespace of its own (``scale-bare``, ``scale-floor``, ``scale-operator``):

- bare: a client POSTing the 1,000 run Pods, 16 requests in flight. The Pods are the operator's
  own (``build_run_pod``) of the same 1,000 objects, created beforehand with no operator
  watching (untimed), so their ownerReferences point at live owners and the real garbage
  collector leaves them alone;
- floor: the least kopf operator (``bench/kopf_floor.py``: a daemon POSTing that same run Pod);
- operator: ``python -m ffmpeg_operator operator --namespace scale-operator``.

Both operators run as local processes of this machine with the cluster's admin kubeconfig,
exactly as ``bench operator`` runs them against the emulator: the same process, client library
and settings, only the API server differs; the chart's in-cluster operator would add the Pod
network and its CPU limit to one side only. Every object carries a ``nodeSelector`` that no node
has: the apiserver admits the run Pods and kube-scheduler marks them unschedulable, so no
ffmpeg starts (the node takes about 250 Pods). The figure is the time from the first POST until
a watch on run Pods (the run-Pod label, server-side) has seen the 1,000th ADDED event.

Beside it: the kube-apiserver's and etcd's CPU time over the same window (read from /proc by
psutil; the control plane runs as local processes), and the operator's RSS idle and once all
1,000 statuses are written. The FFmpegProcesses are deleted while the operator that put its
finalizer on them still runs, then the namespaces; nothing is left.

Needs the cluster up (``make cluster-up``), as root.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from bench.operator import IN_FLIGHT, _post_all, _spec, chart_memory_limit_mib
from bench.realcluster import kubectl
from bench.report import Figure, render, save
from bench.server import stop
from ffmpeg_operator.core.models import ProcessConfig
from ffmpeg_operator.kube.names import GROUP, PROCESS_LABEL
from ffmpeg_operator.kube.pod import build_run_pod
from ffmpeg_operator.kube.settings import ENV_PREFIX, settings_from_env
from ffmpeg_operator.kube.spec import API_VERSION, KIND, PLURAL, VERSION

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "tests" / "cluster") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests" / "cluster"))

import cluster  # noqa: E402

PREFIX = "scale-"
#: A node label no node has: the run Pods are admitted and stay Pending (unschedulable).
NOWHERE = {f"{GROUP}/bench": "no-such-node"}
KOPF_FLOOR = Path(__file__).resolve().parent / "kopf_floor.py"


@dataclass(frozen=True)
class Plan:
    objects: int

    @classmethod
    def full(cls) -> Plan:
        return cls(objects=1000)

    @classmethod
    def quick(cls) -> Plan:
        return cls(objects=200)


def _process(name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {**_spec(name), "nodeSelector": NOWHERE},
    }


def _no_refs(_pid: str) -> ProcessConfig | None:
    return None


def _processes_path(namespace: str) -> str:
    return f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"


def _pods_path(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/pods"


def _child_env(lay: cluster.Layout) -> dict[str, str]:
    """This environment without operator settings (all three paths use the defaults)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    return {**env, "KUBECONFIG": str(lay.kubeconfig), ENV_PREFIX + "POD_NAME": "scale-bench"}


def _wait(probe: Callable[[], bool], timeout: float, what: str, step: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)


def _items(lay: cluster.Layout, path: str, limit: int = 0) -> list[dict[str, Any]]:
    query = f"?limit={limit}" if limit else ""
    status, body = cluster.api(lay, "GET", path + query)
    if status != 200 or not isinstance(body, dict):
        raise RuntimeError(f"GET {path}: {status} {body}")
    return list(body["items"])


class PodWatch:
    """A watch on the run Pods of a namespace: when the ``expected``-th one was ADDED."""

    def __init__(self, lay: cluster.Layout, namespace: str, expected: int) -> None:
        self.lay, self.expected = lay, expected
        selector = urllib.parse.quote(PROCESS_LABEL)
        self.url = f"{lay.server}{_pods_path(namespace)}?labelSelector={selector}"
        self.names: set[str] = set()
        self.done = threading.Event()
        self.at = 0.0
        self.error: BaseException | None = None

    def __enter__(self) -> PodWatch:
        # The watch starts from a list's resourceVersion: every Pod created after it is seen.
        request = urllib.request.Request(self.url + "&limit=1")
        context = cluster._ssl_context(self.lay)
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            version = json.loads(response.read())["metadata"]["resourceVersion"]
        url = f"{self.url}&watch=1&resourceVersion={version}&timeoutSeconds=1800"
        stream = urllib.request.urlopen(url, context=context, timeout=120)
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.done.set()

    def _read(self, stream: Any) -> None:
        try:
            with stream:
                for line in stream:
                    event = json.loads(line)
                    if event["type"] == "ADDED":
                        self.names.add(event["object"]["metadata"]["name"])
                    if len(self.names) >= self.expected:
                        self.at = time.perf_counter()
                        break
                    if self.done.is_set():
                        return
        except BaseException as error:  # reported by wait()
            self.error = error
        self.done.set()

    def wait(self, timeout: float) -> float:
        """The perf_counter time of the ``expected``-th Pod."""
        self.done.wait(timeout)
        if not self.at:
            raise RuntimeError(f"{len(self.names)} of {self.expected} run Pods seen: {self.error}")
        return self.at


class ControlPlaneCPU:
    """CPU seconds of kube-apiserver and etcd (local processes of the cluster) over a window."""

    def __init__(self, lay: cluster.Layout) -> None:
        pids = cluster.running(lay)
        self.processes = {
            name: psutil.Process(pid)
            for name in ("kube-apiserver", "etcd")
            if (pid := pids.get(name)) is not None
        }
        self.start = self._now()

    def _now(self) -> dict[str, float]:
        return {name: sum(process.cpu_times()[:2]) for name, process in self.processes.items()}

    def used(self) -> dict[str, float]:
        now = self._now()
        return {name: now[name] - self.start[name] for name in now}


@contextlib.contextmanager
def namespace(lay: cluster.Layout, name: str) -> Iterator[str]:
    """A fresh namespace (with its default ServiceAccount, which Pod admission needs)."""
    _remove_namespace(lay, name)
    status, body = cluster.api(lay, "POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    if status >= 300:
        raise RuntimeError(f"namespace {name}: {status} {body}")
    _wait(
        lambda: (
            cluster.api(lay, "GET", f"/api/v1/namespaces/{name}/serviceaccounts/default")[0] == 200
        ),
        60,
        f"the default ServiceAccount of {name}",
    )
    try:
        yield name
    finally:
        _remove_namespace(lay, name)


def _remove_namespace(lay: cluster.Layout, name: str) -> None:
    """Delete the namespace; an object a crashed run left with a finalizer is let go first."""
    if cluster.api(lay, "GET", f"/api/v1/namespaces/{name}")[0] == 404:
        return
    for obj in _items(lay, _processes_path(name)):
        if obj["metadata"].get("finalizers"):
            kubectl(lay, "patch", "ffp", obj["metadata"]["name"], "-n", name, "--type=merge",
                    "-p", '{"metadata":{"finalizers":null}}', timeout=60)  # fmt: skip
    cluster.api(lay, "DELETE", f"/api/v1/namespaces/{name}")
    _wait(
        lambda: cluster.api(lay, "GET", f"/api/v1/namespaces/{name}")[0] == 404,
        600,
        f"namespace {name} to go",
        step=1.0,
    )


def _delete_processes(lay: cluster.Layout, name: str) -> float:
    """Delete every FFmpegProcess; seconds until the last is gone (its finalizer done)."""
    started = time.perf_counter()
    # kubectl: the apiserver answers a collection DELETE only once it marked every object.
    kubectl(lay, "delete", "ffp", "--all", "-n", name, "--wait=false", timeout=600)
    _wait(lambda: not _items(lay, _processes_path(name), limit=1), 600, "the objects to go")
    return time.perf_counter() - started


@contextlib.contextmanager
def local_operator(
    lay: cluster.Layout, command: Sequence[str], log: Path
) -> Iterator[psutil.Process]:
    with log.open("wb") as output:
        child = subprocess.Popen(
            command, env=_child_env(lay), stdout=output, stderr=subprocess.STDOUT
        )
    try:
        time.sleep(5.0)  # kopf lists, then watches: nothing to wait on from outside
        if child.poll() is not None:
            raise RuntimeError(f"{command[2]} exited: {log.read_text()[-2000:]}")
        yield psutil.Process(child.pid)
    finally:
        stop(child)


def _post(lay: cluster.Layout, path: str, bodies: Sequence[dict[str, Any]]) -> float:
    return asyncio.run(_post_all(lay.server, path, bodies, cluster._ssl_context(lay)))


@dataclass
class Run:
    seconds: float  # first POST -> the last run Pod seen
    posted: float  # the POSTs alone
    control_plane: dict[str, float]
    extra: dict[str, float]


def bare(lay: cluster.Layout, count: int) -> Run:
    with namespace(lay, PREFIX + "bare") as ns:
        # The objects first (no operator watches this namespace), so the Pods' owners exist.
        _post(lay, _processes_path(ns), [_process(f"p{i:04d}", ns) for i in range(count)])
        settings = settings_from_env(_child_env(lay))
        pods = [build_run_pod(obj, 1, settings, _no_refs).manifest
                for obj in _items(lay, _processes_path(ns))]  # fmt: skip
        with PodWatch(lay, ns, count) as watch:
            cpu = ControlPlaneCPU(lay)
            started = time.perf_counter()
            posted = _post(lay, _pods_path(ns), pods)
            done = watch.wait(600)
            used = cpu.used()
        return Run(done - started, posted, used, {})


def through_operator(
    lay: cluster.Layout, count: int, ns_name: str, command: Sequence[str], log: Path
) -> Run:
    with (
        namespace(lay, ns_name) as ns,
        local_operator(lay, [*command, ns], log) as operator,
    ):
        idle_rss = operator.memory_info().rss / 2**20
        idle_cpu = sum(operator.cpu_times()[:2])
        bodies = [_process(f"p{i:04d}", ns) for i in range(count)]
        with PodWatch(lay, ns, count) as watch:
            cpu = ControlPlaneCPU(lay)
            started = time.perf_counter()
            posted = _post(lay, _processes_path(ns), bodies)
            done = watch.wait(900)
            used = cpu.used()
        extra = {
            "idle_rss_mib": idle_rss,
            "operator_cpu_s": sum(operator.cpu_times()[:2]) - idle_cpu,
        }
        if command[2] == "ffmpeg_operator":
            _wait(lambda: _statuses(lay, ns) >= count, 300, "the statuses", step=1.0)
            extra["statuses_s"] = time.perf_counter() - started
            time.sleep(3.0)
            extra["loaded_rss_mib"] = operator.memory_info().rss / 2**20
        extra["delete_s"] = _delete_processes(lay, ns)
        return Run(done - started, posted, used, extra)


def _statuses(lay: cluster.Layout, ns: str) -> int:
    objects = _items(lay, _processes_path(ns))
    return sum(1 for obj in objects if (obj.get("status") or {}).get("state"))


def _cpu_note(run: Run) -> str:
    return ", ".join(f"{name} {seconds:.1f} s" for name, seconds in run.control_plane.items())


def run(plan: Plan, progress: Callable[[str], None] = print) -> list[Figure]:
    lay = cluster.layout()
    if not cluster.apiserver_ready(lay):
        raise SystemExit("the local cluster is not up: make cluster-up")
    kubectl(lay, "apply", "--server-side", "--force-conflicts",
            "-f", str(ROOT / "crds" / "ffmpegprocesses.yaml"), timeout=60)  # fmt: skip
    count = plan.objects
    with tempfile.TemporaryDirectory(prefix="bench-realoperator-") as temporary:
        logs = Path(temporary)
        progress(f"bare client: {count} run Pods ...")
        plain = bare(lay, count)
        progress(f"least kopf operator: {count} objects -> Pods ...")
        floor = through_operator(
            lay, count, PREFIX + "floor",
            [sys.executable, "-m", "kopf", "run", "--standalone", str(KOPF_FLOOR), "-n"],
            logs / "floor.log",
        )  # fmt: skip
        progress(f"ffmpeg-operator: {count} objects -> Pods ...")
        ours = through_operator(
            lay, count, PREFIX + "operator",
            [sys.executable, "-m", "ffmpeg_operator", "operator", "--namespace"],
            logs / "operator.log",
        )  # fmt: skip
    extra = ours.extra
    return [
        Figure(
            f"(a) real apiserver: {count} objects -> {count} run Pods, operator",
            ours.seconds,
            "s",
            reference=f"bare client {plain.seconds:.2f} s, kopf floor {floor.seconds:.2f} s",
            note=f"the objects' POSTs alone {ours.posted:.2f} s; all statuses after "
            f"{extra['statuses_s']:.1f} s; operator CPU {extra['operator_cpu_s']:.1f} s; "
            f"deleting them (finalizers) {extra['delete_s']:.1f} s",
        ),
        Figure(
            "(a) real apiserver: operator path / bare Pod creation",
            ours.seconds / plain.seconds,
            "x",
            target=1.5,
            reference=f"{IN_FLIGHT} requests in flight on every path",
            note=f"least kopf operator {floor.seconds / plain.seconds:.1f}x",
        ),
        Figure(
            "(a) control-plane CPU, bare client",
            sum(plain.control_plane.values()),
            "s",
            note=_cpu_note(plain) + f"; its POSTs {plain.posted:.2f} s",
        ),
        Figure(
            "(a) control-plane CPU, kopf floor",
            sum(floor.control_plane.values()),
            "s",
            note=_cpu_note(floor) + f"; kopf floor CPU {floor.extra['operator_cpu_s']:.1f} s",
        ),
        Figure(
            "(a) control-plane CPU, operator",
            sum(ours.control_plane.values()),
            "s",
            note=_cpu_note(ours),
        ),
        Figure("(b) operator RSS idle, real apiserver", extra["idle_rss_mib"], "MiB"),
        Figure(
            f"(b) operator RSS, {count} processes, real apiserver",
            extra["loaded_rss_mib"],
            "MiB",
            target=chart_memory_limit_mib(),
            reference="the chart's memory limit",
            note=f"{(extra['loaded_rss_mib'] - extra['idle_rss_mib']) * 1024 / count:.1f} KiB "
            "per process",
        ),
    ]


def main(quick: bool = False) -> int:
    plan = Plan.quick() if quick else Plan.full()
    figures = run(plan, progress=lambda text: print(text, file=sys.__stdout__, flush=True))
    print()
    print(render(figures))
    path = save("realoperator", figures, {"quick": quick, "in_flight": IN_FLIGHT, **asdict(plan)})
    print(f"\nsaved {path}")
    return 0
