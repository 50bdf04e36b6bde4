"""Data of the datarhei behaviour spec shared by several test modules."""

from __future__ import annotations

from typing import Any

#: Base fixture F of spec §12 (datarhei Core's http/handler/api/fixtures/addProcess.json),
#: verbatim. Copy before changing nested values.
FIXTURE_F: dict[str, Any] = {
    "id": "test",
    "type": "ffmpeg",
    "options": [],
    "input": [
        {
            "address": "testsrc=size=1280x720:rate=25",
            "id": "video",
            "options": ["-f", "lavfi", "-re"],
        }
    ],
    "output": [{"address": "-", "id": "null", "options": ["-codec:v", "copy", "-f", "null"]}],
    "autostart": False,
    "reconnect": True,
    "reconnect_delay_seconds": 10,
    "stale_timeout_seconds": 10,
}
