"""The process config and the read models of the datarhei v3 API (spec §2).

One pydantic model per wire shape. Field names are datarhei's JSON names (snake_case); every
field also has a camelCase alias, the spelling of the FFmpegProcess CRD (design §2), so one
model converts losslessly between the two::

    ProcessConfig.model_validate(api_json).model_dump(by_alias=True)   # -> CR spec
    ProcessConfig.model_validate(cr_spec).model_dump()                 # -> API JSON

Request decoding with Go's exact semantics (case-insensitive keys, merge into the stored
config, type errors) lives in :mod:`ffmpeg_operator.core.gojson`; these models hold the result.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    field_serializer,
    model_serializer,
    model_validator,
)
from pydantic.alias_generators import to_camel

from ffmpeg_operator.core.numbers import FormattedNumber, format_rule_a, format_rule_b

#: Serialisation context key: emit rule A/B numbers as :class:`FormattedNumber` (wire layer).
DATARHEI_NUMBERS = "datarhei_numbers"

Uint = Annotated[int, Field(ge=0, strict=True)]
ExecState = Literal["finished", "starting", "running", "finishing", "failed", "killed", ""]
Order = Literal["start", "stop", ""]


class _Model(BaseModel):
    """Base: snake_case names, camelCase aliases, both accepted on input."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="ignore",
    )

    @model_validator(mode="before")
    @classmethod
    def _nulls_mean_defaults(cls, data: Any) -> Any:
        # The official Python client sends explicit nulls for unset optional fields (§13).
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


def _whole_as_int(value: float) -> float | int:
    # Go prints float64 10 as ``10``; keep the same text on the wire.
    return int(value) if value == int(value) else value


def _rule(value: float, info: SerializationInfo, rule: str) -> Any:
    context = info.context
    if isinstance(context, dict) and context.get(DATARHEI_NUMBERS):
        return FormattedNumber(format_rule_a(value) if rule == "A" else format_rule_b(value))
    return value


# --------------------------------------------------------------------------- process config


class Cleanup(_Model):
    """A cleanup rule of an output (§8): which files of a filesystem to keep."""

    pattern: str = Field(
        default="",
        description="Filesystem prefix and glob, e.g. 'memfs:/{processid}_*.ts' "
        "(diskfs:, memfs:). Placeholders {processid}, {reference}, {outputid} are resolved.",
    )
    max_files: Uint = Field(
        default=0, description="Keep at most this many matching files (oldest deleted); 0 = off."
    )
    max_file_age_seconds: Uint = Field(
        default=0, description="Delete matching files older than this; 0 = no age limit."
    )
    purge_on_delete: bool = Field(
        default=False,
        description="Delete every matching file when the process is deleted or updated.",
    )


