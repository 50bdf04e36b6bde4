"""A real ``ffmpeg-operator serve`` process for tests that need real HTTP and real ffmpeg."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    """One server process; ``restart()`` keeps the data directory (persistence tests)."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    env: Mapping[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        log = self.log_path.open("ab")
        env = {**os.environ, "FFMPEG_OPERATOR_MEMFS_PASSWORD": "memfspw", **self.env}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ffmpeg_operator",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                *self.args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/ping", timeout=0.5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        # The callers register stop() only once start() returned: a server that never answered
        # must not outlive the failed start (it did, on a session fixture, until killed by hand).
        self.stop(kill=True)
        raise RuntimeError(f"server did not answer within {timeout} s:\n{self.log()}")

    def stop(self, kill: bool = False, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        if kill:
            # Like a crash: the server and its whole session (ffmpeg children) die at once.
            os.killpg(self.process.pid, signal.SIGKILL)
        else:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def restart(self, kill: bool = False) -> None:
        self.stop(kill=kill)
        self.start()

    def log(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-5000:]

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30.0, **kwargs)  # type: ignore[arg-type]


@contextmanager
def live_server(data_dir: Path, **kwargs: object) -> Iterator[LiveServer]:
    server = LiveServer(data_dir=data_dir, **kwargs)  # type: ignore[arg-type]
    server.start()
    try:
        yield server
    finally:
        server.stop()
