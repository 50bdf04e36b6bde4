"""One supervised ffmpeg child (spec §4.2, §4.3, §9.1, §9.2, §9.4), with the real bundled ffmpeg.

Each test runs a process for at most a few seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Callable

import pytest

from ffmpeg_operator.supervision import run as run_module
from ffmpeg_operator.supervision.run import (
    INHERITED_ENV_VARS,
    FFmpegRun,
    FFmpegSpawnError,
    child_environment,
    default_injected_flags,
    exit_state,
)

pytestmark = pytest.mark.timeout(15)

LIVE_VIDEO = ["-f", "lavfi", "-re", "-i", "testsrc=size=160x120:rate=10", "-f", "null", "-"]
ONE_SECOND_VIDEO = [
    "-f",
    "lavfi",
    "-i",
    "testsrc=size=160x120:rate=10",
    "-t",
    "1",
    "-f",
    "null",
    "-",
]
ONE_SECOND_AUDIO = ["-f", "lavfi", "-i", "anullsrc", "-t", "1", "-f", "null", "-"]


class Collector:
    """Collects lines and lets a test wait for one that matches."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._wanted: list[tuple[Callable[[str], bool], asyncio.Event]] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)
        for matches, event in self._wanted:
            if matches(line):
                event.set()

    async def wait_for(self, matches: Callable[[str], bool], timeout: float = 5.0) -> None:
        event = asyncio.Event()
        self._wanted.append((matches, event))
        if any(matches(line) for line in self.lines):
            return
        await asyncio.wait_for(event.wait(), timeout)


# ----------------------------------------------------------------------------- exit states


@pytest.mark.parametrize(
    ("returncode", "state"),
    [
        (0, "finished"),
        (255, "finished"),
        (1, "failed"),
        (254, "failed"),
        (-9, "killed"),
        (-2, "killed"),
        (-15, "killed"),
    ],
)
def test_exit_state_follows_the_exec_state_table(returncode: int, state: str) -> None:
    assert exit_state(returncode) == state


# ----------------------------------------------------------------------------- real ffmpeg


async def test_running_ffmpeg_delivers_stderr_and_progress_lines(ffmpeg: str) -> None:
    stderr, progress = Collector(), Collector()
    run = await FFmpegRun.start(
        ffmpeg, LIVE_VIDEO, on_stderr_line=stderr, on_progress_line=progress
    )
    await progress.wait_for(lambda line: line == "progress=continue")
    await stderr.wait_for(lambda line: line.startswith("frame="))
    assert run.running
    assert run.pid > 0
    await run.stop("test over", grace=2)
    assert any(line.startswith("out_time_us=") for line in progress.lines)
    assert any(line.startswith("Input #0, lavfi") for line in stderr.lines)


async def test_stop_sends_sigint_and_ffmpeg_exits_255_as_finished(ffmpeg: str) -> None:
    stderr = Collector()
    run = await FFmpegRun.start(ffmpeg, LIVE_VIDEO, on_stderr_line=stderr)
    await stderr.wait_for(lambda line: line.startswith("frame="))
    await run.stop("Stale timeout", grace=2)
    info = await run.wait()
    assert (info.returncode, info.signal, info.exec_state) == (255, None, "finished")
    assert info.stop_reason == "Stale timeout"
    assert "Exiting normally, received signal 2." in stderr.lines


async def test_natural_end_is_finished_with_exit_code_0(ffmpeg: str) -> None:
    progress = Collector()
    run = await FFmpegRun.start(ffmpeg, ONE_SECOND_VIDEO, on_progress_line=progress)
    info = await run.wait()
    assert (info.returncode, info.exec_state, info.stop_reason) == (0, "finished", None)
    assert not run.running
    # wait() returns only after the pipes are drained: the closing block is there.
    assert progress.lines[-1] == "progress=end"


async def test_missing_input_is_failed(ffmpeg: str) -> None:
    stderr = Collector()
    run = await FFmpegRun.start(
        ffmpeg, ["-i", "/nonexistent/in.mp4", "-f", "null", "-"], on_stderr_line=stderr
    )
    info = await run.wait()
    assert info.exec_state == "failed"
    assert info.returncode not in (0, 255)
    assert any("No such file or directory" in line for line in stderr.lines)


