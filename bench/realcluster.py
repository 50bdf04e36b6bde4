"""The ``kubernetes`` suite's figures on the real local cluster (tests/cluster), not the emulator.

Same harness as ``bench/kubernetes.py`` — ``serve --backend kubernetes`` as a subprocess of this
machine, driven over real HTTP — but the API talks to the real kube-apiserver (admin
kubeconfig), and the operator is the chart's, installed in namespace ``default`` with the
locally built image: run Pods are scheduled by kube-scheduler and started by kubelet and
containerd on the real node, and the API reads their agents over the Pod network.

Needs the cluster up with the images imported (``make cluster-up cluster-images``), as root.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.kubernetes import Plan, _rss_mib, create_processes, list_latency, start_latency
from bench.report import Figure, render, save
from ffmpeg_operator.kube.names import GROUP
from ffmpeg_operator.kube.spec import PLURAL, VERSION

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT / "tests", ROOT / "tests" / "cluster"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import cluster  # noqa: E402
from kubeenv import NAMESPACE  # noqa: E402
from livesrv import LiveServer  # noqa: E402

RELEASE = "ffmpeg-operator"


class _RealPods:
    """``emulator.get("v1/pods", namespace, name)`` of the bench, answered by the apiserver."""

    def __init__(self, lay: cluster.Layout) -> None:
        self.lay = lay

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        assert resource == "v1/pods"
        status, body = cluster.api(self.lay, "GET", f"/api/v1/namespaces/{namespace}/pods/{name}")
        return body if status == 200 and isinstance(body, dict) else None


@dataclass
class _RealEnvironment:
    emulator: _RealPods
    server: LiveServer
    has_operator: bool = True


def _helm(lay: cluster.Layout, *args: str) -> None:
    done = subprocess.run(
        [str(cluster.binary("helm")), "--kubeconfig", str(lay.kubeconfig),
         "--kube-context", cluster.CONTEXT, *args],
        check=False, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"helm {args[0]} failed: {done.stderr.strip()}")


def kubectl(lay: cluster.Layout, *args: str, timeout: float = 300) -> None:
    kubectl = ROOT / ".venv" / "bin" / "kubectl"
    subprocess.run(
        [str(kubectl), "--kubeconfig", str(lay.kubeconfig), "--context", cluster.CONTEXT, *args],
        check=False, capture_output=True, timeout=timeout,
    )  # fmt: skip


def _statuses_written(lay: cluster.Layout, count: int, timeout: float) -> float:
    """Seconds until ``count`` FFmpegProcesses of the namespace have a status (or timeout)."""
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{PLURAL}"
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        status, body = cluster.api(lay, "GET", path)
        items = body.get("items", []) if status == 200 and isinstance(body, dict) else []
        if sum(1 for obj in items if (obj.get("status") or {}).get("state")) >= count:
            break
        time.sleep(2.0)
    return time.monotonic() - started


def run(plan: Plan, progress: Callable[[str], None] = print) -> list[Figure]:
    lay = cluster.layout()
    if not cluster.apiserver_ready(lay):
        raise SystemExit("the local cluster is not up: make cluster-up cluster-images")
    kubectl(lay, "apply", "--server-side", "--force-conflicts",
             "-f", str(ROOT / "crds" / "ffmpegprocesses.yaml"))  # fmt: skip
    cluster.refill_volumes(lay)
    progress("installing the chart in namespace default ...")
    _helm(lay, "upgrade", "--install", RELEASE, str(ROOT / "helm" / "ffmpeg-operator"),
          "--namespace", NAMESPACE, "--set", "image.repository=ffmpeg-operator",
          "--set", "image.tag=e2e", "--set", "diskfs.accessModes={ReadWriteOnce}",
          "--set", "auth.enabled=false", "--wait", "--timeout", "5m")  # fmt: skip
    try:
        with tempfile.TemporaryDirectory(prefix="bench-realcluster-") as directory:
            server = LiveServer(
                data_dir=Path(directory) / "api",
                env={"KUBECONFIG": str(lay.kubeconfig)},
                args=("--backend", "kubernetes", "--namespace", NAMESPACE,
                      "--context", cluster.CONTEXT),
            )  # fmt: skip
            server.start(timeout=60)
            try:
                env = _RealEnvironment(_RealPods(lay), server)
                with httpx.Client(base_url=server.base_url, timeout=60.0) as client:
                    client.get("/api/v3/process").raise_for_status()
                    progress("(a) start latency, empty namespace ...")
                    figures = start_latency(env, client, plan, "empty namespace")
                    progress(f"creating {plan.listed_processes} stopped processes ...")
                    took = create_processes(client, plan.listed_processes)
                    figures.append(Figure(
                        f"POST of {plan.listed_processes} stopped processes, each",
                        took / plan.listed_processes * 1000, "ms",
                        note=f"{took:.1f} s in all, one client, one after the other",
                    ))  # fmt: skip
                    # The list is measured once the operator has written every status: while
                    # it writes, each watch event replaces a process's view (and its JSON).
                    settled = _statuses_written(lay, plan.listed_processes, timeout=180)
                    progress(f"statuses written after {settled:.0f} s")
                    time.sleep(2.0)
                    progress("(b) list latency ...")
                    figures += list_latency(env, client, plan)
                    assert server.process is not None
                    figures.append(Figure(
                        f"(c) API server RSS, {plan.listed_processes} processes",
                        _rss_mib(server.process.pid), "MiB",
                    ))  # fmt: skip
                    progress(f"(a) start latency beside {plan.listed_processes} processes ...")
                    label = f"{plan.listed_processes} beside"
                    figures += start_latency(env, client, plan, label)
            finally:
                server.stop()
    finally:
        progress("deleting the processes and the release ...")
        kubectl(lay, "delete", "ffp", "--all", "-n", NAMESPACE, "--timeout=300s", timeout=320)
        _helm(lay, "uninstall", RELEASE, "--namespace", NAMESPACE, "--wait")
    return figures


def main(quick: bool = False) -> int:
    plan = Plan.quick() if quick else Plan.full()
    figures = run(plan, progress=lambda text: print(text, file=sys.__stdout__, flush=True))
    print()
    print(render(figures))
    path = save("realcluster", figures, {"quick": quick, **asdict(plan)})
    print(f"\nsaved {path}")
    return 0
