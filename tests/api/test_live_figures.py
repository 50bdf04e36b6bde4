"""Live figures through ``GET /api/v3/process/{id}/state`` at ``-loglevel error``, on both
backends and on the oldest and newest ffmpeg we support (Debian's 5.1 and the bundled 9.0.2).

At that log level stock ffmpeg prints neither its stream dump nor its stats line on stderr:
the per-stream entries must come from its report, the counters from ``-progress`` and the
per-stream statistics files, the size of HLS outputs from the bytes memfs received. Every
process runs with a short stale timeout, so a figure the watchdog does not see as progress
would get it killed while the test watches it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import imageio_ffmpeg
import pytest
from acceptance_helpers import (
    JsonDict,
    create,
    path_id,
    stays_running,
    unique_id,
    wait_for,
    wait_until,
)

from backends import BackendServer, local_backend, require_runs
from livesrv import LiveServer
from tiers import unavailable

DEBIAN_FFMPEG = "/usr/bin/ffmpeg"
#: Seconds without progress after which a process would be stopped as stale.
STALE_S = 2
#: How long a process is watched for staying alive: beyond the stale timeout.
WATCH_S = STALE_S + 2.0
#: Waiting for the first figures: a Pod and its agent start first on the Kubernetes side.
FIGURES_TIMEOUT_S = 25.0
SOURCE = "testsrc=size=160x120:rate=25"


@pytest.fixture(scope="session", params=["5.1", "9.0.2"])
def ffmpeg_binary(request: pytest.FixtureRequest) -> str:
    """Debian's ffmpeg 5.1 (``make`` installs it) or the bundled build."""
    if request.param == "9.0.2":
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    if not os.access(DEBIAN_FFMPEG, os.X_OK):
        unavailable(f"{DEBIAN_FFMPEG} (Debian's ffmpeg 5.1) is missing: apt-get install ffmpeg")
    return DEBIAN_FFMPEG


@pytest.fixture(scope="session")
def local_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, LiveServer]]:
    """Embedded servers by ffmpeg binary, started when first asked for."""
    servers: dict[str, LiveServer] = {}
    try:
        yield servers
    finally:
        for running in servers.values():
            running.stop()


@pytest.fixture
def figures_backend(
    backend_server: BackendServer,
    ffmpeg_binary: str,
    local_servers: dict[str, LiveServer],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BackendServer]:
    """``backend_server`` running ``ffmpeg_binary``."""
    if backend_server.kind == "kubernetes":
        require_runs(backend_server)
        runner = backend_server.kube.pod_runner
        previous = runner.commands["ffmpeg"]
        if ffmpeg_binary == DEBIAN_FFMPEG:
            runner.commands["ffmpeg"] = [DEBIAN_FFMPEG]
        try:
            yield backend_server
        finally:
            runner.commands["ffmpeg"] = previous
        return
    running = local_servers.get(ffmpeg_binary)
    if running is None:
        directory = tmp_path_factory.mktemp("figures") / "data"
        running = LiveServer(data_dir=directory, env={"FFMPEG_OPERATOR_FFMPEG": ffmpeg_binary})
        local_servers[ffmpeg_binary] = running
        running.start()
    yield local_backend(running)


@pytest.fixture
def figures_api(figures_backend: BackendServer) -> Iterator[httpx.Client]:
    """A client of ``figures_backend``; the processes created here are deleted."""
    with figures_backend.live.client() as client:
        created: list[str] = []
        client.event_hooks["response"] = [_remember_created(created)]
        try:
            yield client
        finally:
            for pid in created:
                client.delete(f"/api/v3/process/{path_id(pid)}")


def _remember_created(created: list[str]) -> Any:
    def hook(response: httpx.Response) -> None:
        if response.request.method == "POST" and response.request.url.path == "/api/v3/process":
            response.read()
            if response.status_code == 200:
                created.append(response.json()["id"])

    return hook


@pytest.fixture
def encoded_source(figures_backend: BackendServer) -> str:
    """An H.264/AAC MPEG-TS file in ``{diskfs}``, for stream copies; its address there."""
    target = figures_backend.disk_files / "live-figures-source.ts"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                str(imageio_ffmpeg.get_ffmpeg_exe()), "-nostdin", "-loglevel", "error",
                "-f", "lavfi", "-i", SOURCE, "-f", "lavfi", "-i", "sine=r=48000",
                "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
                "-c:a", "aac", "-y", str(target),
            ],
            check=True,
            timeout=60,
        )  # fmt: skip
    return "{diskfs}/live-figures-source.ts"


def _config(inputs: list[JsonDict], output: JsonDict, **overrides: Any) -> JsonDict:
    config: JsonDict = {
        "id": unique_id("figures"),
        "reference": "",
        "options": ["-loglevel", "error"],
        "input": inputs,
        "output": [output],
        "autostart": True,
        "reconnect": False,
        "stale_timeout_seconds": STALE_S,
    }
    config.update(overrides)
    return config


def _lavfi(address: str, io_id: str = "in") -> JsonDict:
    return {"id": io_id, "address": address, "options": ["-re", "-f", "lavfi"]}


def _live(current: JsonDict) -> bool:
    progress = current["progress"]
    return bool(
        current["exec"] == "running"
        and progress["outputs"]
        and progress["bitrate_kbit"] > 0
        and progress["size_kb"] > 0
    )


