"""The operator asks the API server for run Pods only: its Pod list and watch carry a label
selector (server-side), so unrelated Pods of the cluster never reach its memory."""

from __future__ import annotations

from typing import Any

import pytest
from emulator import PODS
from harness import NAMESPACE, OperatorHarness

from ffmpeg_operator.kube.names import PROCESS_LABEL

pytestmark = pytest.mark.timeout(60)


def _pod_reads(cluster: OperatorHarness) -> list[Any]:
    handler = cluster.emulator.handler

    def collect() -> list[Any]:
        return [
            request for request in handler._requests
            if request.resource == PODS and request.method == "GET" and request.name is None
            # The operator's own client and kopf's (not the pod runner playing kubelet).
            and request.namespace == NAMESPACE
        ]  # fmt: skip

    return cluster.emulator.call(collect)  # type: ignore[no-any-return]


def test_the_operator_lists_and_watches_only_run_pods_by_a_server_side_selector(
    cluster: OperatorHarness,
) -> None:
    cluster.emulator.handler.request_log_limit = 100_000
    for number in range(20):
        cluster.emulator.create(
            PODS,
            {
                "metadata": {"name": f"unrelated-{number}", "labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]},
            },
            NAMESPACE,
        )
    cluster.start_operator()
    cluster.create("cam1")
    cluster.wait(lambda: cluster.run_pods("cam1"), 20, "no run Pod")

    reads = _pod_reads(cluster)
    assert any(request.params.get("watch") in ("true", "1") for request in reads), reads
    for request in reads:
        assert PROCESS_LABEL in request.params.get("labelSelector", ""), request.params