class ProcessConfigIO(_Model):
    """One input or output of a process (§2.1)."""

    id: str = Field(
        default="",
        description="ID of the input/output, unique per direction; generated when empty.",
    )
    address: str = Field(
        default="",
        description="Address passed to ffmpeg as one argument (file, URL, lavfi graph, '-', "
        "'#process:output=id' reference); placeholders allowed.",
    )
    options: list[str] = Field(
        default_factory=list,
        description="ffmpeg options placed before this address (before '-i' for inputs).",
    )
    cleanup: list[Cleanup] = Field(
        default_factory=list,
        description="Cleanup rules for files this output writes (outputs only).",
    )

    def clone(self, **update: Any) -> ProcessConfigIO:
        """A deep copy (as ``model_copy(deep=True)``) that knows the fields: no deepcopy walk."""
        fields = {"options": list(self.options), "cleanup": [r.model_copy() for r in self.cleanup]}
        return self.model_copy(update={**fields, **update})

    @model_serializer(mode="wrap")
    def _omit_empty_cleanup(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Core omits `cleanup` when empty, so inputs never show it (§2.1).
        data: dict[str, Any] = handler(self)
        if not self.cleanup:
            data.pop("cleanup", None)
        return data


class Limits(_Model):
    """Resource limits (§4.7). A limit of 0 is disabled."""

    cpu_usage: float = Field(
        default=0.0,
        description="CPU usage limit in percent of the whole machine (100 = all CPUs); 0 = off.",
    )
    memory_mbytes: Uint = Field(default=0, description="Resident memory limit in MiB; 0 = off.")
    waitfor_seconds: Uint = Field(
        default=0,
        description="How long a limit may be exceeded before the process is stopped.",
    )

    @field_serializer("cpu_usage")
    def _cpu_usage(self, value: float) -> float | int:
        return _whole_as_int(value)


class ProcessConfig(_Model):
    """A process definition exactly as datarhei Core stores it (§2.1)."""

    id: str = Field(default="", description="Process ID: any text, unique.")
    type: str = Field(default="ffmpeg", description="Process type; only 'ffmpeg'.")
    reference: str = Field(
        default="", description="Free text, used by list filters and {reference}."
    )
    input: list[ProcessConfigIO] = Field(
        default_factory=list, description="Inputs, in command-line order."
    )
    output: list[ProcessConfigIO] = Field(
        default_factory=list, description="Outputs, in command-line order."
    )
    options: list[str] = Field(
        default_factory=list,
        description="Global ffmpeg options, placed first on the command line.",
    )
    reconnect: bool = Field(
        default=False, description="Start again when the process ended by itself or was killed."
    )
    reconnect_delay_seconds: Uint = Field(
        default=0, description="Delay before the automatic restart; 0 = at once."
    )
    autostart: bool = Field(default=True, description="Start the process when it is created.")
    stale_timeout_seconds: Uint = Field(
        default=0,
        description="Stop the process when it made no progress for this long; 0 = off.",
    )
    limits: Limits = Field(default_factory=Limits, description="Resource limits.")

    def clone(self, **update: Any) -> ProcessConfig:
        """A deep copy (as ``model_copy(deep=True)``) that knows the fields.

        Every create and update copies its config a few times; pydantic's deep copy walks
        each value through ``copy.deepcopy``, which took a third of a POST (bench/README.md).
        """
        fields = {
            "input": [io.clone() for io in self.input],
            "output": [io.clone() for io in self.output],
            "options": list(self.options),
            "limits": self.limits.model_copy(),
        }
        return self.model_copy(update={**fields, **update})


# --------------------------------------------------------------------------- read models


class Framerate(_Model):
    min: float = 0.0
    max: float = 0.0
    avg: float = 0.0

    @field_serializer("min", "max", "avg")
    def _b(self, value: float, info: SerializationInfo) -> Any:
        return _rule(value, info, "B")


_OMIT_WHEN_EMPTY = ("pix_fmt", "width", "height", "sampling_hz", "layout", "channels")


class ProgressIO(_Model):
    """Progress of one stream of one input or output (§2.4)."""

    id: str = ""
    address: str = ""
    index: int = 0
    stream: int = 0
    format: str = ""
    type: str = ""
    codec: str = ""
    coder: str = ""
    frame: int = 0
    keyframe: int = 0
    framerate: Framerate = Field(default_factory=Framerate)
    fps: float = 0.0
    packet: int = 0
    pps: float = 0.0
    size_kb: int = 0
    bitrate_kbit: float = 0.0
    extradata_size_bytes: int = 0
    pix_fmt: str = ""
    q: float = 0.0
    width: int = 0
    height: int = 0
    sampling_hz: int = 0
    layout: str = ""
    channels: int = 0
    avstream: dict[str, Any] | None = None

    @field_serializer("fps", "pps", "bitrate_kbit", "q")
    def _b(self, value: float, info: SerializationInfo) -> Any:
        return _rule(value, info, "B")

    @model_serializer(mode="wrap")
    def _omit_empty(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in _OMIT_WHEN_EMPTY:
            if not getattr(self, name):
                data.pop(name, None)
                data.pop(to_camel(name), None)
        return data


class Progress(_Model):
    """Live counters of a running process (§2.4); all zero when not running."""

    inputs: list[ProgressIO] = Field(default_factory=list)
    outputs: list[ProgressIO] = Field(default_factory=list)
    frame: int = 0
    packet: int = 0
    fps: float = 0.0
    q: float = 0.0
    size_kb: int = 0
    time: float = 0.0
    bitrate_kbit: float = 0.0
    speed: float = 0.0
    drop: int = 0
    dup: int = 0

    @field_serializer("fps", "q", "time", "bitrate_kbit", "speed")
    def _a(self, value: float, info: SerializationInfo) -> Any:
        return _rule(value, info, "A")


class ProcessState(_Model):
    """Observed state of a process (§2.3)."""

    order: Order = "stop"
    exec: ExecState = "finished"
    runtime_seconds: int = 0
    reconnect_seconds: int = -1
    last_logline: str = ""
    progress: Progress = Field(default_factory=Progress)
    memory_bytes: int = 0
    cpu_usage: float = 0.0
    command: list[str] | None = Field(default_factory=list)

    @field_serializer("cpu_usage")
    def _a(self, value: float, info: SerializationInfo) -> Any:
        return _rule(value, info, "A")


LogEntry = tuple[str, str]
"""A report log line: (unix seconds as a string, the line)."""


class ReportHistoryEntry(_Model):
    created_at: int = 0
    prelude: list[str] = Field(default_factory=list)
    log: list[LogEntry] = Field(default_factory=list)


class ProcessReport(_Model):
    """Logs of the current run and up to three earlier runs (§2.5)."""

    created_at: int = 0
    prelude: list[str] = Field(default_factory=list)
    log: list[LogEntry] = Field(default_factory=list)
    history: list[ReportHistoryEntry] = Field(default_factory=list)


class Process(_Model):
    """A list item / GET /process/{id} (§2.2). Aspects are None when not selected."""

    id: str
    type: str = "ffmpeg"
    reference: str = ""
    created_at: int = 0
    updated_at: int = 0
    config: ProcessConfig | None = None
    state: ProcessState | None = None
    report: ProcessReport | None = None
    metadata: Any = None


class ProbeIO(_Model):
    """One stream found by a probe (§2.8); every key always present."""

    url: str = ""
    format: str = ""
    index: int = 0
    stream: int = 0
    language: str = "und"
    type: str = ""
    codec: str = ""
    coder: str = ""
    bitrate_kbps: float = 0.0
    duration_sec: float = 0.0
    fps: float = 0.0
    pix_fmt: str = ""
    width: int = 0
    height: int = 0
    sampling_hz: int = 0
    layout: str = ""
    channels: int = 0

    @field_serializer("bitrate_kbps", "duration_sec", "fps")
    def _a(self, value: float, info: SerializationInfo) -> Any:
        return _rule(value, info, "A")


class Probe(_Model):
    streams: list[ProbeIO] = Field(default_factory=list)
    log: list[str] = Field(default_factory=list)


class Error(_Model):
    """datarhei's error body (§1.1)."""

    code: int
    message: str
    details: list[str] = Field(default_factory=list)


class Command(_Model):
    command: Literal["start", "stop", "restart", "reload"]
