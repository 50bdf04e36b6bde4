"""The operator's connections to the real apiserver stay within its pools' bounds in a burst.

Before the pools were bounded, a burst of creations opened a TLS connection per request in
flight (~160 to this cluster's apiserver, for 1,000 objects), each with its read buffer. The
operator runs as a local process with the admin kubeconfig on one namespace of its own (as in
``test_real_watch_expiry.py``); 200 FFmpegProcesses are POSTed 16 at a time; every 50 ms the
operator's established TCP connections to the apiserver's port are counted, from before the
burst until every object's status is written. The objects' ``nodeSelector`` matches no node:
the run Pods are created and stay Pending (no ffmpeg runs).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pytest
from realkit import Kube, cluster, eventually, local_operator, unschedulable_process

from ffmpeg_operator.kube.names import GROUP, PROCESS_LABEL
from ffmpeg_operator.kube.spec import PLURAL, VERSION
from ffmpeg_operator.operator.context import kopf_pool_limit
from ffmpeg_operator.operator.kubeclient import CONNECTIONS

pytestmark = [pytest.mark.realcluster, pytest.mark.timeout(600)]

NAMESPACE = "ffmpeg-rc-pool"
PROCESSES = f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{PLURAL}"
BURST = 200
IN_FLIGHT = 16
#: kopf's session (one namespace watched) and the operator's own client, side by side.
BOUND = kopf_pool_limit(1) + CONNECTIONS


@pytest.fixture
def operator(kube: Kube, crd: None, tmp_path: Path) -> Iterator[psutil.Process]:
    """``ffmpeg-operator operator`` on the namespace as a local process; all gone after."""
    with local_operator(kube, NAMESPACE, tmp_path / "operator.log", delete_timeout=240) as child:
        yield psutil.Process(child.pid)


class ConnectionSampler:
    """Counts a process's established TCP connections to the apiserver's port every 50 ms.

    A connection counts when it is established in two samples in a row: the pool replaces a
    connection it closed at once, and for the moment the old socket takes to close the kernel
    still shows both. An unbounded pool keeps its extra connections open for the whole burst."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.counts: list[int] = []
        self.seconds = 0.0
        self._last: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def established(self) -> set[int]:
        """The local ports of the established connections to the apiserver."""
        connections = self.process.net_connections(kind="tcp")
        return {c.laddr.port for c in connections
                if c.status == psutil.CONN_ESTABLISHED and c.raddr
                and c.raddr.port == cluster.APISERVER_PORT}  # fmt: skip

    def _run(self) -> None:
        started = next_at = time.monotonic()
        while not self._stop.wait(max(0.0, next_at - time.monotonic())):
            next_at += 0.05  # a sample takes 10-40 ms itself: every 50 ms from its start
            now = self.established()
            self.counts.append(len(now & self._last))
            self._last = now
        self.seconds = time.monotonic() - started

    def __enter__(self) -> ConnectionSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _run_pod_owners(kube: Kube) -> list[str]:
    pods = kube.items("pods", "-l", PROCESS_LABEL, namespace=NAMESPACE)
    return [p["metadata"]["ownerReferences"][0]["name"] for p in pods]


def _statuses_written(kube: Kube) -> int:
    objects = kube.items("ffp", namespace=NAMESPACE)
    return sum(1 for obj in objects if (obj.get("status") or {}).get("state"))


def _post(obj: dict[str, Any]) -> None:
    status, body = cluster.api(cluster.layout(), "POST", PROCESSES, obj)
    assert status == 201, (status, body)


def test_a_burst_of_creations_keeps_the_operators_connections_within_its_pools(
    kube: Kube, operator: psutil.Process
) -> None:
    # The operator watches: its first object's run Pod is there.
    first = unschedulable_process("rc-pool-first", NAMESPACE)
    kube.apply([first])
    eventually(lambda: _run_pod_owners(kube), 90, "the first run Pod")
    objects = [unschedulable_process(f"rc-pool-{n:03d}", NAMESPACE) for n in range(BURST)]

    with ConnectionSampler(operator) as sampler:
        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            list(pool.map(_post, objects))
        eventually(lambda: len(_run_pod_owners(kube)) >= BURST + 1, 300,
                   f"{BURST + 1} run Pods")  # fmt: skip
        eventually(lambda: _statuses_written(kube) >= BURST + 1, 300, "every status")

    owners = _run_pod_owners(kube)
    names = [obj["metadata"]["name"] for obj in [first, *objects]]
    assert sorted(owners) == sorted(names)  # one run Pod each, none missing
    assert len(sampler.counts) > 20, sampler.counts  # it sampled the burst, not an instant
    assert max(sampler.counts) > 0, "no connection to the apiserver was ever seen"
    print(f"connections to the apiserver: at most {max(sampler.counts)} of {BOUND} allowed, "
          f"{len(sampler.counts)} samples in {sampler.seconds:.1f} s")  # fmt: skip
    assert max(sampler.counts) <= BOUND, (max(sampler.counts), BOUND)
