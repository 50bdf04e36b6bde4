"""The FFmpegProcess status and when to write it (design §5).

The status holds lifecycle facts — datarhei exec state and order, run number, start and end,
the last exit, restarts, conditions — and a coarse progress summary. Live figures come from the
agent; the status is written only when something changes, and a change of the progress summary
alone is written at most every :data:`PROGRESS_WRITE_INTERVAL` seconds, so many processes do
not mean many writes per second to etcd.

Times are RFC 3339 strings in UTC with a ``Z`` (Kubernetes' ``metav1.Time`` format).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from ffmpeg_operator.core.models import ExecState, Progress

__all__ = [
    "CONDITION_TYPES",
    "PROGRESS_WRITE_INTERVAL",
    "Condition",
    "ConditionStatus",
    "ConditionType",
    "FFmpegProcessStatus",
    "ProgressSummary",
    "find_condition",
    "parse_time",
    "rfc3339",
    "set_condition",
    "status_patch",
    "summarize_progress",
]

#: Seconds between two status writes that change nothing but the progress summary.
PROGRESS_WRITE_INTERVAL = 30.0

ConditionType = Literal[
    "Ready", "Running", "Stalled", "LimitExceeded", "ConfigValid", "ReferencesResolved"
]
CONDITION_TYPES: tuple[ConditionType, ...] = (
    "Ready",
    "Running",
    "Stalled",
    "LimitExceeded",
    "ConfigValid",
    "ReferencesResolved",
)
ConditionStatus = Literal["True", "False", "Unknown"]

Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


def rfc3339(moment: datetime) -> str:
    """``moment`` as Kubernetes writes times: UTC, whole seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """The inverse of :func:`rfc3339` (any RFC 3339 offset accepted)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class _StatusModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, extra="ignore"
    )


class Condition(_StatusModel):
    """One condition (Kubernetes API conventions)."""

    type: str = Field(
        description="Ready, Running, Stalled, LimitExceeded, ConfigValid or ReferencesResolved."
    )
    status: ConditionStatus = Field(description="True, False or Unknown.")
    reason: str = Field(default="", description="CamelCase reason of the last transition.")
    message: str = Field(default="", description="Human-readable details.")
    last_transition_time: Timestamp | None = Field(
        default=None, description="When status last changed."
    )
    observed_generation: int | None = Field(
        default=None, description="metadata.generation the condition was computed from."
    )


class ProgressSummary(_StatusModel):
    """A coarse progress summary, refreshed at most every 30 s; live figures: the agent."""

    frame: int = Field(default=0, description="Frames processed by the current run.")
    fps: float = Field(default=0.0, description="Current frames per second.")
    bitrate_kbit: float = Field(default=0.0, description="Current output bitrate in kbit/s.")
    speed: float = Field(default=0.0, description="Processing speed relative to real time.")
    updated_at: Timestamp | None = Field(default=None, description="When this was sampled.")

    def figures(self) -> tuple[int, float, float, float]:
        """The summary without its time, to compare two samples."""
        return (self.frame, self.fps, self.bitrate_kbit, self.speed)


class FFmpegProcessStatus(_StatusModel):
    """Observed state of an FFmpegProcess."""

    state: ExecState = Field(
        default="finished",
        description="datarhei exec state: finished, starting, running, finishing, failed, killed.",
    )
    order: Literal["start", "stop"] = Field(
        default="stop", description="datarhei order: start while desiredState is running."
    )
    run: int = Field(default=0, description="Number of the current or last run (Pod -<run>).")
    started_at: Timestamp | None = Field(
        default=None, description="When the current or last run started."
    )
    ended_at: Timestamp | None = Field(default=None, description="When the last run ended.")
    running_since: Timestamp | None = Field(
        default=None,
        description="Start of the current run while it is running, else unset (UPTIME).",
    )
    last_exit_reason: str | None = Field(
        default=None,
        description="Why the last run ended (exited, killed, stale, limit, OOMKilled, ...).",
    )
    last_exit_code: int | None = Field(
        default=None, description="Exit code of ffmpeg in the last run."
    )
    restarts: int = Field(default=0, description="Runs started after the first one.")
    observed_generation: int | None = Field(
        default=None, description="metadata.generation this status reflects."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready, Running, Stalled, LimitExceeded, ConfigValid, ReferencesResolved.",
    )
    progress: ProgressSummary = Field(
        default_factory=ProgressSummary, description="Coarse progress of the current run."
    )
    command: list[str] = Field(
        default_factory=list,
        description="ffmpeg's arguments of the current run, as datarhei's state.command.",
    )


# --------------------------------------------------------------------------- conditions


def find_condition(conditions: list[Condition], type_: str) -> Condition | None:
    """The condition of that type, if any."""
    return next((c for c in conditions if c.type == type_), None)


def set_condition(  # noqa: PLR0917 - the fields of a condition
    conditions: list[Condition],
    type_: ConditionType,
    status: ConditionStatus,
    reason: str,
    message: str,
    now: datetime,
    observed_generation: int | None = None,
) -> list[Condition]:
    """A copy of ``conditions`` with that condition set.

    ``lastTransitionTime`` changes only when ``status`` does; reason and message are updated
    either way. A new condition type is appended, the order of the others is kept.
    """

    def condition(previous: Condition | None) -> Condition:
        transition = rfc3339(now)
        if previous is not None and previous.status == status and previous.last_transition_time:
            transition = previous.last_transition_time
        return Condition(
            type=type_,
            status=status,
            reason=reason,
            message=message,
            last_transition_time=transition,
            observed_generation=observed_generation,
        )

    updated = [condition(c) if c.type == type_ else c for c in conditions]
    if find_condition(conditions, type_) is None:
        updated.append(condition(None))
    return updated


# --------------------------------------------------------------------------- progress


def summarize_progress(progress: Progress, now: datetime) -> ProgressSummary:
    """The coarse summary of a live progress sample (rounded: noise is not a change)."""
    return ProgressSummary(
        frame=progress.frame,
        fps=round(progress.fps, 1),
        bitrate_kbit=round(progress.bitrate_kbit, 1),
        speed=round(progress.speed, 2),
        updated_at=rfc3339(now),
    )


# --------------------------------------------------------------------------- writes


def _lifecycle(status: FFmpegProcessStatus) -> dict[str, Any]:
    return status.model_dump(exclude={"progress"})


def status_patch(
    stored: FFmpegProcessStatus | None,
    observed: FFmpegProcessStatus,
    now: datetime,
    progress_interval: float = PROGRESS_WRITE_INTERVAL,
) -> dict[str, Any] | None:
    """The status to write (a merge patch body for the status subresource), or ``None``.

    - Any change outside ``progress`` is written at once, with the observed progress.
    - A change of the progress figures alone is written only when the stored summary is at
      least ``progress_interval`` seconds old (or has no time); otherwise nothing is written.

    Unset fields are sent as ``null``, so a merge patch removes them from the object.
    """
    if stored is None or _lifecycle(stored) != _lifecycle(observed):
        return {"status": observed.model_dump(by_alias=True)}
    if stored.progress.figures() == observed.progress.figures():
        return None
    last = stored.progress.updated_at
    if last is not None and (now - parse_time(last)).total_seconds() < progress_interval:
        return None
    return {"status": observed.model_dump(by_alias=True)}
