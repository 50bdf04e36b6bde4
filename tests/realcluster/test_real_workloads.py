"""The chart's operator and API on a real control plane and node.

Run Pods admitted under PodSecurity ``restricted``; ownerReference garbage collection by the
real controller-manager; the chart's ServiceAccounts and RBAC (every call allowed, a call
outside them refused); peering (one active replica); an operator killed mid-reconcile; watches
that end with the apiserver and resume after etcd compaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from realkit import (
    API,
    NAMESPACE,
    OPERATOR,
    RELEASE,
    Kube,
    audit_events,
    calling_pod,
    cluster,
    etcd_compact,
    eventually,
)

from ffmpeg_operator.core.models import ProcessConfig, ProcessConfigIO
from ffmpeg_operator.kube.names import PROCESS_LABEL
from ffmpeg_operator.kube.spec import cr_from_config

pytestmark = [pytest.mark.realcluster, pytest.mark.timeout(300)]

Create = Callable[[str], str]
OPERATOR_SELECTOR = "app.kubernetes.io/component=operator"
OPERATOR_SA = f"system:serviceaccount:{NAMESPACE}:{OPERATOR}"
API_SA = f"system:serviceaccount:{NAMESPACE}:{API}"
#: The one Secret the API may read and update: the settings PUT /api/v3/config stores.
SETTINGS_SECRET = f"{RELEASE}-settings"


def _testsrc(process_id: str) -> dict[str, Any]:
    config = ProcessConfig(
        id=process_id,
        input=[ProcessConfigIO(id="in", address="testsrc2=size=64x48:rate=5",
                               options=["-re", "-f", "lavfi"])],
        output=[ProcessConfigIO(id="out", address="-", options=["-f", "null"])],
        reconnect=True,
        reconnect_delay_seconds=1,
    )  # fmt: skip
    return cr_from_config(config, NAMESPACE, "running")


@pytest.fixture
def create(kube: Kube, release: None) -> Iterator[Create]:
    names: list[str] = []

    def make(process_id: str) -> str:
        obj = _testsrc(process_id)
        kube.apply([obj])
        names.append(obj["metadata"]["name"])
        return str(obj["metadata"]["name"])

    yield make
    for name in names:
        kube.run("delete", "ffp", name, "-n", NAMESPACE, "--ignore-not-found", "--wait=false")


def _wait_running(kube: Kube, name: str, timeout: int = 180) -> None:
    kube.run("wait", "--for=condition=Running", f"ffp/{name}", "-n", NAMESPACE,
             f"--timeout={timeout}s", timeout=timeout + 20)  # fmt: skip


def _run_pods(kube: Kube, name: str | None = None) -> list[dict[str, Any]]:
    selector = f"{PROCESS_LABEL}={name}" if name else PROCESS_LABEL
    return [p for p in kube.items("pods", "-l", selector)
            if p["metadata"].get("deletionTimestamp") is None]  # fmt: skip


def _operator_pods(kube: Kube) -> list[str]:
    return [p["metadata"]["name"] for p in kube.items("pods", "-l", OPERATOR_SELECTOR)
            if p["status"].get("phase") == "Running"
            and p["metadata"].get("deletionTimestamp") is None]  # fmt: skip


def _wait_operators_ready(kube: Kube, replicas: int = 2) -> None:
    kube.run("rollout", "status", f"deploy/{OPERATOR}", "-n", NAMESPACE, "--timeout=120s",
             timeout=140)  # fmt: skip
    eventually(lambda: len(_operator_pods(kube)) == replicas, 60, f"{replicas} operator pods")


# ------------------------------------------------------------------ admission and the node


def test_run_pod_is_admitted_and_runs_where_restricted_is_enforced(
    kube: Kube, create: Create
) -> None:
    labels = kube.json("get", "namespace", NAMESPACE)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"

    name = create("rc-restricted")
    _wait_running(kube, name)

    (pod,) = _run_pods(kube, name)
    assert pod["status"]["phase"] == "Running"
    assert pod["spec"]["nodeName"] == cluster.NODE
    states = pod["status"]["containerStatuses"]
    assert all(s.get("state", {}).get("running") for s in states), states


def test_a_privileged_pod_is_refused_in_that_namespace(kube: Kube, release: None) -> None:
    # The other half of the proof: the namespace really enforces restricted.
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "rc-root", "namespace": NAMESPACE},
        "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10.1"}]},
    }
    result = kube.run("create", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(pod),
                      check=False)  # fmt: skip
    assert result.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in result.stderr


# ----------------------------------------------------------------------- garbage collection


def test_run_pods_are_garbage_collected_through_their_owner_reference(
    kube: Kube, create: Create
) -> None:
    name = create("rc-gc")
    _wait_running(kube, name)
    (pod,) = _run_pods(kube, name)
    (owner,) = pod["metadata"]["ownerReferences"]
    assert owner["kind"] == "FFmpegProcess" and owner["name"] == name
    assert owner["controller"] is True and owner["blockOwnerDeletion"] is True

    # Without any operator, and with its finalizer taken off, only the controller-manager's
    # garbage collector can remove the Pod once its owner is gone.
    kube.run("scale", f"deploy/{OPERATOR}", "-n", NAMESPACE, "--replicas=0")
    try:
        eventually(lambda: not kube.items("pods", "-l", OPERATOR_SELECTOR), 90, "no operator")
        kube.run("patch", "ffp", name, "-n", NAMESPACE, "--type=merge",
                 "-p", '{"metadata":{"finalizers":null}}')  # fmt: skip
        kube.run("delete", "ffp", name, "-n", NAMESPACE, "--wait=true", "--timeout=60s")
        eventually(lambda: kube.get("pod", pod["metadata"]["name"]) is None, 90,
                   "the garbage collector to delete the run Pod")  # fmt: skip
    finally:
        kube.run("scale", f"deploy/{OPERATOR}", "-n", NAMESPACE, "--replicas=2")
        _wait_operators_ready(kube)


# -------------------------------------------------------------------------------- peering


def _peers(kube: Kube) -> dict[str, int]:
    """Operator Pod name -> peering priority, from the KopfPeering's status."""
    (peering,) = kube.items("kopfpeerings")
    peers = {}
    for identity, peer in (peering.get("status") or {}).items():
        pod = identity.split("@", 1)[1].split("/", 1)[0]
        peers[pod] = int(peer["priority"])
    return peers


