"""Flux on the local cluster: source-controller, kustomize-controller and a git server, as local
processes beside the cluster (out-of-cluster, the admin kubeconfig), for the GitOps test.

The binaries come from tests/cluster/build.py (components ``source-controller``, which also
holds ``gitserver``, and ``kustomize-controller``); Flux's CRDs are read from those modules in
the Go module cache, where the build put them, so the CRDs always match the controllers.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from realkit import ROOT, Kube, cluster, eventually

build = cluster.build

#: The Go modules the controllers are built from (tests/cluster/<component>/go.mod pins them).
MODULES = {
    "source-controller": "github.com/fluxcd/source-controller",
    "kustomize-controller": "github.com/fluxcd/kustomize-controller",
}


def binary(component: str, name: str | None = None) -> Path:
    """A built binary of ``component``; SystemExit when the component is not built."""
    directory = build.bin_dir(component)
    if not (directory / build.COMPLETE).is_file():
        raise SystemExit(f"{component} is not built: run `python tests/cluster/build.py`")
    return directory / (name or component)


def module_dir(component: str) -> Path:
    """Where the Go module cache holds the module ``component`` is built from."""
    try:
        result = subprocess.run(
            ["go", "list", "-mod=readonly", "-m", "-json", MODULES[component]],
            cwd=build.HERE / component, capture_output=True, text=True, check=True,
            env={**os.environ, "GOFLAGS": "-mod=readonly"},
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as error:
        raise SystemExit(f"cannot find {MODULES[component]} with `go list -m`: {error}") from None
    found = json.loads(result.stdout).get("Dir")
    if not found:  # listed but not downloaded: the build downloads it, so this is a stale cache
        raise SystemExit(f"{MODULES[component]} is not in the Go module cache")
    return Path(found)


def crd_files() -> list[Path]:
    """Every CRD of both controllers: each watches all the source kinds at start, so a missing
    one (Bucket, HelmChart, …) keeps the manager from starting."""
    files: list[Path] = []
    for component in MODULES:
        files += sorted((module_dir(component) / "config" / "crd" / "bases").glob("*.yaml"))
    return files


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Started:
    """A process this module started, with its log."""

    name: str
    process: subprocess.Popen[str]
    log: Path

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace").splitlines()[-lines:]
        return f"--- {self.name} ({self.log}):\n" + "\n".join(text)


@contextlib.contextmanager
def started(name: str, command: list[str], logs: Path, env: dict[str, str]) -> Iterator[Started]:
    """Run ``command`` for the ``with`` block; stop it (TERM, then KILL) when the block ends."""
    log = logs / f"{name}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, text=True, env=env,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield Started(name, process, log)
    finally:
        stop(process)


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


def wait_healthy(controller: Started, port: int, timeout: float = 60) -> None:
    """Wait for a controller's ``/readyz`` on its health port (fail early if it exited)."""
    deadline = time.monotonic() + timeout
    while True:
        if controller.process.poll() is not None:
            raise AssertionError(f"{controller.name} exited\n{controller.tail()}")
        url = f"http://127.0.0.1:{port}/readyz"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:
            if answer.status == 200:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"{controller.name} not ready in {timeout:.0f}s\n"
                                 f"{controller.tail()}")  # fmt: skip
        time.sleep(0.5)


def controller_command(component: str, storage: Path | None, health: int) -> list[str]:
    """The flags a controller needs out of cluster: loopback ports of its own (not Flux's
    defaults :8080/:9440/:9090, which other local servers may hold), no leader election."""
    command = [
        str(binary(component)),
        f"--metrics-addr=127.0.0.1:{free_port()}",
        f"--health-addr=127.0.0.1:{health}",
        "--enable-leader-election=false",
        "--log-encoding=console",
    ]
    if storage is not None:
        # The artifact server: kustomize-controller downloads from the URL source-controller
        # advertises in the GitRepository's status, so it must be this loopback address.
        storage.mkdir(parents=True, exist_ok=True)  # it refuses a path that does not exist
        port = free_port()
        command += [
            f"--storage-path={storage}",
            f"--storage-addr=127.0.0.1:{port}",
            f"--storage-adv-addr=127.0.0.1:{port}",
        ]
    return command


