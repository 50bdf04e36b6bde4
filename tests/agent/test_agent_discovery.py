"""Finding this Pod's ffmpeg among all processes, and its argv without our flags."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from ffmpeg_operator.agent.discovery import find_ffmpeg, strip_injected_flags

URL = "tcp://127.0.0.1:4711"


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Stand-ins for ffmpegs: the Python binary asleep, with a -progress URL in its argv."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


def _sleeper(progress_url: str) -> list[str]:
    return [sys.executable, "-c", "import time; time.sleep(30)", "-progress", progress_url]


def test_discovery_picks_the_process_with_our_progress_url(
    sleepers: list[subprocess.Popen[bytes]],
) -> None:
    sleepers.append(subprocess.Popen(_sleeper("tcp://127.0.0.1:4712")))
    ours = subprocess.Popen(_sleeper(URL))
    sleepers.append(ours)

    found = find_ffmpeg(sys.executable, URL)

    assert found is not None
    assert found.pid == ours.pid


def test_discovery_ignores_other_binaries_with_our_url(
    sleepers: list[subprocess.Popen[bytes]],
) -> None:
    sleepers.append(subprocess.Popen(_sleeper(URL)))

    assert find_ffmpeg("/usr/bin/ffmpeg", URL) is None


def test_injected_flags_in_front_are_stripped_from_the_command() -> None:
    cmdline = ["/usr/bin/ffmpeg", "-nostdin", "-progress", URL, "-i", "in.ts", "out.ts"]

    assert strip_injected_flags(cmdline, URL) == ["-i", "in.ts", "out.ts"]


def test_the_configs_own_progress_and_nostdin_stay_in_the_command() -> None:
    cmdline = ["ffmpeg", "-nostdin", "-progress", URL, "-i", "a", "-nostdin",
               "-progress", "pipe:1", "b"]  # fmt: skip

    assert strip_injected_flags(cmdline, URL) == ["-i", "a", "-nostdin", "-progress", "pipe:1", "b"]


def test_the_injected_vstats_file_is_stripped_too() -> None:
    injected = ["-nostdin", "-progress", URL, "-vstats_file", "/tmp/v.fifo"]
    cmdline = ["ffmpeg", *injected, "-i", "a", "b"]
    assert strip_injected_flags(cmdline, URL, "/tmp/v.fifo") == ["-i", "a", "b"]
