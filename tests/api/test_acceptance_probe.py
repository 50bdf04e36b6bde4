"""Spec §12 acceptance, probing: GET /api/v3/process/{id}/probe (case 41; §2.8, §9.5)."""

from __future__ import annotations

import httpx
import pytest
from acceptance_helpers import (
    command,
    create,
    ffmpeg_major,
    fixture,
    light_fixture,
    probed_lavfi_fps,
    process_url,
    state,
)


@pytest.fixture
def api(backend_api: httpx.Client) -> httpx.Client:
    """Every case here is backend-independent: it runs on both backends."""
    return backend_api


# Stock FFmpeg 5.1 names the lavfi video codec "rawvideo"; the bundled 9.x says "wrapped_avframe".
LAVFI_VIDEO_CODECS = {"rawvideo", "wrapped_avframe"}
PROBE_IO_KEYS = [
    "url", "format", "index", "stream", "language", "type", "codec", "coder", "bitrate_kbps",
    "duration_sec", "fps", "pix_fmt", "width", "height", "sampling_hz", "layout", "channels",
]  # fmt: skip


def probe(api: httpx.Client, pid: str) -> httpx.Response:
    return api.get(process_url(pid, "/probe"))


def test_probe_of_the_lavfi_fixture_describes_the_stream(api: httpx.Client) -> None:
    pid = create(api, fixture())["id"]
    response = probe(api, pid)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["streams", "log"]
    assert len(body["streams"]) == 1
    stream = body["streams"][0]
    assert list(stream) == PROBE_IO_KEYS
    assert stream["codec"] in LAVFI_VIDEO_CODECS
    fps = probed_lavfi_fps(stream["codec"], 25)
    assert {**stream, "codec": "rawvideo"} == {
        "url": "testsrc=size=1280x720:rate=25", "format": "lavfi", "index": 0, "stream": 0,
        "language": "und", "type": "video", "codec": "rawvideo", "coder": "",
        "bitrate_kbps": 0, "duration_sec": 0, "fps": fps, "pix_fmt": "rgb24",
        "width": 1280, "height": 720, "sampling_hz": 0, "layout": "", "channels": 0,
    }  # fmt: skip


def test_probe_log_is_the_stderr_of_an_input_only_run(api: httpx.Client) -> None:
    pid = create(api, fixture())["id"]
    log = probe(api, pid).json()["log"]
    assert log[0].startswith("ffmpeg version ")
    assert "Input #0, lavfi, from 'testsrc=size=1280x720:rate=25':" in log
    assert log[-1] == "At least one output file must be specified"


def test_probe_lists_one_entry_per_input_stream(api: httpx.Client) -> None:
    config = fixture()
    config["input"].append(
        {"id": "audio", "address": "anullsrc=r=48000:cl=mono", "options": ["-f", "lavfi"]}
    )
    pid = create(api, config)["id"]
    streams = probe(api, pid).json()["streams"]
    assert [(s["index"], s["stream"], s["type"]) for s in streams] == [
        (0, 0, "video"),
        (1, 0, "audio"),
    ]
    audio = streams[1]
    assert (audio["codec"], audio["sampling_hz"], audio["layout"]) == ("pcm_u8", 48000, "mono")
    assert audio["bitrate_kbps"] == 384
    # Stock-mode parsing never fills channels (§9.5).
    assert (audio["channels"], audio["coder"], audio["width"], audio["fps"]) == (0, "", 0, 0)


def test_probe_of_unknown_process_is_200_with_the_error_in_the_log(api: httpx.Client) -> None:
    response = probe(api, "acc-unknown")
    assert response.status_code == 200
    assert response.json() == {"streams": [], "log": ["Unknown process ID (acc-unknown)"]}


def test_probe_of_unknown_id_with_slash_names_the_decoded_id(api: httpx.Client) -> None:
    response = probe(api, "acc/unknown id")
    assert response.json() == {"streams": [], "log": ["Unknown process ID (acc/unknown id)"]}


def test_probe_of_missing_input_file_has_no_streams(api: httpx.Client) -> None:
    config = fixture(input=[{"id": "in", "address": "/nonexistent/acc-probe.mp4"}])
    pid = create(api, config)["id"]
    response = probe(api, pid)
    assert response.status_code == 200
    body = response.json()
    assert body["streams"] == []
    assert any("/nonexistent/acc-probe.mp4" in line for line in body["log"])


def test_probe_resolves_references_like_the_command(api: httpx.Client) -> None:
    source = create(api, fixture())
    config = fixture(input=[{"id": "in", "address": f"#{source['id']}:output=null"}])
    create(api, config)
    assert state(api, config["id"])["command"][:2] == ["-i", "-"]
    # The probe runs "-i -" too, reading the null device as stdin: ffmpeg finds no data.
    body = probe(api, config["id"]).json()
    assert body["streams"] == []
    # ffmpeg 5.1 names the input by its protocol ("pipe:"); the bundled 9.x by the address.
    if ffmpeg_major(body["log"]) < 6:
        assert "pipe:: Invalid data found when processing input" in body["log"]
    else:
        assert "Error opening input file -." in body["log"]


def test_probe_works_while_the_process_runs(api: httpx.Client) -> None:
    config = create(api, light_fixture(reconnect=False))
    assert command(api, config["id"], "start").status_code == 200
    streams = probe(api, config["id"]).json()["streams"]
    assert [(s["width"], s["height"], s["fps"]) for s in streams] == [
        (160, 120, probed_lavfi_fps(streams[0]["codec"], 10))
    ]
    assert state(api, config["id"])["order"] == "start"
