"""What a backend decided, read from its own timestamps, not from how fast a client sees it.

A loaded machine delays everything between a decision and a client's next poll (Pod start,
agent, ffmpeg, the API's read); those latencies belong in ``bench/``. These helpers read when
the supervisor (embedded) or the operator (Kubernetes) acted, to the second, as the backend
recorded it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from acceptance_helpers import process_url

from backends import BackendServer
from ffmpeg_operator.kube.names import cr_name


def _unix(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())


def _events(backend: BackendServer, pid: str) -> list[dict[str, Any]]:
    from kubeenv import NAMESPACE

    events = backend.kube.emulator.objects("v1/events", NAMESPACE)
    mine = [e for e in events if (e.get("involvedObject") or {}).get("name") == cr_name(pid)]
    return sorted(mine, key=_event_time)


def _event_time(event: dict[str, Any]) -> float:
    stamp = event.get("eventTime") or event.get("firstTimestamp") or event.get("lastTimestamp")
    return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()


def next_run_gap(backend: BackendServer, api: httpx.Client, pid: str) -> float:
    """Seconds from the end of the previous run to the creation of the latest one.

    Kubernetes: the operator's own events, the run's end as it saw it ("Finished", "Failed",
    "Killed": ``run N: ...``) to the next run's creation ("Reconnecting": ``run N+1:
    created``). Embedded: the previous run's last log line (its exit) to the latest run's
    ``created_at`` (when the supervisor spawned it), whole seconds.
    """
    if backend.kind == "kubernetes":
        events = _events(backend, pid)
        created = [e for e in events if e.get("reason") == "Reconnecting"]
        assert created, [(e.get("reason"), e.get("message")) for e in events]
        run = int(str(created[-1]["message"]).split(":")[0].removeprefix("run "))
        ends = [
            e for e in events
            if e.get("reason") in ("Finished", "Failed", "Killed")
            and str(e.get("message", "")).startswith(f"run {run - 1}:")
        ]  # fmt: skip
        assert ends, [(e.get("reason"), e.get("message")) for e in events]
        return _event_time(created[-1]) - _event_time(ends[0])
    report = api.get(process_url(pid, "/report")).json()
    previous = report["history"][-1]
    return int(report["created_at"]) - int(previous["log"][-1][0])


def seconds_until_line(api: httpx.Client, pid: str, text: str) -> int:
    """Seconds from the current run's start (its ``created_at``) to its first log line holding
    ``text``, by the timestamps the backend gave the lines."""
    report = api.get(process_url(pid, "/report")).json()
    stamps = [int(stamp) for stamp, line in report["log"] if text in line]
    assert stamps, report["log"]
    return stamps[0] - int(report["created_at"])
