"""Shared pieces of the §12 acceptance suites: fixture F, unique IDs, polling helpers."""

from __future__ import annotations

import copy
import re
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from polling import wait_until  # noqa: F401 (the suites import it from here)
from specdata import FIXTURE_F

# A cheap input for processes that really run (the machine has 2 cores).
LIGHT_INPUT_ADDRESS = "testsrc=size=160x120:rate=10"

JsonDict = dict[str, Any]

#: Whether ffmpeg states the frame rate ("25 fps") of raw lavfi video, by the codec it names it
#: with: stock FFmpeg 5.1 says "rawvideo" and prints only "25 tbr", which Core's parser reads
#: as fps 0 (spec §9.3); the bundled 9.x says "wrapped_avframe" and prints "25 fps".
_LAVFI_RATE_STATED = {"rawvideo": False, "wrapped_avframe": True}


def probed_lavfi_fps(codec: str, rate: int) -> int:
    """The probe's ``fps`` of a lavfi video input of ``rate`` frames/s, as the binary that
    probed it (named by ``codec``) prints it; an unknown codec fails the test."""
    return rate if _LAVFI_RATE_STATED[codec] else 0


def ffmpeg_major(log: list[str]) -> int:
    """The major version of the ffmpeg whose banner opens ``log`` (a probe's or report's log):
    "ffmpeg version 5.1.9-0+deb12u1 …" (Debian) or "ffmpeg version n9.0.2-…" (bundled)."""
    found = re.match(r"ffmpeg version n?(\d+)\.", log[0])
    assert found is not None, log[:1]
    return int(found.group(1))


def unique_id(prefix: str = "acc") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def fixture(**overrides: Any) -> JsonDict:
    """A deep copy of F with a unique ``id`` (unless overridden) and top-level overrides."""
    config = copy.deepcopy(FIXTURE_F)
    config["id"] = unique_id()
    config.update(copy.deepcopy(overrides))
    return config


def light_fixture(**overrides: Any) -> JsonDict:
    """F with a small, slow lavfi input encoding to the null muxer: for processes that run.

    F's ``-codec:v copy`` writes no packets with ffmpeg >= 7 (lavfi frames cannot be copied),
    so its frame counter stays 0; encoding ``wrapped_avframe`` costs nothing and counts frames.
    """
    config = fixture(**overrides)
    if "input" not in overrides:
        config["input"][0]["address"] = LIGHT_INPUT_ADDRESS
    if "output" not in overrides:
        config["output"][0]["options"] = ["-f", "null"]
    return config


def path_id(pid: str) -> str:
    """The process ID percent-encoded for use as one path segment (spec §1.3)."""
    return quote(pid, safe="")


def process_url(pid: str, suffix: str = "") -> str:
    return f"/api/v3/process/{path_id(pid)}{suffix}"


def create(api: httpx.Client, config: Mapping[str, Any]) -> JsonDict:
    """POST a config and insist on 200; returns the stored config."""
    response = api.post("/api/v3/process", json=config)
    assert response.status_code == 200, response.text
    body: JsonDict = response.json()
    return body


def state(api: httpx.Client, pid: str) -> JsonDict:
    response = api.get(process_url(pid, "/state"))
    assert response.status_code == 200, response.text
    body: JsonDict = response.json()
    return body


def wait_for(
    api: httpx.Client,
    pid: str,
    predicate: Callable[[JsonDict], bool],
    timeout: float = 10.0,
    interval: float = 0.1,
) -> JsonDict:
    """Poll ``/state`` until ``predicate(state)`` holds; returns that state (fails on timeout)."""
    deadline = time.monotonic() + timeout
    current = state(api, pid)
    while not predicate(current):
        if time.monotonic() >= deadline:
            raise AssertionError(f"state of {pid!r} did not match within {timeout} s: {current}")
        time.sleep(interval)
        current = state(api, pid)
    return current


def stays_running(api: httpx.Client, pid: str, seconds: float, interval: float) -> JsonDict:
    """Poll ``/state`` for ``seconds``; fail as soon as the process is not running. Returns
    the last state."""
    deadline = time.monotonic() + seconds
    current = state(api, pid)
    while time.monotonic() < deadline:
        assert current["exec"] == "running", current
        time.sleep(interval)
        current = state(api, pid)
    assert current["exec"] == "running", current
    return current


# The lifecycle suite was promised this name too.
wait_for_state = wait_for


def error_body(code: int, message: str, *details: str) -> JsonDict:
    """A datarhei error body ``{"code","message","details"}`` (spec §1.1)."""
    return {"code": code, "message": message, "details": list(details)}


def command(api: httpx.Client, pid: str, verb: str) -> httpx.Response:
    return api.put(process_url(pid, "/command"), json={"command": verb})


# --- datarhei's swagger as a response-shape oracle (design §7) -----------------------------

SWAGGER_FILE = "reference/datarhei-core-swagger.json"

# Where datarhei's swagger disagrees with what Core really sends (the spec wins), the definition
# is corrected before validating. Each entry: definition -> property -> the corrected schema.
SWAGGER_CORRECTIONS: dict[str, dict[str, dict[str, Any]]] = {
    # Core sends "avstream": null for every input that is not a playout/avstream input (spec
    # §2.4); swagger declares an AVstream object only.
    "api.ProgressIO": {
        "avstream": {"anyOf": [{"type": "null"}, {"$ref": "#/definitions/api.AVstream"}]},
    },
    # Core copies nil Go slices, so codecs without encoders/decoders carry null; the Python
    # client models them as ``None | list[str]``.
    "api.SkillsCodec": {
        "encoders": {"type": ["array", "null"], "items": {"type": "string"}},
        "decoders": {"type": ["array", "null"], "items": {"type": "string"}},
    },
}


def _tighten(schema: Any) -> Any:
    """Swagger plus what its formats imply: no undocumented keys, uints are not negative."""
    if isinstance(schema, list):
        return [_tighten(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    tightened = {key: _tighten(value) for key, value in schema.items()}
    if tightened.get("type") == "object" and "properties" in tightened:
        tightened.setdefault("additionalProperties", False)
    if str(tightened.get("format", "")).startswith("uint"):
        tightened["minimum"] = 0
    return tightened


def swagger_response_schema(swagger: Mapping[str, Any], method: str, path: str) -> JsonDict:
    """The (corrected, tightened) JSON schema of the 200 response of ``method path``."""
    definitions = copy.deepcopy(dict(swagger["definitions"]))
    for name, properties in SWAGGER_CORRECTIONS.items():
        definitions[name]["properties"].update(copy.deepcopy(properties))
    schema = swagger["paths"][path][method.lower()]["responses"]["200"]["schema"]
    return {**_tighten(copy.deepcopy(schema)), "definitions": _tighten(definitions)}
