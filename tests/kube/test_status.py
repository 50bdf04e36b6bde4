"""The FFmpegProcess status: conditions and when to write (design §5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ffmpeg_operator.core.models import Progress
from ffmpeg_operator.kube.status import (
    PROGRESS_WRITE_INTERVAL,
    FFmpegProcessStatus,
    find_condition,
    rfc3339,
    set_condition,
    status_patch,
    summarize_progress,
)

T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def _running(at: datetime, frame: int = 100, fps: float = 25.0) -> FFmpegProcessStatus:
    return FFmpegProcessStatus(
        state="running",
        order="start",
        run=1,
        started_at=rfc3339(T0),
        running_since=rfc3339(T0),
        progress=summarize_progress(Progress(frame=frame, fps=fps, bitrate_kbit=800.0), at),
    )


def test_times_are_kubernetes_rfc3339() -> None:
    local = datetime(2025, 1, 2, 4, 4, 5, 999, tzinfo=UTC).astimezone()
    assert rfc3339(local) == "2025-01-02T04:04:05Z"


def test_a_new_condition_gets_a_transition_time() -> None:
    conditions = set_condition([], "Ready", "True", "Running", "ok", T0)
    assert conditions[0].type == "Ready"
    assert conditions[0].last_transition_time == "2025-01-02T03:04:05Z"


def test_same_status_keeps_the_transition_time_but_updates_the_reason() -> None:
    first = set_condition([], "Stalled", "False", "Progressing", "", T0)
    later = set_condition(first, "Stalled", "False", "Idle", "no input", T0 + timedelta(minutes=1))
    condition = find_condition(later, "Stalled")
    assert condition is not None
    assert condition.last_transition_time == rfc3339(T0)
    assert (condition.reason, condition.message) == ("Idle", "no input")


def test_a_status_change_moves_the_transition_time() -> None:
    first = set_condition([], "Running", "True", "Started", "", T0)
    later = set_condition(first, "Running", "False", "Exited", "", T0 + timedelta(seconds=9))
    assert later[0].last_transition_time == rfc3339(T0 + timedelta(seconds=9))


def test_setting_one_condition_keeps_the_others_in_order() -> None:
    conditions = set_condition([], "ConfigValid", "True", "Valid", "", T0)
    conditions = set_condition(conditions, "Ready", "False", "Stopped", "", T0)
    conditions = set_condition(conditions, "ConfigValid", "False", "Invalid", "bad", T0)
    assert [c.type for c in conditions] == ["ConfigValid", "Ready"]
    assert find_condition(conditions, "LimitExceeded") is None


def test_first_status_is_always_written() -> None:
    assert status_patch(None, _running(T0), T0) is not None


def test_an_unchanged_status_is_not_written() -> None:
    assert status_patch(_running(T0), _running(T0 + timedelta(seconds=5)), T0) is None


def test_a_lifecycle_change_is_written_at_once() -> None:
    stored = _running(T0)
    observed = stored.model_copy(update={"state": "failed", "running_since": None})
    patch = status_patch(stored, observed, T0 + timedelta(seconds=1))
    assert patch is not None
    assert patch["status"]["state"] == "failed"


def test_progress_alone_is_not_written_within_the_interval() -> None:
    later = T0 + timedelta(seconds=PROGRESS_WRITE_INTERVAL - 1)
    assert status_patch(_running(T0), _running(later, frame=700), later) is None


def test_progress_alone_is_written_once_the_interval_passed() -> None:
    later = T0 + timedelta(seconds=PROGRESS_WRITE_INTERVAL)
    patch = status_patch(_running(T0), _running(later, frame=850), later)
    assert patch is not None
    assert patch["status"]["progress"]["frame"] == 850
    assert patch["status"]["progress"]["updatedAt"] == rfc3339(later)


def test_fps_noise_below_the_rounding_is_not_a_change() -> None:
    later = T0 + timedelta(seconds=PROGRESS_WRITE_INTERVAL * 2)
    assert status_patch(_running(T0, fps=25.01), _running(later, fps=24.99), later) is None


def test_cleared_fields_are_sent_as_null_so_the_merge_patch_removes_them() -> None:
    stored = _running(T0)
    patch = status_patch(stored, stored.model_copy(update={"running_since": None}), T0)
    assert patch is not None
    assert patch["status"]["runningSince"] is None


def test_the_patch_uses_crd_spelling() -> None:
    patch = status_patch(None, _running(T0), T0)
    assert patch is not None
    assert {"startedAt", "runningSince", "lastExitReason", "observedGeneration"} <= set(
        patch["status"]
    )
    assert "bitrateKbit" in patch["status"]["progress"]