def test_two_replicas_one_active(kube: Kube, create: Create) -> None:
    _wait_operators_ready(kube)
    pods = set(_operator_pods(kube))
    eventually(lambda: pods <= set(_peers(kube)), 60, "both replicas in the peering")
    peers = {pod: prio for pod, prio in _peers(kube).items() if pod in pods}
    active = max(peers, key=lambda pod: peers[pod])
    started = time.time()

    names = [create(f"rc-peer-{n}") for n in range(3)]
    for name in names:
        _wait_running(kube, name)

    creators = {calling_pod(e) for e in audit_events(started)
                if e["verb"] == "create" and e.get("objectRef", {}).get("resource") == "pods"
                and e["user"]["username"] == OPERATOR_SA}  # fmt: skip
    assert creators == {active}, (creators, peers)


# --------------------------------------------------------------------- crash mid-reconcile


def test_operator_killed_mid_reconcile_leaves_no_duplicate_and_no_orphan(
    kube: Kube, create: Create
) -> None:
    _wait_operators_ready(kube)
    names = [create(f"rc-crash-{n}") for n in range(8)]
    # Kill every replica at once, without grace, as soon as the first run Pod exists.
    eventually(lambda: _run_pods(kube), 60, "the first run Pod", every=0.1)
    kube.run("delete", "pods", "-n", NAMESPACE, "-l", OPERATOR_SELECTOR,
             "--grace-period=0", "--force", "--wait=false")  # fmt: skip

    for name in names:
        _wait_running(kube, name, timeout=240)
    time.sleep(5)  # a duplicate would be created by now

    owners = {ffp["metadata"]["uid"]: ffp["metadata"]["name"] for ffp in kube.items("ffp")}
    for name in names:
        assert len(_run_pods(kube, name)) == 1, name
    for pod in _run_pods(kube):
        (owner,) = pod["metadata"]["ownerReferences"]
        assert owners.get(owner["uid"]) == owner["name"], f"orphan {pod['metadata']['name']}"


# ----------------------------------------------------------------------- watches and relist


def test_watches_resume_after_the_apiserver_restarts_over_a_compacted_etcd(
    kube: Kube, create: Create
) -> None:
    _wait_operators_ready(kube)
    before = create("rc-watch-before")
    _wait_running(kube, before)

    # Every watch ends with the apiserver; the resourceVersions the clients hold are compacted
    # away, so resuming from them is answered 410 Gone and only a relist recovers.
    etcd_compact()
    cluster.restart("kube-apiserver")

    after = create("rc-watch-after")
    _wait_running(kube, after, timeout=240)
    assert len(_run_pods(kube, after)) == 1
    assert len(_run_pods(kube, before)) == 1


# ---------------------------------------------------------------------------- RBAC (last)


@pytest.mark.parametrize(
    ("account", "call", "allowed"),
    [
        (OPERATOR_SA, "create pods", True),
        (OPERATOR_SA, "update ffmpegprocesses.ffmpeg-operator.io/finalizers", True),
        (OPERATOR_SA, "get secrets", False),
        (OPERATOR_SA, "create deployments.apps", False),
        (API_SA, "create ffmpegprocesses.ffmpeg-operator.io", True),
        (API_SA, "get pods/log", True),
        (API_SA, "create pods", False),
        (API_SA, "get secrets", False),
        (API_SA, f"get secrets/{SETTINGS_SECRET}", True),
        (API_SA, f"patch secrets/{SETTINGS_SECRET}", True),
        (API_SA, f"update secrets/{SETTINGS_SECRET}", True),
        (API_SA, "create secrets", True),  # the settings Secret, on the first save
        (API_SA, "list secrets", False),
        (API_SA, f"get secrets/{RELEASE}-auth", False),
    ],
)
def test_chart_service_accounts_may_do_exactly_their_job(
    kube: Kube, release: None, account: str, call: str, allowed: bool
) -> None:
    result = kube.run("auth", "can-i", *call.split(), "-n", NAMESPACE, f"--as={account}",
                      check=False)  # fmt: skip
    assert result.stdout.strip() == ("yes" if allowed else "no")


def test_a_call_outside_the_role_is_refused(kube: Kube, release: None) -> None:
    result = kube.run("get", "secrets", "-n", NAMESPACE, f"--as={OPERATOR_SA}", check=False)
    assert result.returncode != 0
    assert "Forbidden" in result.stderr


def test_no_call_of_the_operator_or_the_api_was_refused(kube: Kube, release: float) -> None:
    # Everything above ran the operator and the API with the chart's ServiceAccounts only: the
    # audit log holds each of their calls, and none may have met 403.
    events = [e for e in audit_events(release) if e["user"]["username"] in (OPERATOR_SA, API_SA)
              and e.get("objectRef", {}).get("namespace") in (NAMESPACE, None)]  # fmt: skip
    assert {e["user"]["username"] for e in events} == {OPERATOR_SA, API_SA}
    refused = [(e["verb"], e["requestURI"]) for e in events
               if e.get("responseStatus", {}).get("code") == 403]  # fmt: skip
    assert refused == []
