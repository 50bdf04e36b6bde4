"""Fixtures for the supervision tests: the bundled ffmpeg and tiny stand-in binaries."""

from __future__ import annotations

import stat
import sys
from collections.abc import Callable
from pathlib import Path

import imageio_ffmpeg
import pytest


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


@pytest.fixture
def make_script(tmp_path: Path) -> Callable[[str, str], str]:
    """Write an executable Python script (a fake "ffmpeg") and return its path."""

    def make(name: str, body: str) -> str:
        path = tmp_path / name
        # An absolute interpreter: ffmpeg children get no PATH.
        path.write_text(f"#!{sys.executable}\n{body}", encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
        return str(path)

    return make
