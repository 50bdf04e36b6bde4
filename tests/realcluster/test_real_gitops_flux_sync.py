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
#: FFmpegProcesses depend on them, also other tests' on this shared cluster: the build marks them
#: to be kept, and the tests check the mark on the live objects before anything could prune them.
CLUSTER_WIDE = ("crd/ffmpegprocesses.ffmpeg-operator.io", "crd/kopfpeerings.kopf.dev",
                "crd/clusterkopfpeerings.kopf.dev")  # fmt: skip
PRUNE = "kustomize.toolkit.fluxcd.io/prune"


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


def _kept_by_flux(kube: Kube, name: str) -> bool:
    """Whether the live object ``name`` (kind/name) carries Flux's opt-out from pruning."""
    found = kube.run("get", name, "-n", MEDIA, "-o",
                     "jsonpath={.metadata.annotations.kustomize\\.toolkit\\.fluxcd\\.io/prune}",
                     check=False)  # fmt: skip
    return found.returncode == 0 and found.stdout == "disabled"


def _restore_crds(kube: Kube) -> list[str]:
    """Re-apply any CRD that is gone (the other namespaces' objects need it); returns those."""
    missing = [n for n in CLUSTER_WIDE if kube.run("get", n, check=False).returncode != 0]
    if missing:
        kube.run("apply", "--server-side", "--force-conflicts", "-k", str(ROOT / "crds"))
    return missing


@pytest.fixture(scope="module")
def shipped(kube: Kube, crd: None) -> Iterator[fluxkit.Flux]:
    # What the build marks, Flux must write: no mark left over from an earlier run.
    for name in CLUSTER_WIDE:
        kube.run("annotate", name, f"{PRUNE}-", check=False)
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
    """While the controllers run. Processes whose operator is gone (the deletion test) lose
    their finalizer first, else nothing could delete them. Then the processes' Kustomization
    (prune: the processes go while their operator, if any, still runs to remove its
    finalizers). The operator's Kustomization, if still there, with prune switched off (and
    checked) besides the CRDs' mark; its namespace is kept by its mark and deleted here."""
    if not kube.items("deployment", "-l", "app.kubernetes.io/component=operator",
                      namespace=MEDIA):  # fmt: skip
        for process in kube.items("ffp", namespace=MEDIA):
            kube.run("patch", "ffp", process["metadata"]["name"], "-n", MEDIA, "--type=merge",
                     "-p", '{"metadata":{"finalizers":null}}', check=False)  # fmt: skip
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
    assert _restore_crds(kube) == [], "pruned, and re-applied from crds/"


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


def test_deleting_the_pruning_operator_kustomization_keeps_the_crds_and_the_processes(
    shipped: fluxkit.Flux,
) -> None:
    kube, head = shipped.kube, shipped.repo.head()
    shipped.synced(OPERATOR, head, timeout=360)
    shipped.synced(PROCESSES, head, timeout=180)
    kube.run("wait", "--for=condition=Running", "ffp/testcard", "-n", MEDIA,
             "--timeout=180s", timeout=200)  # fmt: skip
    runs = eventually(
        lambda: [p["metadata"]["uid"] for p in kube.items("pods", "-l", f"{PROCESS_LABEL}=testcard",
                                                         namespace=MEDIA)
                 if p["status"].get("phase") == "Running"],
        60, "testcard's run Pod Running in media",
    )  # fmt: skip
    processes = {p["metadata"]["name"] for p in kube.items("ffp", namespace=MEDIA)}

    # Flux owns the CRDs and the namespace and would prune them: only the mark its apply wrote
    # from the build keeps them. Nothing is deleted unless every one of them carries it.
    owner = kube.get("kustomization", OPERATOR, FLUX_NAMESPACE) or {}
    assert owner["spec"]["prune"] is True
    inventory = {e["id"] for e in owner["status"]["inventory"]["entries"]}
    owned = {f"_{n.split('/')[1]}_apiextensions.k8s.io_CustomResourceDefinition": n
             for n in CLUSTER_WIDE} | {f"_{MEDIA}__Namespace": f"namespace/{MEDIA}"}  # fmt: skip
    for entry, name in owned.items():
        assert entry in inventory, f"{name} is not in the operator's inventory"
        assert _kept_by_flux(kube, name), f"{name} lacks {PRUNE}: disabled; not deleting"

    try:
        kube.run("delete", "kustomization", OPERATOR, "-n", FLUX_NAMESPACE, "--wait=true",
                 "--timeout=120s", timeout=140)  # fmt: skip
    finally:
        restored = _restore_crds(kube)
    assert restored == [], f"Flux pruned {restored} (re-applied from crds/)"

    # Flux did garbage-collect (the operator is gone) but kept what was marked.
    eventually(lambda: kube.get("deployment", "ffmpeg-operator-operator", MEDIA) is None, 60,
               "the operator's Deployment pruned")  # fmt: skip
    for name in (*CLUSTER_WIDE, f"namespace/{MEDIA}"):
        kept = kube.get(*name.split("/")) or {"metadata": {"deletionTimestamp": "gone"}}
        assert "deletionTimestamp" not in kept["metadata"], name
    assert {p["metadata"]["name"] for p in kube.items("ffp", namespace=MEDIA)} == processes
    running = [p["metadata"]["uid"] for p in kube.items("pods", "-l", f"{PROCESS_LABEL}=testcard",
                                                       namespace=MEDIA)
               if p["status"].get("phase") == "Running"]  # fmt: skip
    assert running == runs, "testcard's run Pod was replaced or stopped"
