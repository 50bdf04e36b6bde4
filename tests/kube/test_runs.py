"""What the operator reads from a run Pod (kube/runs.py)."""

from __future__ import annotations

import json
from typing import Any

from kube_examples import minimal_cr

from ffmpeg_operator.core.models import ProcessConfig
from ffmpeg_operator.kube.pod import OperatorSettings, build_run_pod
from ffmpeg_operator.kube.runs import exit_reason, observe_run_pod


def _no_refs(_pid: str) -> ProcessConfig | None:
    return None


def _pod(run: int = 3) -> dict[str, Any]:
    return build_run_pod(minimal_cr(), run, OperatorSettings(), _no_refs).manifest


def _terminated(code: int, **extra: Any) -> dict[str, Any]:
    return {
        "terminated": {
            "exitCode": code,
            "startedAt": "2026-01-01T00:00:00Z",
            "finishedAt": "2026-01-01T00:01:00Z",
            **extra,
        }
    }


def test_a_fresh_run_pod_is_a_waiting_run() -> None:
    observed = observe_run_pod(_pod())

    assert observed is not None
    assert (observed.run, observed.name, observed.ffmpeg) == (3, "minimal-3", "waiting")
    assert observed.owner_uid == minimal_cr()["metadata"]["uid"]
    assert observed.command[-3:] == ("-f", "null", "-")
    assert not observed.ended


def test_a_pod_without_the_run_labels_is_not_a_run() -> None:
    pod = _pod()
    del pod["metadata"]["labels"]["ffmpeg-operator.io/run"]

    assert observe_run_pod(pod) is None


def test_the_agents_termination_message_tells_how_the_run_ended() -> None:
    pod = _pod()
    message = {"reason": "Memory limit exceeded", "exitCode": 255, "killedBy": "limit"}
    pod["status"] = {
        "phase": "Failed",
        "podIP": "10.1.2.3",
        "containerStatuses": [{"name": "ffmpeg", "state": _terminated(255, reason="Error")}],
        "initContainerStatuses": [
            {"name": "agent", "state": _terminated(0, message=json.dumps(message))}
        ],
    }

    observed = observe_run_pod(pod)

    assert observed is not None
    assert observed.ended
    assert (observed.exit_code, observed.killed_by, observed.pod_ip) == (255, "limit", "10.1.2.3")
    assert observed.ffmpeg_finished_at == "2026-01-01T00:01:00Z"
    assert exit_reason(observed) == "Memory limit exceeded"


def test_without_the_agents_message_kubelets_reason_tells_it() -> None:
    pod = _pod()
    pod["status"] = {
        "phase": "Failed",
        "containerStatuses": [{"name": "ffmpeg", "state": _terminated(137, reason="OOMKilled")}],
    }

    observed = observe_run_pod(pod)

    assert observed is not None
    assert exit_reason(observed).startswith("OOMKilled")
