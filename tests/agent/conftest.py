"""Fixtures for the agent tests: agents and ffmpegs started on demand, killed at the end."""

from __future__ import annotations

import itertools
import subprocess
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path

import pytest
from agent_harness import AgentProcess, running_agent, running_ffmpeg


@pytest.fixture
def start_agent(tmp_path: Path) -> Iterator[Callable[..., AgentProcess]]:
    """Start agents with extra CLI flags; each is killed at the end if still running."""
    with ExitStack() as stack:
        numbers = itertools.count()

        def start(*args: str) -> AgentProcess:
            directory = tmp_path / f"agent{next(numbers)}"
            directory.mkdir()
            return stack.enter_context(running_agent(directory, *args))

        yield start


@pytest.fixture
def start_ffmpeg() -> Iterator[Callable[[AgentProcess, Sequence[str]], subprocess.Popen[bytes]]]:
    """Start ffmpegs for an agent; each is killed at the end if still running."""
    with ExitStack() as stack:
        yield lambda agent, args: stack.enter_context(running_ffmpeg(agent, args))
