"""The embedded server answers over real HTTP with real ffmpeg."""

from __future__ import annotations

import time

import httpx


def test_created_process_reports_progress_at_loglevel_error(api: httpx.Client) -> None:
    config = {
        "id": "smoke-progress",
        "options": ["-loglevel", "error"],
        "input": [
            {
                "id": "in",
                "address": "testsrc=size=160x120:rate=25",
                "options": ["-f", "lavfi", "-re"],
            }
        ],
        "output": [{"id": "out", "address": "-", "options": ["-f", "null"]}],
    }
    assert api.post("/api/v3/process", json=config).status_code == 200
    deadline = time.monotonic() + 10
    frame = 0
    while time.monotonic() < deadline and frame == 0:
        state = api.get("/api/v3/process/smoke-progress/state").json()
        frame = state["progress"]["frame"]
        time.sleep(0.2)
    assert state["exec"] == "running"
    assert frame > 0
    assert "-progress" not in state["command"]
