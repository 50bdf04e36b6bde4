"""A real ``python -m ffmpeg_operator serve`` on a free port and a temporary data directory."""

from __future__ import annotations

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
    log = (root / "server.log").open("wb")
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ffmpeg_operator",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(root / "data"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(child, base_url, timeout, root / "server.log")
        yield RunningServer(base_url, psutil.Process(child.pid), root / "data")
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        log.close()
        shutil.rmtree(root, ignore_errors=True)


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
