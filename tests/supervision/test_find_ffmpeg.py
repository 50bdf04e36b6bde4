"""Choosing the ffmpeg binary: flag, environment variable, PATH, bundled build."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import imageio_ffmpeg
import pytest

from ffmpeg_operator.supervision import binary
from ffmpeg_operator.supervision.binary import ENV_VAR, FFmpegNotFound, find_ffmpeg


@pytest.fixture
def path_dir(tmp_path: Path, make_script: Callable[[str, str], str]) -> Path:
    """A directory holding an executable named ffmpeg, to put on PATH."""
    make_script("ffmpeg", "")
    return tmp_path


def test_explicit_path_wins_over_everything(
    path_dir: Path, make_script: Callable[[str, str], str]
) -> None:
    explicit = make_script("my-ffmpeg", "")
    environ = {ENV_VAR: "/nowhere/ffmpeg", "PATH": str(path_dir)}
    assert find_ffmpeg(explicit, environ) == explicit


def test_explicit_bare_name_is_looked_up_on_path(path_dir: Path) -> None:
    assert find_ffmpeg("ffmpeg", {"PATH": str(path_dir)}) == str(path_dir / "ffmpeg")


def test_explicit_value_that_does_not_exist_is_an_error_not_a_fallback() -> None:
    with pytest.raises(FFmpegNotFound, match="/nowhere/ffmpeg"):
        find_ffmpeg("/nowhere/ffmpeg", {})


def test_environment_variable_comes_before_path(
    path_dir: Path, make_script: Callable[[str, str], str]
) -> None:
    configured = make_script("env-ffmpeg", "")
    assert find_ffmpeg(None, {ENV_VAR: configured, "PATH": str(path_dir)}) == configured


def test_environment_variable_that_does_not_resolve_is_an_error() -> None:
    with pytest.raises(FFmpegNotFound, match=ENV_VAR):
        find_ffmpeg(None, {ENV_VAR: "/nowhere/ffmpeg"})


def test_ffmpeg_on_path_comes_before_the_bundled_one(path_dir: Path) -> None:
    assert find_ffmpeg(None, {"PATH": str(path_dir)}) == str(path_dir / "ffmpeg")


def test_bundled_ffmpeg_is_the_last_resort(tmp_path: Path) -> None:
    assert find_ffmpeg(None, {"PATH": str(tmp_path)}) == imageio_ffmpeg.get_ffmpeg_exe()


def test_no_ffmpeg_anywhere_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(binary, "_bundled_ffmpeg", lambda: None)
    with pytest.raises(FFmpegNotFound, match="no ffmpeg found"):
        find_ffmpeg(None, {"PATH": str(tmp_path)})


def test_bundled_lookup_failure_reads_as_none(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> str:
        raise RuntimeError("no binary for this platform")

    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", broken)
    assert binary._bundled_ffmpeg() is None


def test_default_environment_is_the_process_environment(
    path_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("PATH", str(path_dir))
    assert find_ffmpeg() == str(path_dir / "ffmpeg")
