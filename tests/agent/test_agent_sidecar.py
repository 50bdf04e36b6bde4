"""The agent as a process next to a real ffmpeg, the way the Pod runs them."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator, Sequence

import pytest
from agent_harness import (
    TESTSRC,
    AgentProcess,
    free_port,
    poll,
    running_agent,
    running_ffmpeg,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(40)]

StartAgent = Callable[..., AgentProcess]
StartFFmpeg = Callable[[AgentProcess, Sequence[str]], subprocess.Popen[bytes]]

STREAM_ARGS = [*TESTSRC, "-f", "null", "-"]


@pytest.fixture(scope="module")
def streaming(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """An agent whose ffmpeg streams a live test source until the module ends."""
    with (
        running_agent(tmp_path_factory.mktemp("streaming")) as agent,
        running_ffmpeg(agent, STREAM_ARGS),
    ):
        poll(lambda: agent.state()["progress"]["fps"] > 0, 15, "fps > 0 in /state")
        yield agent


def test_progress_from_ffmpeg_reaches_state(streaming: AgentProcess) -> None:
    state = streaming.state()

    assert state["order"] == "start"
    assert state["exec"] == "running"
    assert state["progress"]["frame"] > 0
    assert state["progress"]["fps"] > 0
    assert state["memory_bytes"] > 0
    assert state["progress_updated_at"] is not None
    assert state["stop_reason"] is None


def test_state_command_is_ffmpegs_argv_without_the_injected_flags(
    streaming: AgentProcess,
) -> None:
    assert streaming.state()["command"] == STREAM_ARGS


def test_metrics_expose_the_live_series(streaming: AgentProcess) -> None:
    response = streaming.get("/metrics")

    assert response.status_code == 200
    samples = {
        line.split("{")[0]: float(line.rsplit(" ", 1)[1])
        for line in response.text.splitlines()
        if line and not line.startswith("#")
    }
    for name in (
        "ffmpeg_process_fps",
        "ffmpeg_process_bitrate_kbit",
        "ffmpeg_process_cpu_usage_percent",
        "ffmpeg_process_memory_bytes",
        "ffmpeg_process_frame",
        "ffmpeg_process_stale_seconds",
    ):
        assert name in samples, name
    assert samples["ffmpeg_process_frame"] > 0
    assert samples["ffmpeg_process_memory_bytes"] > 0
    assert 'ffmpeg_process_fps{id="agent-test"}' in response.text


def test_ffmpeg_without_progress_is_killed_after_the_stale_timeout(
    start_agent: StartAgent, start_ffmpeg: StartFFmpeg
) -> None:
    agent = start_agent("--stale-timeout-seconds", "2")
    # Waits for an HTTP client that never comes: connected to the agent, but no progress.
    ffmpeg = start_ffmpeg(agent, ["-listen", "1", "-i", f"http://127.0.0.1:{free_port()}",
                                  "-f", "null", "-"])  # fmt: skip

    message = poll(agent.termination_message, 15, "the termination message")

    assert message["killedBy"] == "stale"
    assert message["reason"].startswith("Stale timeout after 2 s")
    ffmpeg.wait(timeout=10)
    state = poll(
        lambda: (s := agent.state())["exec"] in ("finished", "killed") and s, 5, "the exit"
    )
    assert state["stop_reason"] == message["reason"]


def test_memory_over_the_limit_kills_ffmpeg(
    start_agent: StartAgent, start_ffmpeg: StartFFmpeg
) -> None:
    agent = start_agent("--limit-memory-mbytes", "1", "--limit-waitfor-seconds", "0")
    ffmpeg = start_ffmpeg(agent, STREAM_ARGS)

    message = poll(agent.termination_message, 15, "the termination message")

    assert message["killedBy"] == "limit"
    assert message["reason"].startswith("Memory limit exceeded")
    ffmpeg.wait(timeout=10)  # stopped: it exits within the 5 s grace
    poll(lambda: agent.state()["exec"] in ("finished", "killed"), 5, "the exit in /state")


def test_sigterm_writes_the_termination_message_and_exits_zero(
    start_agent: StartAgent, start_ffmpeg: StartFFmpeg
) -> None:
    agent = start_agent()
    start_ffmpeg(agent, [*TESTSRC, "-t", "1.5", "-f", "null", "-"])
    poll(lambda: agent.state()["exec"] == "finished", 15, "ffmpeg's exit in /state")

    returncode = agent.terminate()

    assert returncode == 0
    assert agent.termination_message() == {
        "reason": "ffmpeg exited with status 0",
        "exitCode": 0,
        "killedBy": None,
    }


def test_a_run_too_short_to_be_found_still_ends_in_state(
    start_agent: StartAgent, start_ffmpeg: StartFFmpeg
) -> None:
    agent = start_agent()
    # No -re: ten frames take milliseconds, less than one discovery poll.
    ffmpeg = start_ffmpeg(agent, ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10",
                                  "-frames:v", "10", "-f", "null", "-"])  # fmt: skip
    ffmpeg.wait(timeout=10)

    state = poll(lambda: (s := agent.state())["exec"] != "starting" and s, 5, "the end")

    assert state["exec"] == "finished"
    assert state["progress"]["frame"] == 0
