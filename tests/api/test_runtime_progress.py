"""Progress where datarhei Core has none (spec §4.6, §9.4): quiet log levels, audio-only
outputs and ``-filter_complex`` graphs all count as progressing, so none is killed as stale."""

from __future__ import annotations

import httpx
from acceptance_helpers import JsonDict, create, light_fixture, stays_running, wait_for


def _progressing(current: JsonDict) -> bool:
    return bool(current["exec"] == "running" and current["progress"]["frame"] > 0)


def test_progress_counts_frames_and_fps_at_loglevel_error(api: httpx.Client) -> None:
    config = light_fixture(autostart=True, options=["-loglevel", "error"])
    config["output"][0]["options"] = ["-f", "null"]
    create(api, config)

    # fps is an average over completed one-second buckets: it needs a moment more.
    current = wait_for(api, config["id"], lambda s: _progressing(s) and s["progress"]["fps"] > 0)

    # The source runs at 10 fps; -re starts with a half-second burst.
    assert 5 <= current["progress"]["fps"] <= 20
    assert current["progress"]["time"] > 0


def test_audio_only_output_is_not_stopped_as_stale(api: httpx.Client) -> None:
    config = light_fixture(autostart=True, reconnect=False, stale_timeout_seconds=2)
    config["input"][0]["address"] = "anullsrc=r=8000:cl=mono"
    config["output"][0]["options"] = ["-codec:a", "pcm_s16le", "-f", "wav"]
    create(api, config)
    wait_for(api, config["id"], lambda s: s["exec"] == "running")

    final = stays_running(api, config["id"], 5, interval=0.2)

    assert final["progress"]["time"] >= 3
    assert final["progress"]["size_kb"] > 0


def test_filter_complex_with_two_inputs_reports_progress(api: httpx.Client) -> None:
    config = light_fixture(autostart=True, reconnect=False, stale_timeout_seconds=2)
    second = {**config["input"][0], "id": "second", "address": "testsrc2=size=160x120:rate=10"}
    config["input"].append(second)
    graph = ["-filter_complex", "[0:v][1:v]hstack[v]", "-map", "[v]"]
    config["output"][0]["options"] = [*graph, "-f", "null"]
    create(api, config)
    first = wait_for(api, config["id"], _progressing)

    final = stays_running(api, config["id"], 3, interval=0.2)

    assert final["progress"]["frame"] > first["progress"]["frame"]
