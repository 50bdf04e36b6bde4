"""A real GitOps pipeline: Flux's source-controller and kustomize-controller (built from their Go
modules, tests/cluster) apply ``deploy/examples/gitops`` from a git repository served over
HTTP, and follow the commits pushed to it.

The operator is the chart the tier installs (the ``release`` fixture); Flux owns the processes
only, as ``deploy/flux/sync.yaml``'s ``ffmpeg-processes`` Kustomization does, with the chart's
namespace as ``targetNamespace`` (the tree's own is ``media``, where its overlay runs the
operator).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fluxkit
import pytest
from realkit import NAMESPACE, Kube, eventually

from ffmpeg_operator.kube.names import PROCESS_LABEL

pytestmark = [pytest.mark.realcluster, pytest.mark.timeout(600)]

FLUX_NAMESPACE = "flux-gitops"
SOURCE = "ffmpeg-operator"
KUSTOMIZATION = "ffmpeg-processes"
EXAMPLES = Path("deploy") / "examples" / "gitops"
#: What every example process the tree keeps is called in the cluster.
EXAMPLE_PROCESSES = {
    "testcard", "testcard-snapshot", "archive",
    "restreamer-ui-ingest-7c1e6d3a-2b4f-4e8a--5a2b0c340c",
}  # fmt: skip


def _gitops_objects() -> list[dict[str, Any]]:
    """A GitRepository and a Kustomization as ``deploy/flux/sync.yaml`` writes them, with the
    local repository's URL, short intervals and the chart's namespace as the target."""
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": FLUX_NAMESPACE}},
        {
            "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
            "metadata": {"name": SOURCE, "namespace": FLUX_NAMESPACE},
            "spec": {"interval": "1m", "url": "", "ref": {"branch": "main"}},
        },
        {
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": KUSTOMIZATION, "namespace": FLUX_NAMESPACE},
            "spec": {
                "interval": "1m",
                "sourceRef": {"kind": "GitRepository", "name": SOURCE},
                "path": f"./{EXAMPLES.as_posix()}",
                "prune": True,
                "targetNamespace": NAMESPACE,
            },
        },
    ]  # fmt: skip


@pytest.fixture(scope="module")
def flux(kube: Kube, release: float) -> Iterator[fluxkit.Flux]:
    """The pipeline with the GitRepository and Kustomization applied; all removed after."""
    with fluxkit.running(kube, FLUX_NAMESPACE, ("deploy", "crds")) as pipeline:
        objects = _gitops_objects()
        objects[1]["spec"]["url"] = pipeline.repo.url
        try:
            kube.apply(objects)
            yield pipeline
        finally:
            _remove_flux_objects(kube)


def _remove_flux_objects(kube: Kube) -> None:
    """While the controllers still run: the Kustomization first (prune: its processes go, and
    the operator removes their finalizers), then the source, then the namespace."""
    for kind, name in (("kustomization", KUSTOMIZATION), ("gitrepository", SOURCE)):
        kube.run("delete", kind, name, "-n", FLUX_NAMESPACE, "--ignore-not-found",
                 "--wait=true", "--timeout=120s", check=False, timeout=140)  # fmt: skip
    kube.run("delete", "ffp", "-n", NAMESPACE, "-l",
             f"kustomize.toolkit.fluxcd.io/name={KUSTOMIZATION}", "--wait=true",
             "--timeout=90s", check=False, timeout=120)  # fmt: skip
    kube.run("delete", "namespace", FLUX_NAMESPACE, "--wait=true", "--timeout=120s",
             check=False, timeout=140)  # fmt: skip


def _live_run_pods(kube: Kube, name: str) -> list[dict[str, Any]]:
    return [p for p in kube.items("pods", "-l", f"{PROCESS_LABEL}={name}")
            if p["metadata"].get("deletionTimestamp") is None]  # fmt: skip


def _running_pod(kube: Kube, name: str) -> dict[str, Any] | None:
    pods = _live_run_pods(kube, name)
    if len(pods) == 1 and pods[0]["status"].get("phase") == "Running":
        return pods[0]
    return None


def _args(pod: dict[str, Any]) -> str:
    return " ".join(" ".join(c.get("command", []) + c.get("args", []))
                    for c in pod["spec"]["containers"])  # fmt: skip


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


def test_flux_applies_the_example_tree_and_the_run_pod_runs(flux: fluxkit.Flux) -> None:
    flux.synced(KUSTOMIZATION, flux.repo.head())
    names = {p["metadata"]["name"] for p in flux.kube.items(
        "ffp", "-l", f"kustomize.toolkit.fluxcd.io/name={KUSTOMIZATION}")}  # fmt: skip
    assert names == EXAMPLE_PROCESSES
    flux.kube.run("wait", "--for=condition=Running", "ffp/testcard", "-n", NAMESPACE,
                  "--timeout=180s", timeout=200)  # fmt: skip
    eventually(lambda: _running_pod(flux.kube, "testcard"), 60, "testcard's run Pod Running")
    assert not _live_run_pods(flux.kube, "archive")  # stopped in Git: no run Pod


def test_a_commit_changing_a_process_replaces_its_run_pod(flux: fluxkit.Flux) -> None:
    flux.synced(KUSTOMIZATION, flux.repo.head())
    old = eventually(lambda: _running_pod(flux.kube, "testcard"), 180, "testcard's run Pod")
    assert "size=320x180" in _args(old)

    _edit(flux.repo.work / EXAMPLES / "testcard.yaml",
          "testsrc2=size=320x180:rate=25", "testsrc2=size=160x90:rate=25")  # fmt: skip
    commit = flux.repo.commit_and_push("testcard: a smaller picture")
    flux.request_reconcile(SOURCE)
    flux.synced(KUSTOMIZATION, commit)

    new = eventually(
        lambda: (pod := _running_pod(flux.kube, "testcard"))
        and pod["metadata"]["uid"] != old["metadata"]["uid"] and pod,
        180, "a new testcard run Pod",
    )  # fmt: skip
    assert "size=160x90" in _args(new) and "size=320x180" not in _args(new)
    eventually(lambda: flux.kube.get("pod", old["metadata"]["name"]) is None, 90,
               "the old run Pod to be gone")  # fmt: skip


def test_a_process_deleted_from_git_is_pruned_with_its_run_pods(flux: fluxkit.Flux) -> None:
    flux.synced(KUSTOMIZATION, flux.repo.head())
    eventually(lambda: _live_run_pods(flux.kube, "testcard-snapshot"), 180,
               "testcard-snapshot's run Pod")  # fmt: skip

    kustomization = flux.repo.work / EXAMPLES / "kustomization.yaml"
    _edit(kustomization, "  - testcard-snapshot.yaml\n", "")
    (flux.repo.work / EXAMPLES / "testcard-snapshot.yaml").unlink()
    commit = flux.repo.commit_and_push("remove testcard-snapshot")
    flux.request_reconcile(SOURCE)
    flux.synced(KUSTOMIZATION, commit)

    eventually(lambda: flux.kube.get("ffp", "testcard-snapshot") is None, 120,
               "Flux to prune testcard-snapshot")  # fmt: skip
    eventually(lambda: not flux.kube.items("pods", "-l", f"{PROCESS_LABEL}=testcard-snapshot"),
               120, "testcard-snapshot's run Pods to be gone")  # fmt: skip
    assert flux.kube.get("ffp", "testcard") is not None  # the rest stays
