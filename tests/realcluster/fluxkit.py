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
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from realkit import cluster

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
    result = subprocess.run(
        ["go", "list", "-mod=readonly", "-m", "-json", MODULES[component]],
        cwd=build.HERE / component, capture_output=True, text=True, check=True,
        env={**os.environ, "GOFLAGS": "-mod=readonly"},
    )  # fmt: skip
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
