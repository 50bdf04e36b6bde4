"""Spec §12 lifecycle cases (11, 24, 26, 29–33, 38, 42) over real HTTP with real ffmpeg.

Every process uses a small, paced lavfi source (see ``light_fixture``) so the 2-core machine
stays responsive; waits poll ``/state`` with deadlines instead of sleeping.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from acceptance_helpers import (
    JsonDict,
    command,
    create,
    light_fixture,
    path_id,
    process_url,
    state,
    wait_for,
    wait_until,
)
from decisions import next_run_gap, seconds_until_line

from backends import BackendServer
from livesrv import free_port

# Every case runs ffmpeg: on Kubernetes that takes the operator (and the pod runner).
pytestmark = pytest.mark.needs_operator


@pytest.fixture
def api(backend_api: httpx.Client) -> httpx.Client:
    """Every case here is backend-independent: it runs on both backends."""
    return backend_api


def _running(current: JsonDict) -> bool:
    return bool(current["exec"] == "running")


def _not_running(current: JsonDict) -> bool:
    return current["exec"] in ("finished", "failed", "killed")


def _report(api: httpx.Client, pid: str) -> JsonDict:
    response = api.get(process_url(pid, "/report"))
    assert response.status_code == 200, response.text
    body: JsonDict = response.json()
    return body


def _log_lines(report: JsonDict) -> list[str]:
    return [line for _, line in report["log"]]


def _process(**overrides: Any) -> JsonDict:
    """F with the light input, encoding to the null muxer.

    F's ``-codec:v copy`` writes no packets with ffmpeg ≥ 7 (lavfi frames cannot be copied),
    so its frame counter stays 0; encoding ``wrapped_avframe`` costs nothing and counts frames.
    """
    config = light_fixture(**overrides)
    config["output"][0]["options"] = ["-f", "null"]
    return config


def _one_second_output(**overrides: Any) -> JsonDict:
    """A process whose ffmpeg ends by itself after one second of output."""
    config = _process(**overrides)
    config["output"][0]["options"] = ["-t", "1", "-f", "null"]
    return config


def _with_progress(current: JsonDict) -> bool:
    return _running(current) and current["progress"]["frame"] > 0


# ---------------------------------------------------------------------------------- case 11


def test_omitted_autostart_starts_the_process_at_once(api: httpx.Client) -> None:
    config = _process()
    del config["autostart"]
    create(api, config)
    assert state(api, config["id"])["order"] == "start"
    wait_for(api, config["id"], _running, timeout=5)


# ---------------------------------------------------------------------------------- case 24


def test_update_of_a_running_process_restarts_it_and_keeps_metadata_history(
    api: httpx.Client, backend_server: BackendServer
) -> None:
    config = _process(autostart=True, reconnect=False, options=["-y"])
    pid = config["id"]
    config["output"][0].update(
        address="{diskfs}/{processid}.ts",
        options=["-codec:v", "mpeg2video", "-f", "mpegts"],
        cleanup=[{"pattern": "diskfs:/{processid}.ts", "purge_on_delete": True}],
    )
    old_file = backend_server.disk_files / f"{pid}.ts"
    create(api, config)
    wait_until(old_file.exists, 10, what="ts file")
    # A second run puts the first into the report history.
    assert command(api, pid, "stop").status_code == 200
    assert command(api, pid, "start").status_code == 200
    wait_for(api, pid, _running)
    assert api.put(process_url(pid, "/metadata/owner"), json={"team": 7}).status_code == 200
    history = _report(api, pid)["history"]
    assert len(history) == 1

    config["output"][0]["address"] = "{diskfs}/{processid}_new.ts"
    response = api.put(process_url(pid), json=config)

    assert response.status_code == 200, response.text
    after = state(api, pid)
    assert after["order"] == "start"
    assert after["exec"] == "running"
    assert f"{backend_server.disk_dir}/{pid}_new.ts" in after["command"]
    assert not old_file.exists(), "purge_on_delete of the replaced process must delete its files"
    assert api.get(process_url(pid, "/metadata")).json() == {"owner": {"team": 7}}
    assert _report(api, pid)["history"] == history


# ---------------------------------------------------------------------------------- case 26


@pytest.mark.kubernetes_xfail(
    reason="Kubernetes stops a run Pod with SIGTERM: ffmpeg logs 'received signal 15', not 2"
)
def test_stop_ends_ffmpeg_with_sigint_within_the_grace(api: httpx.Client) -> None:
    config = _process(autostart=True)
    pid = config["id"]
    create(api, config)
    wait_for(api, pid, _with_progress)

    began = time.monotonic()
    response = command(api, pid, "stop")
    took = time.monotonic() - began

    assert response.status_code == 200
    assert response.json() == "OK"
    assert took < 5
    after = state(api, pid)
    assert (after["order"], after["exec"]) == ("stop", "finished")
    # ffmpeg's own words for exit status 255 after SIGINT.
    assert any("received signal 2" in line for line in _log_lines(_report(api, pid)))


# ---------------------------------------------------------------------------------- case 29


def test_natural_end_without_reconnect_stays_down_until_stop_and_start(
    api: httpx.Client,
) -> None:
    config = _one_second_output(autostart=True, reconnect=False)
    pid = config["id"]
    create(api, config)
    wait_for(api, pid, _running)
    ended = wait_for(api, pid, _not_running, timeout=6)
    assert (ended["exec"], ended["order"], ended["reconnect_seconds"]) == ("finished", "start", -1)
    run_started = _report(api, pid)["created_at"]

    for verb in ("start", "restart"):
        assert command(api, pid, verb).status_code == 200
        # Either verb would have spawned before answering; the same run is still the latest.
        assert state(api, pid)["exec"] == "finished", verb
        assert _report(api, pid)["created_at"] == run_started, verb

    assert command(api, pid, "stop").status_code == 200
    assert command(api, pid, "start").status_code == 200
    assert state(api, pid)["exec"] == "running"
    assert len(_report(api, pid)["history"]) == 1


# ---------------------------------------------------------------------------------- case 30


def test_reconnect_counts_down_then_runs_again(
    api: httpx.Client, backend_server: BackendServer
) -> None:
    delay = 3
    config = _one_second_output(autostart=True, reconnect=True, reconnect_delay_seconds=delay)
    pid = config["id"]
    create(api, config)
    wait_for(api, pid, _running)
    down = wait_for(api, pid, _not_running, timeout=10, interval=0.05)
    # (when the API was asked, what it said): the countdown is the backend's own figure; when
    # a loaded machine lets the test see the first "down" state is not.
    seen = [(time.monotonic(), down["reconnect_seconds"])]
    current = down
    # Generous: how fast a loaded machine brings the next run up is the bench's business.
    deadline = time.monotonic() + delay + 15
    while not _running(current):
        assert time.monotonic() < deadline, f"no reconnect: {current}"
        time.sleep(0.05)
        current = state(api, pid)
        if not _running(current):
            seen.append((time.monotonic(), current["reconnect_seconds"]))

    # What the backend decided, by its own clock: the next run was created the delay after
    # the end, not before (within the clocks' resolution), and not much later.
    assert delay - 0.5 <= next_run_gap(backend_server, api, pid) <= delay + 1
    assert current["reconnect_seconds"] == -1
    countdown = [value for _, value in seen]
    # -1 once the wait is over and the next run is still starting (a run Pod being created).
    assert all(-1 <= value <= delay for value in countdown), countdown
    assert countdown == sorted(countdown, reverse=True), countdown
    # It counts down in whole seconds: an answer of n >= 1 is followed 1.5 s or more later
    # by one of at most n - 1 (0 lasts until the next run is seen, however long that takes).
    waiting = [(at, value) for at, value in seen if value >= 0]
    for earlier, before in waiting:
        for later, after in waiting:
            if before >= 1 and later - earlier >= 1.5:
                assert after <= before - 1, countdown
    assert waiting and waiting[-1][1] <= 1, countdown


# ---------------------------------------------------------------------------------- case 31


def test_restart_with_reconnect_is_down_then_back_after_the_delay(
    api: httpx.Client, backend_server: BackendServer
) -> None:
    delay = 2
    config = _process(autostart=True, reconnect=True, reconnect_delay_seconds=delay)
    pid = config["id"]
    create(api, config)
    # Progress shows ffmpeg has its SIGINT handler; before that SIGINT kills it (exec killed).
    wait_for(api, pid, _with_progress)

    assert command(api, pid, "restart").status_code == 200

    after = state(api, pid)
    assert (after["exec"], after["order"]) == ("finished", "start")
    assert 0 <= after["reconnect_seconds"] <= delay
    wait_for(api, pid, _running, timeout=delay + 15, interval=0.05)
    # The backend's own timestamps: the new run was created the delay after the restart's end.
    assert delay - 0.5 <= next_run_gap(backend_server, api, pid) <= delay + 1


# ---------------------------------------------------------------------------------- case 32


def test_stale_timeout_stops_an_input_that_never_delivers(api: httpx.Client) -> None:
    # ffmpeg waits for an HTTP client that never comes: no frame, no progress at all.
    config = _process(autostart=True, reconnect=False, stale_timeout_seconds=2)
    config["input"][0].update(
        address=f"http://127.0.0.1:{free_port()}/never", options=["-listen", "1"]
    )
    pid = config["id"]
    create(api, config)
    wait_for(api, pid, _running, timeout=15)

    stopped = wait_for(api, pid, _not_running, timeout=15, interval=0.05)

    # Decided after 2 s without progress, by the run's own log timestamps (whole seconds).
    assert 1 <= seconds_until_line(api, pid, "Stale timeout") <= 4
    assert stopped["order"] == "start"
    assert any("Stale timeout" in line for line in _log_lines(_report(api, pid)))


# ---------------------------------------------------------------------------------- case 33


def test_memory_limit_without_waitfor_stops_at_the_first_sample(api: httpx.Client) -> None:
    limits = {"cpu_usage": 0, "memory_mbytes": 1, "waitfor_seconds": 0}
    config = _process(autostart=True, reconnect=False, limits=limits)
    pid = config["id"]
    create(api, config)

    stopped = wait_for(api, pid, _not_running, timeout=15, interval=0.05)

    # Stopped at the first sample (one a second), by the run's own log timestamps.
    assert seconds_until_line(api, pid, "Memory limit exceeded") <= 2
    assert stopped["order"] == "start"
    assert api.get(process_url(pid, "/config")).json()["limits"]["memory_mbytes"] == 1
    assert any("Memory limit exceeded" in line for line in _log_lines(_report(api, pid)))


# ---------------------------------------------------------------------------------- case 38


# Half-second HLS segments PUT into memfs (a keyframe every 5 frames at 10 fps).
# fmt: off
_HLS_TO_MEMFS = [
    "-codec:v", "mpeg2video", "-g", "5",
    "-f", "hls", "-hls_time", "0.5", "-hls_list_size", "3",
    "-hls_segment_filename", "{memfs}/{processid}_%d.ts", "-method", "PUT",
]
# fmt: on


def _segments(api: httpx.Client, pid: str) -> list[int]:
    """Numbers of this process's HLS segments in memfs, ascending."""
    names = [entry["name"] for entry in api.get("/memfs").json()]
    prefix = f"/{pid}_"
    return sorted(
        int(n[len(prefix) : -3]) for n in names if n.startswith(prefix) and n.endswith(".ts")
    )


