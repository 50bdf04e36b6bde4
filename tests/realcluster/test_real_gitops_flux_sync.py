"""``deploy/flux/sync.yaml`` as shipped, on real Flux: the operator from the production overlay,
then (``dependsOn``) the example processes, each Kustomization with the settings the file gives
(``wait: true`` on the operator, so Flux's health checks must pass on the real cluster).

One change: the operator's path is ``tests/e2e/gitops``, the production overlay as the e2e suite
applies it (the locally built image, a throw-away auth Secret, a ReadWriteOnce claim), because
the overlay's pinned image is not in this cluster's containerd and the Secret is the user's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import fluxkit
import pytest
import yaml
from realkit import ROOT, Kube, cluster, eventually

from ffmpeg_operator.kube.names import PROCESS_LABEL

pytestmark = [pytest.mark.realcluster, pytest.mark.timeout(900)]

SYNC = ROOT / "deploy" / "flux" / "sync.yaml"
FLUX_NAMESPACE = "flux-system"
MEDIA = "media"  # the production overlay's namespace
OPERATOR_PATH = "./tests/e2e/gitops"
OPERATOR, PROCESSES = "ffmpeg-operator", "ffmpeg-processes"  # sync.yaml's Kustomizations
#: The cluster-wide objects the operator's Kustomization applies (from crds/). Every namespace's
#: FFmpegProcesses depend on them: Flux must never prune them here (see _protect, _remove).
CLUSTER_WIDE = ("crd/ffmpegprocesses.ffmpeg-operator.io", "crd/kopfpeerings.kopf.dev",
                "crd/clusterkopfpeerings.kopf.dev")  # fmt: skip
PRUNE_DISABLED = "kustomize.toolkit.fluxcd.io/prune=disabled"


def _sync_objects(url: str) -> list[dict[str, Any]]:
    objects = [o for o in yaml.safe_load_all(SYNC.read_text()) if o]
    names = [o["metadata"]["name"] for o in objects if o["kind"] == "Kustomization"]
    assert names == [OPERATOR, PROCESSES], names
    for obj in objects:
        if obj["kind"] == "GitRepository":
            obj["spec"]["url"] = url
        elif obj["spec"]["path"] == "./deploy/overlays/production":
            obj["spec"]["path"] = OPERATOR_PATH
    return objects


def _protect(kube: Kube) -> None:
    """Flux's own opt-out from pruning, on the CRDs as they are in the cluster (the tier's
    ``crd`` fixture applied them): deleting the operator's Kustomization then leaves them."""
    for name in CLUSTER_WIDE:
        kube.run("annotate", "--overwrite", name, PRUNE_DISABLED)


@pytest.fixture(scope="module")
def shipped(kube: Kube, crd: None) -> Iterator[fluxkit.Flux]:
    kube.run("apply", "--server-side", "--force-conflicts", "-k", str(ROOT / "crds"))
    _protect(kube)
    cluster.refill_volumes(cluster.layout())  # a fresh volume for the overlay's {diskfs} claim
    tree = ("deploy", "crds", "tests/e2e/gitops")
    with fluxkit.running(kube, FLUX_NAMESPACE, tree) as pipeline:
        objects = _sync_objects(pipeline.repo.url)
        try:
            kube.apply([{"apiVersion": "v1", "kind": "Namespace",
                         "metadata": {"name": FLUX_NAMESPACE}}, *objects])  # fmt: skip
            yield pipeline
        finally:
            _remove(kube, objects)


def _remove(kube: Kube, objects: list[dict[str, Any]]) -> None:
    """While the controllers run. The processes' Kustomization first (prune: the processes go
    while their operator still runs to remove its finalizers). The operator's inventory holds
    the cluster-wide CRDs: beside their annotation, its prune is switched off (and checked)
    before it is deleted, and its namespace is deleted here instead."""
    kube.run("delete", "kustomization", PROCESSES, "-n", FLUX_NAMESPACE, "--ignore-not-found",
             "--wait=true", "--timeout=120s", check=False, timeout=140)  # fmt: skip
    if kube.get("kustomization", OPERATOR, FLUX_NAMESPACE) is not None:
        kube.run("patch", "kustomization", OPERATOR, "-n", FLUX_NAMESPACE, "--type=merge",
                 "-p", '{"spec":{"prune":false,"suspend":true}}')  # fmt: skip
        kept = kube.get("kustomization", OPERATOR, FLUX_NAMESPACE) or {}
        assert kept.get("spec", {}).get("prune") is False, "refusing to delete a pruning owner"
        kube.run("delete", "kustomization", OPERATOR, "-n", FLUX_NAMESPACE,
                 "--wait=true", "--timeout=120s", check=False, timeout=140)  # fmt: skip
    kube.run("delete", "ffp", "--all", "-n", MEDIA, "--wait=true", "--timeout=90s",
             check=False, timeout=120)  # fmt: skip
    kube.run("delete", "namespace", MEDIA, "--wait=true", "--timeout=180s", check=False,
             timeout=200)  # fmt: skip
    kube.run("delete", "gitrepository", "--all", "-n", FLUX_NAMESPACE, "--wait=true",
             "--timeout=60s", check=False, timeout=80)  # fmt: skip
    kube.run("delete", "namespace", FLUX_NAMESPACE, "--wait=true", "--timeout=120s",
             check=False, timeout=140)  # fmt: skip
    for name in CLUSTER_WIDE:  # still there, no longer marked as Flux's
        assert kube.run("get", name, check=False).returncode == 0, f"{name} was pruned"
        kube.run("annotate", name, "kustomize.toolkit.fluxcd.io/prune-", check=False)


def test_shipped_flux_sync_installs_the_operator_then_runs_the_processes(
    shipped: fluxkit.Flux,
) -> None:
    head = shipped.repo.head()
    # `wait: true`: Ready only once every object the overlay applied is healthy (kstatus).
    shipped.synced(OPERATOR, head, timeout=360)
    shipped.synced(PROCESSES, head, timeout=180)

    operators = shipped.kube.items("pods", "-l", "app.kubernetes.io/component=operator",
                                   namespace=MEDIA)  # fmt: skip
    assert len(operators) == 3  # the overlay's replicas
    shipped.kube.run("wait", "--for=condition=Running", "ffp/testcard", "-n", MEDIA,
                     "--timeout=180s", timeout=200)  # fmt: skip
    eventually(
        lambda: [p for p in shipped.kube.items("pods", "-l", f"{PROCESS_LABEL}=testcard",
                                               namespace=MEDIA)
                 if p["status"].get("phase") == "Running"],
        60, "testcard's run Pod Running in media",
    )  # fmt: skip
