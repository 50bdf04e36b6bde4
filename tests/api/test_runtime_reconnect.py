"""Reconnect timing (spec §4.4): the next run starts ``reconnect_delay_seconds`` after an exit."""

from __future__ import annotations

import time

import httpx
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


def _one_second_run(delay: int) -> JsonDict:
    config = light_fixture(autostart=True, reconnect=True, reconnect_delay_seconds=delay)
    config["output"][0]["options"] = ["-t", "1", "-f", "null"]
    return config


def _report(api: httpx.Client, pid: str) -> JsonDict:
    body: JsonDict = api.get(process_url(pid, "/report")).json()
    return body


def _downtime(api: httpx.Client, pid: str, limit: float) -> float:
    """Seconds between ffmpeg's exit and the next run, measured by polling every 20 ms."""
    wait_for(api, pid, lambda s: s["exec"] == "running")
    wait_for(api, pid, lambda s: s["exec"] != "running", timeout=5, interval=0.02)
    went_down = time.monotonic()
    while state(api, pid)["exec"] != "running":
        assert time.monotonic() - went_down < limit, "no reconnect"
        time.sleep(0.02)
    return time.monotonic() - went_down


def test_reconnect_starts_the_next_run_after_exactly_the_delay(api: httpx.Client) -> None:
    config = _one_second_run(delay=2)
    create(api, config)

    downtime = _downtime(api, config["id"], limit=4)

    assert 1.8 <= downtime <= 2.4, downtime


def test_reconnect_delay_zero_restarts_at_once(api: httpx.Client) -> None:
    # The gap is too short to poll; count runs instead. Without -re a run reads its ten frames
    # at once and lasts ffmpeg's start-up (0.05-0.3 s; with -re its length depends on the
    # release: ffmpeg 6.1 and later start with a half-second burst, 5.1 does not), so three
    # archived runs within 2 s leave no room for two 1 s delays.
    config = _one_second_run(delay=0)
    config["input"][0]["options"] = ["-f", "lavfi"]
    create(api, config)
    created = time.monotonic()

    wait_until(lambda: len(_report(api, config["id"])["history"]) >= 3, 4, what="fourth run")

    assert time.monotonic() - created < 2.0


def _waiting_to_reconnect(current: JsonDict) -> bool:
    return current["exec"] == "finished" and current["reconnect_seconds"] >= 0


def test_stop_cancels_a_pending_reconnect(api: httpx.Client) -> None:
    config = _one_second_run(delay=1)
    pid = config["id"]
    create(api, config)
    wait_for(api, pid, _waiting_to_reconnect, timeout=5, interval=0.05)
    runs = len(_report(api, pid)["history"])

    assert command(api, pid, "stop").status_code == 200

    # Past the delay, nothing was started: no new run in the history, still finished.
    time.sleep(1.5)
    current = state(api, pid)
    assert (current["order"], current["exec"], current["reconnect_seconds"]) == (
        "stop",
        "finished",
        -1,
    )
    assert len(_report(api, pid)["history"]) == runs


def test_update_while_waiting_to_reconnect_starts_the_new_config_at_once(
    api: httpx.Client,
) -> None:
    config = _one_second_run(delay=5)
    pid = config["id"]
    create(api, config)
    wait_for(api, pid, _waiting_to_reconnect, timeout=5, interval=0.05)

    config["output"][0]["options"] = ["-f", "null"]
    assert api.put(process_url(pid), json=config).status_code == 200

    current = state(api, pid)
    assert (current["order"], current["exec"]) == ("start", "running")
    assert "-t" not in current["command"]
