"""The operator's decisions for one FFmpegProcess, as tables (kube/reconcile.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kube_examples import minimal_cr

from ffmpeg_operator.core.models import ProcessConfig
from ffmpeg_operator.kube.pod import RESTART_REQUEST_ANNOTATION, OperatorSettings
from ffmpeg_operator.kube.reconcile import (
    REFERENCE_RETRY_SECONDS,
    DesiredCache,
    Plan,
    ProcessView,
    cleanup_rules,
    config_fingerprint,
    reconcile,
)
from ffmpeg_operator.kube.runs import CONFIG_HASH_ANNOTATION, RunObservation
from ffmpeg_operator.kube.spec import config_from_cr, spec_of
from ffmpeg_operator.kube.status import FFmpegProcessStatus, ProgressSummary, rfc3339

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SETTINGS = OperatorSettings()
UID = "6f1d2b8e-3c2a-4c55-9a1e-2f0b7d9c1a42"  # MINIMAL_CR's
NAME = "minimal"


def _cr(**spec: Any) -> dict[str, Any]:
    cr = minimal_cr(**spec)
    cr["metadata"]["generation"] = 1
    return cr


def _no_refs(_pid: str) -> ProcessConfig | None:
    return None


def _plan(cr: dict[str, Any], runs: tuple[RunObservation, ...] = (), **view: Any) -> Plan:
    lookup = view.pop("lookup", _no_refs)
    history = view.pop("history", 3)
    return reconcile(
        ProcessView(cr=cr, runs=runs, now=NOW, **view), SETTINGS, lookup, history=history
    )


def _hash(cr: dict[str, Any]) -> str:
    """The fingerprint of the run the CR asks for (what its run Pods carry)."""
    running = {**cr, "spec": {**cr["spec"], "desiredState": "running"}}
    created = _plan(running).create
    assert created is not None
    return str(created["metadata"]["annotations"][CONFIG_HASH_ANNOTATION])


def _run(
    cr: dict[str, Any], number: int = 1, state: str = "running", **fields: Any
) -> RunObservation:
    """A run Pod built from ``cr`` (same fingerprint) in ``state``."""
    base: dict[str, Any] = {
        "run": number,
        "name": f"{NAME}-{number}",
        "uid": f"pod-{number}",
        "owner_uid": UID,
        "phase": "Running",
        "pod_ip": "10.0.0.1",
        "config_hash": _hash(cr),
        "ffmpeg_started_at": rfc3339(NOW - timedelta(seconds=60)),
    }
    if state == "running":
        base["ffmpeg"] = "running"
    elif state == "pending":
        base.update(phase="Pending", ffmpeg="waiting", ffmpeg_started_at=None)
    else:  # ended with exit code `state`
        base.update(
            phase="Succeeded" if state == "0" else "Failed",
            ffmpeg="terminated",
            exit_code=int(state),
            ffmpeg_finished_at=rfc3339(NOW - timedelta(seconds=1)),
        )
    base.update(fields)
    return RunObservation(**base)


def _stored(**fields: Any) -> FFmpegProcessStatus:
    return FFmpegProcessStatus(**{"order": "start", "state": "running", "run": 1, **fields})


def _condition(plan: Plan, kind: str) -> tuple[str, str]:
    found = next(c for c in plan.status.conditions if c.type == kind)
    return found.status, found.reason


def _deleted(plan: Plan) -> list[tuple[str, str]]:
    return [(d.name, d.cause) for d in plan.delete]


# --------------------------------------------------------------------------- starting


def test_a_new_running_process_gets_run_1_at_once() -> None:
    plan = _plan(_cr())

    assert plan.create is not None
    assert plan.create["metadata"]["name"] == f"{NAME}-1"
    assert plan.status.state == "starting"
    assert (plan.status.order, plan.status.run) == ("start", 1)
    assert plan.events == ()  # the run's "Running" event tells of the start


def test_a_new_stopped_process_gets_nothing_and_is_ready() -> None:
    plan = _plan(_cr(desiredState="stopped"))

    assert plan.create is None
    assert (plan.status.state, plan.status.order, plan.status.run) == ("finished", "stop", 0)
    assert _condition(plan, "Ready") == ("True", "Stopped")


def test_a_running_run_with_the_current_config_is_left_alone() -> None:
    cr = _cr()
    plan = _plan(cr, (_run(cr),), stored=_stored())

    assert plan.create is None
    assert plan.delete == ()
    assert (plan.status.state, plan.status.order) == ("running", "start")
    assert _condition(plan, "Ready") == ("True", "Running")
    assert _condition(plan, "Running") == ("True", "Running")


def test_a_pending_run_pod_is_starting() -> None:
    cr = _cr()
    plan = _plan(cr, (_run(cr, state="pending"),), stored=_stored(state="starting"))

    assert plan.status.state == "starting"
    assert _condition(plan, "Ready") == ("False", "Starting")


# --------------------------------------------------------------------------- stop, restart, update


def test_stopped_deletes_the_running_run() -> None:
    cr = _cr(desiredState="stopped")
    plan = _plan(cr, (_run(cr),), stored=_stored())

    assert _deleted(plan) == [(f"{NAME}-1", "stop")]
    assert plan.status.order == "stop"
    assert [e.reason for e in plan.events] == ["Stopping"]


def test_a_run_being_deleted_is_finishing() -> None:
    cr = _cr(desiredState="stopped")
    plan = _plan(cr, (_run(cr, deleting=True),), stored=_stored(order="stop"))

    assert plan.delete == ()
    assert plan.status.state == "finishing"
    assert _condition(plan, "Ready") == ("False", "Stopping")


def test_running_again_waits_for_the_stopped_run_to_end() -> None:
    cr = _cr()
    plan = _plan(cr, (_run(cr, deleting=True),), stored=_stored(order="stop"))

    assert plan.create is None
    assert plan.status.order == "stop"


def test_running_after_a_stop_starts_the_next_run_at_once_whatever_reconnect_says() -> None:
    cr = _cr(reconnect=False)
    plan = _plan(cr, (_run(cr, state="255"),), stored=_stored(order="stop", state="finished"))

    assert plan.create is not None
    assert plan.create["metadata"]["name"] == f"{NAME}-2"
    assert (plan.status.run, plan.status.order) == (2, "start")


def test_a_new_restart_request_deletes_the_running_run() -> None:
    cr = _cr()
    plan = _plan(_cr(restartRequest="again"), (_run(cr),), stored=_stored())

    assert _deleted(plan) == [(f"{NAME}-1", "restart")]
    assert plan.status.order == "start"


def test_the_restart_request_a_run_was_built_with_restarts_nothing() -> None:
    cr = _cr(restartRequest="again")
    plan = _plan(cr, (_run(cr, restart_request="again"),), stored=_stored())

    assert plan.delete == ()
    assert plan.create is None
    pod = _plan(cr).create
    assert pod is not None
    assert pod["metadata"]["annotations"][RESTART_REQUEST_ANNOTATION] == "again"


def test_a_changed_config_replaces_the_running_run() -> None:
    old = _cr()
    new = _cr(options=["-loglevel", "error"])
    plan = _plan(new, (_run(old),), stored=_stored())

    assert _deleted(plan) == [(f"{NAME}-1", "update")]
    assert [e.reason for e in plan.events] == ["Updating"]


def test_the_replaced_run_is_followed_at_once_whatever_reconnect_says() -> None:
    old = _cr()
    new = _cr(options=["-loglevel", "error"], reconnect=False)
    plan = _plan(new, (_run(old, state="255"),), stored=_stored(state="finished"))

    assert plan.create is not None
    assert plan.status.run == 2


def test_an_invalid_config_keeps_the_running_run_and_starts_nothing() -> None:
    old = _cr()
    plan = _plan(_cr(output=[]), (_run(old),), stored=_stored())

    assert plan.delete == ()
    assert plan.create is None
    assert plan.status.state == "running"
    status, reason = _condition(plan, "ConfigValid")
    assert (status, reason) == ("False", "InvalidConfig")
    assert "at least one output" in next(
        c.message for c in plan.status.conditions if c.type == "ConfigValid"
    )


def test_an_invalid_new_process_starts_nothing_and_says_why() -> None:
    plan = _plan(_cr(output=[]))

    assert plan.create is None
    assert plan.status.order == "stop"
    assert _condition(plan, "Ready") == ("False", "InvalidConfig")
    assert [(e.type, e.reason) for e in plan.events] == [("Warning", "InvalidConfig")]


# --------------------------------------------------------------------------- reconnect


@pytest.mark.parametrize(
    ("ended_seconds_ago", "created"), [(4.9, False), (5.0, True), (30.0, True)]
)
def test_reconnect_creates_the_next_run_once_the_delay_passed(
    ended_seconds_ago: float, created: bool
) -> None:
    cr = _cr(reconnect=True, reconnectDelaySeconds=5)
    ended = NOW - timedelta(seconds=ended_seconds_ago)
    plan = _plan(cr, (_run(cr, state="1"),), stored=_stored(), ended_at={1: ended})

    assert (plan.create is not None) is created
    if not created:
        assert plan.wake_at == ended + timedelta(seconds=5)
        assert _condition(plan, "Ready") == ("False", "WaitingForReconnect")
    else:
        assert [e.reason for e in plan.events][-1] == "Reconnecting"


def test_without_an_observed_end_reconnect_counts_from_kubelets_finish_time() -> None:
    cr = _cr(reconnect=True, reconnectDelaySeconds=5)
    run = _run(cr, state="0", ffmpeg_finished_at=rfc3339(NOW - timedelta(seconds=3)))

    plan = _plan(cr, (run,), stored=_stored())

    assert plan.create is None
    assert plan.wake_at == NOW + timedelta(seconds=2)


def test_without_reconnect_an_ended_run_stays_down() -> None:
    cr = _cr(reconnect=False)
    plan = _plan(cr, (_run(cr, state="0"),), stored=_stored())

    assert plan.create is None
    assert plan.wake_at is None
    assert (plan.status.state, plan.status.order) == ("finished", "start")
    assert _condition(plan, "Ready") == ("False", "NotRunning")


# --------------------------------------------------------------------------- how runs end


@pytest.mark.parametrize(
    ("fields", "state"),
    [
        ({"exit_code": 0}, "finished"),
        ({"exit_code": 255}, "finished"),
        ({"exit_code": 1}, "failed"),
        ({"exit_code": 137}, "killed"),
        ({"exit_code": 137, "container_reason": "OOMKilled"}, "killed"),
        ({"exit_code": 128, "container_reason": "StartError"}, "failed"),
        ({"exit_code": None, "vanished": True}, "killed"),
        ({"exit_code": None, "vanished": True, "deleting": True}, "finished"),
        ({"exit_code": None, "ffmpeg": "waiting", "phase": "Failed"}, "failed"),
    ],
)
def test_the_exec_state_of_an_ended_run(fields: dict[str, Any], state: str) -> None:
    cr = _cr()
    run = _run(cr, state="0", **fields)

    assert _plan(cr, (run,), stored=_stored()).status.state == state


def test_the_agents_reason_and_exit_code_reach_the_status() -> None:
    cr = _cr()
    reason = "Stale timeout after 2 s, no progress from the process"
    run = _run(cr, state="255", agent_reason=reason, killed_by="stale")

    plan = _plan(cr, (run,), stored=_stored())

    assert (plan.status.last_exit_reason, plan.status.last_exit_code) == (reason, 255)
    assert _condition(plan, "Stalled") == ("True", "StaleTimeout")
    assert _condition(plan, "LimitExceeded") == ("False", "WithinLimits")
    assert ("Warning", "StaleTimeout") in [(e.type, e.reason) for e in plan.events]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"killed_by": "limit", "agent_reason": "Memory limit exceeded"}, "LimitExceeded"),
        ({"container_reason": "OOMKilled", "exit_code": 137}, "OOMKilled"),
    ],
)
def test_limit_stops_set_limit_exceeded(fields: dict[str, Any], reason: str) -> None:
    cr = _cr()
    plan = _plan(cr, (_run(cr, state="255", **fields),), stored=_stored())

    assert _condition(plan, "LimitExceeded") == ("True", reason)


def test_stalled_holds_while_the_next_run_starts_and_clears_once_it_runs() -> None:
    cr = _cr(reconnect=True)
    stale = _run(cr, state="255", killed_by="stale", agent_reason="Stale timeout")

    starting = _plan(cr, (stale,), stored=_stored(state="finished"))
    running = _plan(cr, (stale, _run(cr, 2)), stored=starting.status)

    assert starting.create is not None
    assert _condition(starting, "Stalled") == ("True", "StaleTimeout")
    assert _condition(running, "Stalled") == ("False", "NotStalled")


def test_the_end_of_a_run_is_announced_once() -> None:
    cr = _cr()
    run = _run(cr, state="1")

    first = _plan(cr, (run,), stored=_stored())
    again = _plan(cr, (run,), stored=first.status)

    assert [(e.type, e.reason) for e in first.events] == [("Warning", "Failed")]
    assert again.events == ()


def test_a_vanished_run_pod_counts_as_killed() -> None:
    plan = _plan(_cr(reconnect=False), (), stored=_stored())

    assert plan.status.state == "killed"
    assert plan.status.last_exit_reason == "the run Pod was deleted"
    assert plan.status.ended_at == rfc3339(NOW)


# --------------------------------------------------------------------------- references


def _reader() -> dict[str, Any]:
    reference = {"id": "in", "address": "#source:output=out", "options": ["-f", "lavfi"]}
    return _cr(input=[reference])


def test_an_unresolved_reference_starts_nothing_and_is_retried() -> None:
    plan = _plan(_reader())

    assert plan.create is None
    assert plan.references == frozenset({"source"})
    assert plan.wake_at == NOW + timedelta(seconds=REFERENCE_RETRY_SECONDS)
    resolved = next(c for c in plan.status.conditions if c.type == "ReferencesResolved")
    assert resolved.status == "False"
    assert "unknown process 'source'" in resolved.message
    assert _condition(plan, "ConfigValid") == ("Unknown", "ReferencesUnresolved")


def test_a_resolved_reference_puts_the_referenced_address_into_the_command() -> None:
    source = config_from_cr(
        _cr(
            id="source",
            output=[{"id": "out", "address": "testsrc=size=8x8", "options": ["-f", "null"]}],
        )
    )

    plan = _plan(_reader(), lookup=lambda pid: source if pid == "source" else None)

    assert plan.create is not None
    assert "testsrc=size=8x8" in plan.status.command
    assert _condition(plan, "ReferencesResolved") == ("True", "Resolved")


# --------------------------------------------------------------------------- history, strays


def test_ended_runs_beyond_the_history_are_deleted() -> None:
    cr = _cr(reconnect=False)
    runs = tuple(_run(cr, n, state="0") for n in range(1, 6))

    plan = _plan(cr, runs, stored=_stored(run=5, state="finished"))

    assert _deleted(plan) == [(f"{NAME}-1", "history"), (f"{NAME}-2", "history")]


def test_a_pod_owned_by_another_object_of_the_name_is_deleted() -> None:
    cr = _cr()
    stray = _run(cr, 7, owner_uid="someone-else")

    plan = _plan(cr, (stray,))

    assert _deleted(plan) == [(f"{NAME}-7", "stray")]
    assert plan.create is not None
    assert plan.create["metadata"]["name"] == f"{NAME}-1"


# --------------------------------------------------------------------------- status details


def test_the_progress_sample_is_the_running_runs_summary() -> None:
    cr = _cr()
    sample = ProgressSummary(frame=250, fps=25.0, updated_at=rfc3339(NOW))

    plan = _plan(cr, (_run(cr),), stored=_stored(), progress=sample)

    assert plan.status.progress == sample


def test_the_status_of_an_unchanged_process_is_stable() -> None:
    cr = _cr()
    run = _run(cr)
    first = _plan(cr, (run,), stored=_stored())
    second = _plan(cr, (run,), stored=first.status)

    assert second.status == first.status
    assert second.events == ()


def test_the_cleanup_rules_have_their_placeholders_resolved() -> None:
    output = {
        "id": "out",
        "address": "-",
        "options": ["-f", "null"],
        "cleanup": [{"pattern": "diskfs:/{processid}_{outputid}_*.ts", "maxFiles": 3}],
    }

    rules = cleanup_rules(_cr(output=[output]), SETTINGS)

    assert [(r.pattern, r.max_files) for r in rules] == [("diskfs:/minimal_out_*.ts", 3)]


def test_the_fingerprint_ignores_the_order_fields_but_not_the_command() -> None:
    spec = spec_of(_cr())
    stopped = spec_of(_cr(desiredState="stopped", restartRequest="x"))

    assert config_fingerprint(spec, ["-i", "a"]) == config_fingerprint(stopped, ["-i", "a"])
    assert config_fingerprint(spec, ["-i", "a"]) != config_fingerprint(spec, ["-i", "b"])


def test_the_desired_run_is_built_once_per_config_and_renumbered_per_run() -> None:
    cache = DesiredCache()
    cr = _cr()
    first = cache.get(cr, 1, SETTINGS, _no_refs)
    second = cache.get(cr, 2, SETTINGS, _no_refs)
    changed = cache.get(_cr(options=["-v", "error"]), 2, SETTINGS, _no_refs)

    assert first.manifest is not None and second.manifest is not None
    assert first.manifest["metadata"]["name"] == f"{NAME}-1"
    assert second.manifest["metadata"]["name"] == f"{NAME}-2"
    assert second.manifest["metadata"]["labels"]["ffmpeg-operator.io/run"] == "2"
    assert second.manifest["spec"] is first.manifest["spec"]  # not built again
    assert changed.manifest is not None
    assert "error" in changed.manifest["spec"]["containers"][0]["args"]