@dataclass
class Repo:
    """The working clone the tests commit to, and the remote (the git server) Flux clones."""

    work: Path
    url: str

    def git(self, *args: str) -> str:
        result = subprocess.run(
            ["git", "-c", "user.name=flux-test", "-c", "user.email=flux-test@localhost",
             "-c", "init.defaultBranch=main", *args],
            cwd=self.work, capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
        if result.returncode != 0:
            raise AssertionError(f"git {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout.strip()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def commit_and_push(self, message: str) -> str:
        self.git("add", "--all")
        self.git("commit", "--quiet", "-m", message)
        self.git("push", "--quiet", self.url, "HEAD:main")
        return self.head()


@dataclass
class Flux:
    """The running pipeline: the repository and the processes serving and reconciling it."""

    kube: Kube
    namespace: str  # where the GitRepository and Kustomizations live
    repo: Repo
    processes: list[Started]

    def logs(self) -> str:
        return "\n".join(p.tail() for p in self.processes)

    def ready_revision(self, kind: str, name: str) -> str | None:
        """The revision ``kind/name`` last reconciled to, if it is Ready=True now."""
        obj = self.kube.get(kind, name, self.namespace)
        status = (obj or {}).get("status", {})
        ready = [c for c in status.get("conditions", []) if c["type"] == "Ready"]
        if not ready or ready[0]["status"] != "True":
            return None
        revision = status.get("lastAppliedRevision") or status.get("artifact", {}).get("revision")
        return str(revision) if revision else None

    def request_reconcile(self, source: str) -> None:
        """What ``flux reconcile source git`` does: the requestedAt annotation on the source;
        the Kustomizations follow a new artifact revision by themselves."""
        self.kube.run("annotate", "--overwrite", "-n", self.namespace, f"gitrepository/{source}",
                      f"reconcile.fluxcd.io/requestedAt={time.time_ns()}")  # fmt: skip

    def synced(self, kustomization: str, commit: str, timeout: float = 180) -> None:
        """Wait until ``kustomization`` is Ready at ``commit`` (revision ``main@sha1:<commit>``)."""
        try:
            eventually(lambda: (self.ready_revision("kustomization", kustomization) or "")
                       .endswith(commit), timeout, f"{kustomization} at {commit[:12]}")  # fmt: skip
        except AssertionError as error:
            state = self.kube.run("get", "gitrepository,kustomization", "-n", self.namespace,
                                  "-o", "yaml", check=False).stdout  # fmt: skip
            raise AssertionError(f"{error}\n{state}\n{self.logs()}") from None


def _unavailable(reason: str) -> None:
    """As conftest's ``kube`` fixture: a skip with one line, a failure when CI=true."""
    message = f"Flux: {reason}; run `make test-cluster`"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def install_crds(kube: Kube) -> None:
    crds = crd_files()
    for crd in crds:
        kube.run("apply", "--server-side", "--force-conflicts", "-f", str(crd))
    names = [f"crd/{yaml.safe_load(c.read_text())['metadata']['name']}" for c in crds]
    kube.run("wait", "--for=condition=Established", "--timeout=60s", *names)


@contextlib.contextmanager
def running(kube: Kube, namespace: str, tree: tuple[str, ...]) -> Iterator[Flux]:
    """Flux's CRDs installed; the git server holding one commit of ``tree`` (paths of this
    repository, copied from the work tree); both controllers running. All stopped after."""
    try:
        gitserver = binary("source-controller", "gitserver")
        for component in MODULES:
            binary(component)
        install_crds(kube)
    except SystemExit as error:
        _unavailable(str(error))
    scratch = Path(tempfile.mkdtemp(prefix="flux-gitops-"))
    env = {**kube.env(), "RUNTIME_NAMESPACE": namespace}
    try:
        with contextlib.ExitStack() as stack:
            serve = [str(gitserver), "-root", str(scratch / "served")]
            served = stack.enter_context(started("gitserver", serve, scratch, env))
            base = eventually(
                lambda: [u for u in served.log.read_text().split() if u.startswith("http://")],
                30, "the git server's URL",
            )[0]  # fmt: skip
            repo = Repo(scratch / "work", f"{base}/ffmpeg-operator.git")
            repo.work.mkdir()
            repo.git("init", "--quiet")
            for part in tree:
                shutil.copytree(ROOT / part, repo.work / part)
            repo.commit_and_push("the work tree's " + ", ".join(tree))

            processes = [served]
            for component, storage in (("source-controller", scratch / "artifacts"),
                                       ("kustomize-controller", None)):  # fmt: skip
                health = free_port()
                command = controller_command(component, storage, health)
                controller = stack.enter_context(started(component, command, scratch, env))
                wait_healthy(controller, health)
                processes.append(controller)
            yield Flux(kube, namespace, repo, processes)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
