"""The agent as a real process beside a real ffmpeg (helpers of the agent tests).

The test plays kubelet: it starts the agent (``python -m ffmpeg_operator agent``) with free
ports and a temporary termination-message file, waits for ``/healthz``, then starts ffmpeg with
the flags the Pod builder injects, and finally sends the agent SIGTERM.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import imageio_ffmpeg
import pytest

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
#: A small live source: a few frames per second, almost no CPU.
TESTSRC = ["-f", "lavfi", "-re", "-i", "testsrc=size=160x120:rate=10"]
_STARTUP_S = 20.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def poll(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Call ``check`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


@dataclass
class AgentProcess:
    process: subprocess.Popen[bytes]
    url: str
    progress_port: int
    termination_path: Path

    @property
    def ffmpeg_flags(self) -> list[str]:
        """What the Pod builder puts in front of the config's arguments."""
        return ["-nostdin", "-progress", f"tcp://127.0.0.1:{self.progress_port}"]

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=5.0)

    def state(self) -> dict[str, Any]:
        response = self.get("/state")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def termination_message(self) -> dict[str, Any] | None:
        try:
            text = self.termination_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        result: dict[str, Any] | None = json.loads(text) if text else None
        return result

    def terminate(self, timeout: float = 10.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)


@contextmanager
def running_agent(tmp_path: Path, *extra_args: str) -> Iterator[AgentProcess]:
    http_port, progress_port = free_port(), free_port()
    termination_path = tmp_path / "termination-log"
    process = subprocess.Popen(
        [
            sys.executable, "-m", "ffmpeg_operator", "agent",
            "--progress-port", str(progress_port),
            "--http-host", "127.0.0.1",
            "--http-port", str(http_port),
            "--process-id", "agent-test",
            "--ffmpeg", FFMPEG,
            "--termination-message-path", str(termination_path),
            *extra_args,
        ]
    )  # fmt: skip
    agent = AgentProcess(process, f"http://127.0.0.1:{http_port}", progress_port, termination_path)
    try:
        poll(lambda: _healthy(agent), _STARTUP_S, "the agent's /healthz")
        yield agent
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def _healthy(agent: AgentProcess) -> bool:
    if agent.process.poll() is not None:
        pytest.fail(f"the agent exited with {agent.process.returncode} before it was ready")
    try:
        return agent.get("/healthz").status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def running_ffmpeg(agent: AgentProcess, args: Sequence[str]) -> Iterator[subprocess.Popen[bytes]]:
    """ffmpeg as the main container runs it: injected flags, then the config's arguments.

    The test is its parent and reaps it only in :meth:`Popen.wait`, so the agent finds the
    exit status in /proc as it would with a slow reaper.
    """
    process = subprocess.Popen(
        [FFMPEG, *agent.ffmpeg_flags, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
