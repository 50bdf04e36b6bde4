"""run_probe() and probe_process() (spec §9.5, §12 case 41) with ffmpeg and fake binaries."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ffmpeg_operator.core.skills import parse_version
from ffmpeg_operator.supervision.probe import PROBE_TIMEOUT, probe_process, run_probe

LAVFI_TESTSRC = ["-f", "lavfi", "-re", "-i", "testsrc=size=1280x720:rate=25"]

MakeScript = Callable[[str, str], str]


def lavfi_codecs(ffmpeg: str) -> set[str]:
    """Codec names the lavfi device reports for testsrc, by ffmpeg release.

    Core's case 41 (ffmpeg 5.1) says ``rawvideo``; newer lavfi devices hand out
    ``wrapped_avframe`` (9.0.2, bundled here). Releases in between may say either.
    """
    import subprocess

    done = subprocess.run([ffmpeg, "-version"], check=True, capture_output=True, text=True)
    major = int(parse_version(done.stdout).version.split(".")[0])
    if major <= 5:
        return {"rawvideo"}
    if major >= 9:
        return {"wrapped_avframe"}
    return {"rawvideo", "wrapped_avframe"}


async def test_probe_of_the_lavfi_fixture_matches_case_41(ffmpeg: str) -> None:
    probe = await probe_process(ffmpeg, LAVFI_TESTSRC)

    assert len(probe.streams) == 1
    stream = probe.streams[0]
    assert stream.url == "testsrc=size=1280x720:rate=25"
    assert stream.format == "lavfi"
    assert (stream.index, stream.stream) == (0, 0)
    assert stream.type == "video"
    assert stream.codec in lavfi_codecs(ffmpeg)
    assert stream.pix_fmt == "rgb24"
    assert (stream.width, stream.height) == (1280, 720)
    assert stream.language == "und"


async def test_probe_log_is_every_stderr_line(ffmpeg: str) -> None:
    probe = await probe_process(ffmpeg, LAVFI_TESTSRC)

    assert probe.log[0].startswith("ffmpeg version ")
    assert "Input #0, lavfi, from 'testsrc=size=1280x720:rate=25':" in probe.log
    assert probe.log[-1] == "At least one output file must be specified"


async def test_inputs_only_run_exits_with_code_1(ffmpeg: str) -> None:
    lines, returncode = await run_probe(ffmpeg, LAVFI_TESTSRC)

    assert returncode == 1
    assert lines[-1] == "At least one output file must be specified"


async def test_missing_input_file_fails_with_the_reason_in_the_lines(
    ffmpeg: str, tmp_path: Path
) -> None:
    lines, returncode = await run_probe(ffmpeg, ["-i", str(tmp_path / "missing.mp4")])

    # 1 on ffmpeg 5.1 (spec §9.4), 254 on the bundled 9.0.2.
    assert returncode in {1, 254}
    assert any("No such file or directory" in line for line in lines)


async def test_stderr_splits_on_cr_lf_and_crlf_and_drops_empty_lines(
    make_script: MakeScript,
) -> None:
    fake = make_script(
        "ffmpeg", "import sys\nsys.stderr.write('one\\rtwo\\r\\n\\nthree\\nlast')\nsys.exit(3)\n"
    )

    assert await run_probe(fake, []) == (["one", "two", "three", "last"], 3)


async def test_argv_is_passed_as_is_without_a_shell(make_script: MakeScript) -> None:
    fake = make_script(
        "ffmpeg", "import sys\nfor a in sys.argv[1:]:\n    print(a, file=sys.stderr)\n"
    )
    argv = ["-i", "a b; echo $HOME", "'quoted'"]

    lines, returncode = await run_probe(fake, argv)

    assert (lines, returncode) == (argv, 0)


async def test_a_probe_still_running_after_the_timeout_is_killed(make_script: MakeScript) -> None:
    fake = make_script(
        "ffmpeg",
        "import sys, time\nprint('Input #0, hls, from', file=sys.stderr, flush=True)\n"
        "time.sleep(30)\n",
    )

    started = time.monotonic()
    lines, returncode = await run_probe(fake, [], timeout=0.5)

    assert time.monotonic() - started < 5.0
    assert lines == ["Input #0, hls, from"]
    assert returncode == -9


def test_default_timeout_is_cores_20_seconds() -> None:
    assert PROBE_TIMEOUT == 20.0


async def test_cancelling_a_probe_kills_the_process(
    make_script: MakeScript, tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    fake = make_script(
        "ffmpeg",
        f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(30)\n",
    )
    task = asyncio.ensure_future(run_probe(fake, []))
    while not pid_file.exists() or not pid_file.read_text():
        await asyncio.sleep(0.02)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


async def test_a_binary_that_cannot_start_raises_oserror() -> None:
    with pytest.raises(OSError):
        await run_probe("/nonexistent/ffmpeg", [])


async def test_a_bare_binary_name_is_found_on_our_path_and_ffmpeg_gets_no_path(
    make_script: MakeScript, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = make_script(
        "fakeffmpeg", "import os, sys\nprint(os.environ.get('PATH'), file=sys.stderr)\n"
    )
    monkeypatch.setenv("PATH", str(Path(fake).parent))

    assert await run_probe("fakeffmpeg", []) == (["None"], 0)
