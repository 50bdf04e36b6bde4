"""A real ``python -m ffmpeg_operator serve`` on a free port and a temporary data directory."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class RunningServer:
    base_url: str
    process: psutil.Process
    data_dir: Path

    def rss_mib(self) -> float:
        return self.process.memory_info().rss / 2**20


@contextmanager
def served(timeout: float = 30.0) -> Iterator[RunningServer]:
    """Start the installed package's server, wait until it answers, stop it afterwards."""
    root = Path(tempfile.mkdtemp(prefix="ffmpeg-operator-bench-"))
    port = free_port()
    argv = [sys.executable, "-m", "ffmpeg_operator", "serve", "--port", str(port),
            "--data-dir", str(root / "data")]  # fmt: skip
    with running(argv, port, root, timeout) as (base_url, child):
        yield RunningServer(base_url, psutil.Process(child.pid), root / "data")


@contextmanager
def running(
    argv: list[str], port: int, root: Path, timeout: float = 30.0
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Start ``argv`` (a server listening on ``port``) in a session of its own, its output in
    ``root/server.log``; yield its URL and process once it answers ``/ping``. Afterwards, also
    when it never came up, :func:`stop_tree` ends it and its descendants and ``root`` goes."""
    log = (root / "server.log").open("wb")
    child = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(child, base_url, timeout, root / "server.log")
        yield base_url, child
    finally:
        stop_tree(child)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def stop(child: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGTERM ``child``, as Kubernetes stops a Pod; SIGKILL when it has not exited in time."""
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def stop_tree(child: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGTERM ``child`` (started with ``start_new_session``) and its process group, wait, then
    SIGKILL whatever of the group and of its descendants is left.

    A server may exit on SIGTERM without ending its ffmpeg children (they then live on,
    re-parented, in its process group or in sessions of their own): the descendants are
    collected before the signal, so none outlives the bench.
    """
    try:
        descendants = psutil.Process(child.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGTERM)
    try:
        child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    _gone, alive = psutil.wait_procs(descendants, timeout=5)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=5)


def _wait_until_up(
    child: subprocess.Popen[bytes], base_url: str, timeout: float, log: Path
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{base_url}/ping", timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server did not answer within {timeout} s")
