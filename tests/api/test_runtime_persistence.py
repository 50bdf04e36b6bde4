"""A restarted server runs what was running before and leaves stopped processes stopped.

Orders, configs and metadata live in ``db.json``, written on every change of intent, so a
``kill -9`` in the middle of operation loses nothing either. ffmpeg children of a killed server
must not survive it: the new server starts its own, and a leftover would write to the same
outputs twice.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from acceptance_helpers import (
    JsonDict,
    command,
    create,
    light_fixture,
    process_url,
    state,
    wait_for,
    wait_until,
)

from livesrv import LiveServer


def _process(**overrides: object) -> JsonDict:
    config = light_fixture(**overrides)
    config["output"][0]["options"] = ["-f", "null"]
    return config


def _ffmpeg_pids_of(pid: str) -> set[int]:
    """PIDs of ffmpeg processes whose command line mentions the process ID ``pid``."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
        except OSError:
            continue
        if argv and b"ffmpeg" in argv[0] and any(pid.encode() in arg for arg in argv):
            found.add(int(entry.name))
    return found


def _is_running(current: JsonDict) -> bool:
    return bool(current["exec"] == "running" and current["progress"]["frame"] > 0)


@pytest.mark.parametrize("kill", [False, True], ids=["graceful", "kill-9"])
def test_restarted_server_restores_orders_configs_and_metadata(
    fresh_server: LiveServer, kill: bool
) -> None:
    running = _process(autostart=True)
    # The ID goes into ffmpeg's argv so the test can find that ffmpeg in /proc.
    running["output"][0]["options"] = ["-metadata", f"comment={running['id']}", "-f", "null"]
    stopped = _process(autostart=False)
    with fresh_server.client() as api:
        for config in (running, stopped):
            create(api, config)
            api.put(process_url(config["id"], "/metadata/tag"), json={"of": config["id"]})
        wait_for(api, running["id"], _is_running)
        before = {
            c["id"]: api.get(process_url(c["id"], "/config")).json() for c in (running, stopped)
        }
        old_children = _ffmpeg_pids_of(running["id"])
        assert old_children

    fresh_server.restart(kill=kill)

    with fresh_server.client() as api:
        after = wait_for(api, running["id"], _is_running)
        assert after["order"] == "start"
        assert (state(api, stopped["id"])["order"], state(api, stopped["id"])["exec"]) == (
            "stop",
            "finished",
        )
        for config in (running, stopped):
            pid = config["id"]
            assert api.get(process_url(pid, "/config")).json() == before[pid]
            assert api.get(process_url(pid, "/metadata")).json() == {"tag": {"of": pid}}
    # Exactly one ffmpeg for the process: the old one is gone, a new one runs.
    wait_until(lambda: not (_ffmpeg_pids_of(running["id"]) & old_children), 3, what="old exit")
    assert len(_ffmpeg_pids_of(running["id"])) == 1


def test_stop_before_a_crash_is_kept(fresh_server: LiveServer) -> None:
    config = _process(autostart=True)
    with fresh_server.client() as api:
        create(api, config)
        wait_for(api, config["id"], _is_running)
        assert command(api, config["id"], "stop").status_code == 200

    fresh_server.restart(kill=True)

    with httpx.Client(base_url=fresh_server.base_url) as api:
        current = state(api, config["id"])
        assert (current["order"], current["exec"]) == ("stop", "finished")