async def test_progress_lines_arrive_even_at_loglevel_error(ffmpeg: str) -> None:
    stderr, progress = Collector(), Collector()
    run = await FFmpegRun.start(
        ffmpeg,
        ["-loglevel", "error", *ONE_SECOND_VIDEO],
        on_stderr_line=stderr,
        on_progress_line=progress,
    )
    await run.wait()
    assert not any(line.startswith("frame=") for line in stderr.lines)
    assert "frame=10" in progress.lines
    assert progress.lines[-1] == "progress=end"


async def test_audio_only_output_has_progress_lines_without_frames(ffmpeg: str) -> None:
    progress = Collector()
    run = await FFmpegRun.start(ffmpeg, ONE_SECOND_AUDIO, on_progress_line=progress)
    await run.wait()
    assert "out_time_us=1000000" in progress.lines
    assert not any(line.startswith("frame=") for line in progress.lines)


async def test_command_is_the_config_argv_without_injected_flags(ffmpeg: str) -> None:
    run = await FFmpegRun.start(ffmpeg, ONE_SECOND_AUDIO)
    await run.wait()
    assert run.command == ONE_SECOND_AUDIO
    assert run.started_at > 0


def test_default_injected_flags_add_nostdin_and_the_progress_url() -> None:
    assert default_injected_flags("pipe:7") == ["-nostdin", "-progress", "pipe:7"]


# ----------------------------------------------------------------------------- stop rules


IGNORES_SIGINT = """
import signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
print("ready", file=sys.stderr, flush=True)
time.sleep(30)
"""


async def test_a_child_ignoring_sigint_is_killed_after_the_grace(
    make_script: Callable[[str, str], str],
) -> None:
    stderr = Collector()
    run = await FFmpegRun.start(make_script("stubborn", IGNORES_SIGINT), [], on_stderr_line=stderr)
    await stderr.wait_for(lambda line: line == "ready")
    loop = asyncio.get_running_loop()
    began = loop.time()
    await run.stop("Memory limit exceeded", grace=0.5)
    info = await run.wait()
    assert loop.time() - began >= 0.5
    assert (info.returncode, info.signal, info.exec_state) == (-1, signal.SIGKILL, "killed")
    assert info.stop_reason == "Memory limit exceeded"


async def test_stop_is_idempotent_and_keeps_the_first_reason(ffmpeg: str) -> None:
    stderr = Collector()
    run = await FFmpegRun.start(ffmpeg, LIVE_VIDEO, on_stderr_line=stderr)
    await stderr.wait_for(lambda line: line.startswith("frame="))
    await asyncio.gather(run.stop("first", grace=2), run.stop("second", grace=2))
    await run.stop("third")
    info = await run.wait()
    assert info.exec_state == "finished"
    assert run.stop_reason == "first"
    assert info.stop_reason == "first"


async def test_stop_after_a_natural_end_changes_nothing(ffmpeg: str) -> None:
    run = await FFmpegRun.start(ffmpeg, ONE_SECOND_AUDIO)
    before = await run.wait()
    await run.stop("too late")
    assert await run.wait() == before
    assert run.stop_reason is None


# ----------------------------------------------------------------------------- spawning


async def test_missing_binary_raises_a_clear_spawn_error() -> None:
    with pytest.raises(FFmpegSpawnError) as caught:
        await FFmpegRun.start("/nonexistent/ffmpeg", ["-version"])
    assert str(caught.value) == "fork/exec /nonexistent/ffmpeg: no such file or directory"


async def test_bare_binary_name_not_on_path_raises_a_clear_spawn_error() -> None:
    with pytest.raises(FFmpegSpawnError, match='exec: "no-such-ffmpeg-here": executable file'):
        await FFmpegRun.start("no-such-ffmpeg-here", ["-version"])


