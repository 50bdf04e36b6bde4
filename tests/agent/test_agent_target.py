"""Stopping and outliving a process the agent did not spawn."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import psutil
import pytest

from ffmpeg_operator.agent.target import ForeignProcess, read_zombie_returncode

pytestmark = pytest.mark.timeout(15)


def _zombie(*argv: str) -> subprocess.Popen[bytes]:
    """A child that exits by itself and stays unreaped (we call no wait() until the end)."""
    process = subprocess.Popen(argv)
    deadline = time.monotonic() + 5
    while psutil.Process(process.pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.02)
    return process


def test_an_unreaped_exit_status_is_read_from_proc() -> None:
    process = _zombie("sh", "-c", "exit 3")
    try:
        assert read_zombie_returncode(process.pid) == 3
    finally:
        process.wait()


def test_a_signal_death_reads_as_minus_the_signal() -> None:
    process = _zombie("sh", "-c", "kill -9 $$")
    try:
        assert read_zombie_returncode(process.pid) == -9
    finally:
        process.wait()


async def test_a_process_ignoring_sigint_is_killed_after_the_grace() -> None:
    # Ignores SIGINT, and says so on stdout once the handler is in place.
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
         "print('ready', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        await asyncio.to_thread(child.stdout.readline)
        reasons: list[str | None] = []
        target = ForeignProcess(psutil.Process(child.pid), on_stop=reasons.append, grace_s=0.5)

        await target.stop("limit")
        observed = await target.wait()

        assert reasons == ["limit"]
        assert target.sigkill_sent
        assert observed.returncode == -9
        assert observed.exit_code == 137
        assert observed.exec_state == "killed"
        await target.close()
    finally:
        child.kill()
        child.wait()
