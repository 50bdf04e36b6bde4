"""probe_skills() against the real bundled ffmpeg and against binaries that are not ffmpeg."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import imageio_ffmpeg
import pytest

import ffmpeg_operator.supervision.skills as runner
from ffmpeg_operator.core.skills import Skills, SkillsFormat, SkillsProtocol
from ffmpeg_operator.supervision.skills import SkillsProbeError, probe_skills


@pytest.fixture(scope="module")
def timed_skills() -> tuple[float, Skills]:
    started = time.monotonic()
    skills = probe_skills(imageio_ffmpeg.get_ffmpeg_exe())
    return time.monotonic() - started, skills


def test_skills_of_the_bundled_ffmpeg_are_complete(timed_skills: tuple[float, Skills]) -> None:
    _, skills = timed_skills

    assert skills.ffmpeg.version.count(".") == 2
    assert "libavcodec" in {lib.name for lib in skills.ffmpeg.libraries}
    assert "scale" in {f.id for f in skills.filter}
    assert "libx264" in (next(c for c in skills.codecs.video if c.id == "h264").encoders or [])
    assert SkillsFormat(id="hls", name="Apple HTTP Live Streaming") in skills.formats.muxers
    assert SkillsProtocol(id="http", name="http") in skills.protocols.output
    assert "lavfi" in {d.id for d in skills.devices.demuxers}


def test_skills_probe_takes_well_under_three_seconds(timed_skills: tuple[float, Skills]) -> None:
    elapsed, _ = timed_skills
    assert elapsed < 3.0


def test_missing_binary_is_a_skills_probe_error() -> None:
    with pytest.raises(SkillsProbeError, match="failed"):
        probe_skills("/nonexistent/ffmpeg")


def test_binary_without_a_version_is_refused_like_core(
    make_script: Callable[[str, str], str],
) -> None:
    fake = make_script("ffmpeg", "print('ffmpeg version N-112233-gdeadbeef')\n")

    with pytest.raises(SkillsProbeError, match="can't parse ffmpeg version info"):
        probe_skills(fake)


def test_each_topic_runs_with_hide_banner_and_a_minimal_environment(
    make_script: Callable[[str, str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = make_script(
        "ffmpeg",
        "import os, sys\n"
        "assert sys.argv[1] == '-hide_banner', sys.argv\n"
        "assert 'FFREPORT' not in os.environ\n"
        "if sys.argv[2] == '-version':\n"
        "    print('ffmpeg version 5.1 Copyright')\n"
        "elif sys.argv[2] == '-protocols':\n"
        "    print('Input:\\n  rtmp\\nOutput:\\n  rtmp')\n",
    )
    monkeypatch.setenv("FFREPORT", "file=/tmp/should-not-be-seen.log")

    skills = probe_skills(fake)

    assert skills.ffmpeg.version == "5.1.0"
    assert skills.protocols.input == [SkillsProtocol(id="rtmp", name="rtmp")]
    assert skills.filter == []


def test_a_hanging_topic_times_out(
    make_script: Callable[[str, str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "TOPIC_TIMEOUT", 0.5)
    fake = make_script("ffmpeg", "import time\ntime.sleep(30)\n")

    started = time.monotonic()
    with pytest.raises(SkillsProbeError, match="timed out"):
        probe_skills(fake)
    assert time.monotonic() - started < 5.0


def test_a_bare_binary_name_is_found_on_our_path(
    make_script: Callable[[str, str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = make_script("fakeffmpeg", "print('ffmpeg version 6.1.1 Copyright')\n")
    monkeypatch.setenv("PATH", str(Path(fake).parent))

    assert probe_skills("fakeffmpeg").ffmpeg.version == "6.1.1"