def test_cleanup_keeps_the_newest_hls_segments_in_memfs(api: httpx.Client) -> None:
    config = _process(autostart=True, reconnect=False)
    pid = config["id"]
    config["output"][0].update(
        address="{memfs}/{processid}.m3u8",
        options=_HLS_TO_MEMFS,
        cleanup=[{"pattern": "memfs:/{processid}_*.ts", "max_files": 3}],
    )
    create(api, config)
    wait_until(lambda: (_segments(api, pid) or [0])[-1] >= 6, 10, what="seven segments")

    playlist = api.get(f"/memfs/{path_id(pid)}.m3u8")
    assert playlist.status_code == 200
    assert playlist.text.startswith("#EXTM3U")
    assert f"{pid}_" in playlist.text
    # Once no segment is added any more, the next cleanup pass leaves the newest three.
    assert command(api, pid, "stop").status_code == 200
    newest = _segments(api, pid)[-3:]
    wait_until(lambda: _segments(api, pid) == newest, 3, what="three segments left")


# ---------------------------------------------------------------------------------- case 42


def test_report_keeps_previous_run_and_logs_without_progress_lines(api: httpx.Client) -> None:
    config = _process()
    pid = config["id"]
    create(api, config)
    for _ in range(2):
        assert command(api, pid, "start").status_code == 200
        wait_for(api, pid, _with_progress)
        assert command(api, pid, "stop").status_code == 200

    report = _report(api, pid)

    assert len(report["history"]) == 1
    now = time.time()
    for entry in [report, *report["history"]]:
        assert entry["prelude"]
        assert entry["log"]
        for logged in entry["log"]:
            assert isinstance(logged, list) and len(logged) == 2
            stamp, line = logged
            assert isinstance(stamp, str) and stamp.isdigit()
            assert now - 60 <= int(stamp) <= now + 1
            assert not line.startswith("frame=")
