"""ffmpeg ends with the server, however the server ends: its process group's watcher."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ffmpeg_operator.supervision.lifeline import Lifeline, current_lifeline
from ffmpeg_operator.supervision.run import DEFAULT_GRACE_S, FFmpegRun
from polling import wait_until

pytestmark = pytest.mark.timeout(20)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie (nobody reaped it yet) has ended too
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except FileNotFoundError:
        return True


def _sleeper(*, ignore_term: bool, group: int) -> subprocess.Popen[bytes]:
    code = "import signal, time\n"
    if ignore_term:
        code += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    code += "print('ready', flush=True)\ntime.sleep(60)\n"
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, process_group=group
    )
    assert child.stdout is not None
    assert child.stdout.readline() == b"ready\n"
    return child


@pytest.fixture
def short_lifeline() -> Iterator[Lifeline]:
    line = Lifeline(0.3)
    yield line
    line.close()


def test_a_child_left_when_the_lifeline_ends_gets_sigterm(short_lifeline: Lifeline) -> None:
    child = _sleeper(ignore_term=False, group=short_lifeline.group)
    try:
        short_lifeline.joined()
        short_lifeline.close()  # with a child left: as if the server had died
        assert child.wait(timeout=5) == -signal.SIGTERM
    finally:
        child.kill()
        child.wait()


def test_a_child_ignoring_sigterm_is_killed_after_the_grace(short_lifeline: Lifeline) -> None:
    child = _sleeper(ignore_term=True, group=short_lifeline.group)
    try:
        short_lifeline.joined()
        closed = time.monotonic()
        short_lifeline.close()
        assert child.wait(timeout=5) == -signal.SIGKILL
        assert time.monotonic() - closed >= 0.3
    finally:
        child.kill()
        child.wait()


def test_a_graceful_close_with_no_child_left_ends_the_watcher_at_once() -> None:
    line = Lifeline(60)
    group = line.group
    child = _sleeper(ignore_term=False, group=group)
    line.joined()
    child.terminate()
    child.wait()
    line.left()
    line.close()
    assert not line.alive
    assert _gone(group)


async def test_ffmpeg_runs_in_the_watchers_group_not_in_ours(ffmpeg: str) -> None:
    run = await FFmpegRun.start(ffmpeg, ["-f", "lavfi", "-re", "-i", "testsrc", "-f", "null", "-"])
    try:
        group = os.getpgid(run.pid)
        assert group == current_lifeline(DEFAULT_GRACE_S).group
        assert group != os.getpgrp()
    finally:
        await run.stop(grace=2)


def test_a_dead_watcher_is_replaced_at_the_next_spawn(caplog: pytest.LogCaptureFixture) -> None:
    old = current_lifeline(DEFAULT_GRACE_S)
    os.kill(old.group, signal.SIGKILL)
    wait_until(lambda: not old.alive, 5, 0.02, what="the watcher's end")
    with caplog.at_level(logging.WARNING):
        new = current_lifeline(DEFAULT_GRACE_S)
    assert new is not old
    assert new.alive
    assert f"process group {old.group} ended" in caplog.text


SERVER = textwrap.dedent(
    """
    import asyncio, sys
    from ffmpeg_operator.supervision.run import FFmpegRun

    async def main():
        run = await FFmpegRun.start(sys.argv[1], [])
        print(run.pid, flush=True)
        await asyncio.sleep(60)

    asyncio.run(main())
    """
)


def test_ffmpeg_of_a_server_killed_with_sigkill_gets_sigterm(
    make_script: Callable[[str, str], str], tmp_path: Path
) -> None:
    ready, termed = tmp_path / "ready", tmp_path / "termed"
    fake_ffmpeg = make_script(
        "ffmpeg",
        textwrap.dedent(
            f"""
            import pathlib, signal, sys, time
            def term(*_):
                pathlib.Path({str(termed)!r}).touch()
                sys.exit(0)
            signal.signal(signal.SIGTERM, term)
            pathlib.Path({str(ready)!r}).touch()
            time.sleep(60)
            """
        ),
    )
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, fake_ffmpeg], stdout=subprocess.PIPE, text=True
    )
    child = 0
    try:
        assert server.stdout is not None
        child = int(server.stdout.readline())
        wait_until(ready.exists, 10, 0.02, what="the fake ffmpeg's start")
        server.kill()
        server.wait()
        wait_until(termed.exists, 5, 0.02, what="SIGTERM at the fake ffmpeg")
        wait_until(lambda: _gone(child), 5, 0.02, what="the fake ffmpeg's exit")
    finally:
        server.kill()
        server.wait()
        if child and not _gone(child):
            os.kill(child, signal.SIGKILL)
