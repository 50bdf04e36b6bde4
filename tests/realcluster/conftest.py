"""The real-cluster tier: the project on kube-apiserver, controller-manager, scheduler and kubelet.

Runs under ``make test-cluster``, which builds the cluster (tests/cluster), starts it, imports
the images, runs this directory with ``FFMPEG_OPERATOR_REALCLUSTER=1`` and stops the cluster.
Without that variable (a plain ``pytest`` or ``make unit``) nothing here is collected: the
target says itself when it skips. With it, a cluster that does not answer is a skip with one
line, and a failure when ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import NoReturn

import pytest

from tiers import unavailable

if os.environ.get("FFMPEG_OPERATOR_REALCLUSTER") != "1":
    collect_ignore_glob = ["test_*.py"]
else:
    from realkit import (
        API_PASSWORD,
        IMAGE_REPOSITORY,
        IMAGE_TAG,
        NAMESPACE,
        RELEASE,
        ROOT,
        Kube,
        cluster,
    )


def _unavailable(reason: str) -> NoReturn:
    unavailable(f"real-cluster tier: {reason}; run `make test-cluster`")


@pytest.fixture(scope="session")
def kube() -> Kube:
    if os.geteuid() != 0:
        _unavailable("needs root (the cluster's node runs as root)")
    lay = cluster.layout()
    try:
        helm = str(cluster.binary("helm"))
        ready = cluster.apiserver_ready(lay) and cluster.node_ready(lay)
    except SystemExit as error:  # a component is not built
        _unavailable(str(error))
    except OSError as error:
        _unavailable(f"the local cluster does not answer ({error})")
    if not ready:
        _unavailable("the local cluster is not ready")
    kubectl = shutil.which("kubectl", path=str(ROOT / ".venv" / "bin")) or "kubectl"
    ctr = [str(cluster.binary("ctr")), "--address", str(lay.containerd_socket), "-n", "k8s.io"]
    images = subprocess.run([*ctr, "images", "ls", "-q"], capture_output=True, text=True,
                            check=False).stdout.split()  # fmt: skip
    wanted = f"docker.io/library/{IMAGE_REPOSITORY}:{IMAGE_TAG}"
    if wanted not in images:
        _unavailable(f"{wanted} is not in the cluster's containerd (make cluster-images)")
    return Kube(lay.kubeconfig, kubectl, helm)


@pytest.fixture(scope="session")
def crd(kube: Kube) -> None:
    kube.run("apply", "--server-side", "--force-conflicts", "-f",
             str(ROOT / "crds" / "ffmpegprocesses.yaml"))  # fmt: skip
    kube.run("wait", "--for=condition=Established", "--timeout=60s",
             "crd/ffmpegprocesses.ffmpeg-operator.io")  # fmt: skip


@pytest.fixture(scope="session")
def release(kube: Kube, crd: None) -> Iterator[float]:
    """The chart installed in a namespace that enforces PodSecurity ``restricted``; yields when
    (epoch seconds) the installation began."""
    started = time.time()
    cluster.refill_volumes(cluster.layout())  # a fresh volume for the chart's diskfs claim
    kube.apply([{
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": NAMESPACE, "labels": {
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
        }},
    }])  # fmt: skip
    try:
        kube.helm_run(
            "upgrade", "--install", RELEASE, str(ROOT / "helm" / "ffmpeg-operator"),
            "--namespace", NAMESPACE,
            "--set", f"image.repository={IMAGE_REPOSITORY}", "--set", f"image.tag={IMAGE_TAG}",
            "--set", f"auth.password={API_PASSWORD}",
            "--set", "diskfs.accessModes={ReadWriteOnce}",
            "--wait", "--timeout", "4m",
        )  # fmt: skip
        yield started
    finally:
        kube.run("delete", "ffp", "--all", "-n", NAMESPACE, "--wait=true", "--timeout=90s",
                 check=False, timeout=120)  # fmt: skip
        subprocess.run([kube.helm, "--kube-context", cluster.CONTEXT, "uninstall", RELEASE,
                        "--namespace", NAMESPACE, "--wait"], env=kube.env(), check=False,
                       capture_output=True, timeout=180)  # fmt: skip
        kube.run("delete", "namespace", NAMESPACE, "--wait=true", "--timeout=120s", check=False,
                 timeout=150)  # fmt: skip
