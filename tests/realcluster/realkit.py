"""Helpers of the real-cluster tier: kubectl and helm on the local cluster, its audit log, etcd."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ffmpeg_operator.core.models import ProcessConfig, ProcessConfigIO
from ffmpeg_operator.kube.names import GROUP
from ffmpeg_operator.kube.settings import ENV_PREFIX
from ffmpeg_operator.kube.spec import cr_from_config

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "cluster"))

import cluster  # noqa: E402  (tests/cluster is no package: its scripts run standalone)
import kubectlkit  # noqa: E402
from kubectlkit import found_object  # noqa: E402

Obj = dict[str, Any]

NAMESPACE = "ffmpeg-rc"
RELEASE = "ffmpeg-operator"
OPERATOR = f"{RELEASE}-operator"
API = f"{RELEASE}-api"
IMAGE_REPOSITORY = "ffmpeg-operator"
IMAGE_TAG = "e2e"
API_PASSWORD = "rc-password"


@dataclass(frozen=True)
class Kube:
    """kubectl and helm bound to the local cluster's kubeconfig and context."""

    kubeconfig: Path
    kubectl: str
    helm: str

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def run(
        self, *args: str, stdin: str | None = None, timeout: float = 60, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        command = [self.kubectl, "--context", cluster.CONTEXT, *args]
        result = subprocess.run(
            command, input=stdin, capture_output=True, text=True, timeout=timeout,
            check=False, env=self.env(),
        )  # fmt: skip
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def helm_run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        command = [self.helm, "--kube-context", cluster.CONTEXT, *args]
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, check=False, env=self.env()
        )
        if result.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def apply(self, objects: list[Obj], *extra: str) -> subprocess.CompletedProcess[str]:
        text = yaml.safe_dump_all(objects)
        return self.run("apply", "--server-side", "--force-conflicts", "-f", "-", *extra,
                        stdin=text)  # fmt: skip

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout)

    def get(self, kind: str, name: str, namespace: str = NAMESPACE) -> Obj | None:
        return found_object(self.run("get", kind, name, "-n", namespace, "-o", "json", check=False))

    def items(self, kind: str, *selector: str, namespace: str = NAMESPACE) -> list[Obj]:
        found: list[Obj] = self.json("get", kind, "-n", namespace, *selector)["items"]
        return found


#: This tier polls every half second (the cluster runs on this machine).
eventually = functools.partial(kubectlkit.eventually, every=0.5)


def audit_events(since: float = 0.0) -> list[Obj]:
    """The apiserver's audit events of workload ServiceAccounts (see cluster.audit_policy)."""
    path = cluster.audit_log(cluster.layout())
    events = []
    for line in path.read_text().splitlines():
        event = json.loads(line)
        if event.get("stage") != "ResponseComplete":
            continue
        stamp = event.get("requestReceivedTimestamp", "")
        if since and _epoch(stamp) < since:
            continue
        events.append(event)
    return events


def _epoch(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def calling_pod(event: Obj) -> str | None:
    """The Pod whose bound ServiceAccount token made the call."""
    names = event.get("user", {}).get("extra", {}).get("authentication.kubernetes.io/pod-name")
    return names[0] if names else None


def etcd_compact() -> int:
    """Compact etcd to its current revision: every older resourceVersion is gone for good."""
    base = f"http://127.0.0.1:{cluster.ETCD_CLIENT_PORT}/v3"
    header = _etcd_post(f"{base}/kv/range", {"key": "AA==", "limit": 1})["header"]
    revision = int(header["revision"])
    _etcd_post(f"{base}/kv/compaction", {"revision": revision, "physical": True})
    return revision


def _etcd_post(url: str, body: Obj) -> Obj:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: Obj = json.loads(response.read())
    return answer


def unschedulable_process(process_id: str, namespace: str) -> Obj:
    """An FFmpegProcess whose run Pod is created but never scheduled (no node has the label)."""
    config = ProcessConfig(
        id=process_id,
        input=[ProcessConfigIO(id="in", address="testsrc2=size=64x48:rate=5",
                               options=["-re", "-f", "lavfi"])],
        output=[ProcessConfigIO(id="out", address="-", options=["-f", "null"])],
    )  # fmt: skip
    obj = cr_from_config(config, namespace, "running")
    obj["spec"]["nodeSelector"] = {f"{GROUP}/test": "no-such-node"}
    return obj


@contextlib.contextmanager
def local_operator(
    kube: Kube, namespace: str, log: Path, *args: str, delete_timeout: int = 90
) -> Iterator[subprocess.Popen[bytes]]:
    """``ffmpeg-operator operator`` on ``namespace`` (made here) as a local process with the
    admin kubeconfig, its output in ``log``. Afterwards, also on failure: the namespace's
    FFmpegProcesses deleted while the operator that put its finalizer on them still runs,
    the operator stopped, the namespace deleted."""
    kube.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}])
    eventually(lambda: kube.get("serviceaccount", "default", namespace), 60, "default SA")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env.update(KUBECONFIG=str(kube.kubeconfig), **{f"{ENV_PREFIX}POD_NAME": namespace})
    with log.open("wb") as output:
        child = subprocess.Popen(
            [sys.executable, "-m", "ffmpeg_operator", "operator", "--namespace", namespace,
             *args],
            env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        yield child
    finally:
        kube.run("delete", "ffp", "--all", "-n", namespace, "--wait=true",
                 f"--timeout={delete_timeout}s", check=False,
                 timeout=delete_timeout + 30)  # fmt: skip
        child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        kube.run("delete", "namespace", namespace, "--wait=true", "--timeout=180s",
                 check=False, timeout=210)  # fmt: skip