def _start(api: httpx.Client, config: JsonDict) -> JsonDict:
    """Create, wait for live figures, then watch it run past its stale timeout."""
    create(api, config)
    wait_for(api, config["id"], _live, timeout=FIGURES_TIMEOUT_S, interval=0.25)
    return stays_running(api, config["id"], WATCH_S, interval=0.25)["progress"]


def _by_type(entries: list[JsonDict], kind: str) -> JsonDict:
    return next(entry for entry in entries if entry["type"] == kind)


# The stream dump comes from ffmpeg's report below -loglevel info, from its stderr at info and
# above (where the report would repeat it).
DUMP_SOURCES = pytest.mark.parametrize("loglevel", ["error", "info"], ids=["report", "stderr"])


@DUMP_SOURCES
def test_encode_shows_streams_fps_and_bitrate(figures_api: httpx.Client, loglevel: str) -> None:
    output = {
        "id": "out",
        "address": "-",
        "options": [
            "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast",
            "-c:a", "aac", "-f", "mpegts",
        ],
    }  # fmt: skip
    config = _config(
        [_lavfi(SOURCE), _lavfi("sine", "audio")], output, options=["-loglevel", loglevel]
    )

    progress = _start(figures_api, config)

    assert progress["fps"] > 10
    assert [(e["id"], e["type"]) for e in progress["inputs"]] == [
        ("in", "video"),
        ("audio", "audio"),
    ]
    video, audio = _by_type(progress["outputs"], "video"), _by_type(progress["outputs"], "audio")
    assert (video["id"], video["codec"], audio["codec"]) == ("out", "h264", "aac")
    assert video["frame"] > 0 and video["fps"] > 0
    assert video["size_kb"] > 0 and video["bitrate_kbit"] > 0


def test_stream_copy_of_an_encoded_source_shows_its_figures_and_is_never_stale(
    figures_api: httpx.Client, encoded_source: str
) -> None:
    source = {
        "id": "in",
        "address": encoded_source,
        "options": ["-re", "-stream_loop", "-1"],
    }
    output = {"id": "out", "address": "-", "options": ["-c", "copy", "-f", "mpegts"]}
    config = _config([source], output)

    progress = _start(figures_api, config)

    video = _by_type(progress["outputs"], "video")
    assert video["codec"] == "h264"
    assert video["frame"] > 0
    assert progress["fps"] > 10


def test_hls_to_memfs_shows_size_and_bitrate_and_is_never_stale(figures_api: httpx.Client) -> None:
    pid = unique_id("figures")
    output = {
        "id": "hls",
        "address": f"{{memfs}}/{pid}.m3u8",
        "options": [
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
            "-f", "hls", "-hls_time", "1", "-hls_list_size", "3", "-method", "PUT",
        ],
    }  # fmt: skip
    config = _config([_lavfi(SOURCE)], output, id=pid)

    progress = _start(figures_api, config)

    [entry] = progress["outputs"]
    assert (entry["format"], entry["codec"]) == ("hls", "h264")
    # Roughly what the server received: the segments of the run so far.
    listing = figures_api.get("/memfs").json()
    received_kb = sum(f["size_bytes"] for f in listing if f["name"].startswith(f"/{pid}")) / 1024
    assert progress["size_kb"] >= received_kb * 0.5
    assert entry["size_kb"] > 0 and entry["bitrate_kbit"] > 0


def test_audio_only_output_shows_size_and_bitrate_and_is_never_stale(
    figures_api: httpx.Client,
) -> None:
    output = {"id": "out", "address": "-", "options": ["-c:a", "aac", "-f", "adts"]}
    config = _config([_lavfi("sine=r=48000")], output)

    progress = _start(figures_api, config)

    [entry] = progress["outputs"]
    assert (entry["type"], entry["codec"]) == ("audio", "aac")
    assert entry["size_kb"] > 0 and entry["bitrate_kbit"] > 0
    assert progress["time"] > STALE_S


@DUMP_SOURCES
def test_filter_graph_output_shows_streams_and_fps(
    figures_api: httpx.Client, loglevel: str
) -> None:
    output = {
        "id": "out",
        "address": "-",
        "options": [
            "-filter_complex", "[0:v][1:v]hstack[v]", "-map", "[v]",
            "-c:v", "libx264", "-preset", "ultrafast", "-f", "mpegts",
        ],
    }  # fmt: skip
    inputs = [_lavfi(SOURCE), _lavfi("testsrc2=size=160x120:rate=25", "second")]
    config = _config(inputs, output, options=["-loglevel", loglevel])

    progress = _start(figures_api, config)

    [video] = progress["outputs"]
    assert (video["codec"], video["width"]) == ("h264", 320)
    assert video["frame"] > 0 and video["fps"] > 0
    assert progress["fps"] > 10


def test_the_report_shows_nothing_of_the_injected_report_file(figures_api: httpx.Client) -> None:
    output = {"id": "out", "address": "-", "options": ["-c:v", "libx264", "-f", "mpegts"]}
    config = _config([_lavfi(SOURCE)], output, options=[])
    create(figures_api, config)

    def prelude() -> list[str]:
        report = figures_api.get(f"/api/v3/process/{path_id(config['id'])}/report").json()
        lines: list[str] = report["prelude"] + [line for _, line in report["log"]]
        return lines if any(line.startswith("Output #0") for line in lines) else []

    lines = wait_until(prelude, timeout=FIGURES_TIMEOUT_S, what="the stream dump in the report")
    assert not [line for line in lines if "Report written to" in line or "started on" in line]