async def test_bare_binary_name_is_looked_up_on_our_path(
    make_script: Callable[[str, str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    script = make_script("fake-ffmpeg", "")
    monkeypatch.setenv("PATH", script.rsplit("/", 1)[0])
    run = await FFmpegRun.start("fake-ffmpeg", [])
    assert (await run.wait()).exec_state == "finished"


PRINTS_ENV_ARGS_AND_STDIN = """
import json, os, sys
print(json.dumps({"env": dict(os.environ), "argv": sys.argv[1:],
                  "stdin": sys.stdin.read()}), file=sys.stderr)
print("to stdout")
"""


async def test_child_gets_only_the_inherited_variables_and_a_null_stdin(
    make_script: Callable[[str, str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_TOKEN", "do-not-leak")
    monkeypatch.setenv("TZ", "UTC")
    stderr = Collector()
    run = await FFmpegRun.start(
        make_script("env", PRINTS_ENV_ARGS_AND_STDIN), ["-i", "a b"], on_stderr_line=stderr
    )
    await run.wait()
    report = json.loads(stderr.lines[0])
    # Python itself may add LC_CTYPE; nothing of ours beyond the allow-list gets through.
    assert set(report["env"]) - {"LC_CTYPE"} <= set(INHERITED_ENV_VARS)
    assert report["env"]["TZ"] == "UTC"
    assert report["argv"][:2] == ["-nostdin", "-progress"]
    assert report["argv"][3:] == ["-i", "a b"]
    assert report["stdin"] == ""
    assert stderr.lines == [stderr.lines[0]]  # stdout goes nowhere


def test_child_environment_keeps_only_the_allow_list() -> None:
    parent = {"PATH": "/usr/bin", "HOME": "/root", "TZ": "Europe/Zurich", "SSL_CERT_FILE": "/c"}
    assert child_environment(parent) == {"TZ": "Europe/Zurich", "SSL_CERT_FILE": "/c"}


async def test_explicit_env_and_flags_factory_are_used(
    make_script: Callable[[str, str], str],
) -> None:
    stderr = Collector()
    run = await FFmpegRun.start(
        make_script("env", PRINTS_ENV_ARGS_AND_STDIN),
        ["x"],
        lambda url: ["-progress", url],
        on_stderr_line=stderr,
        env={"FOO": "bar"},
    )
    await run.wait()
    report = json.loads(stderr.lines[0])
    assert report["env"].get("FOO") == "bar"
    assert report["argv"][0] == "-progress"
    assert report["argv"][1].startswith("pipe:")
    assert report["argv"][2:] == ["x"]


async def test_a_failing_line_callback_does_not_stop_the_reading(ffmpeg: str) -> None:
    seen: list[str] = []

    def explode(line: str) -> None:
        seen.append(line)
        raise ValueError("consumer bug")

    run = await FFmpegRun.start(ffmpeg, ONE_SECOND_AUDIO, on_progress_line=explode)
    info = await run.wait()
    assert info.exec_state == "finished"
    assert seen[-1] == "progress=end"


async def test_a_nul_byte_in_an_argument_is_a_spawn_error(ffmpeg: str) -> None:
    with pytest.raises(FFmpegSpawnError, match="invalid argument"):
        await FFmpegRun.start(ffmpeg, ["-i", "a\0b"])


LEAVES_A_GRANDCHILD = """
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(10)"])
print(child.pid, file=sys.stderr, flush=True)
"""


async def test_a_grandchild_holding_the_pipes_open_does_not_hang_wait(
    make_script: Callable[[str, str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_module, "_DRAIN_TIMEOUT_S", 0.2)
    stderr = Collector()
    run = await FFmpegRun.start(
        make_script("forker", LEAVES_A_GRANDCHILD), [], on_stderr_line=stderr
    )
    try:
        info = await asyncio.wait_for(run.wait(), 3)
        assert info.exec_state == "finished"
    finally:
        await stderr.wait_for(lambda line: line.isdigit())
        os.kill(int(stderr.lines[0]), signal.SIGKILL)


async def test_a_failing_flags_factory_propagates_and_leaks_no_descriptor(ffmpeg: str) -> None:
    def broken(url: str) -> list[str]:
        raise RuntimeError("bad factory")

    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(RuntimeError, match="bad factory"):
        await FFmpegRun.start(ffmpeg, [], broken)
    assert len(os.listdir("/proc/self/fd")) == before
