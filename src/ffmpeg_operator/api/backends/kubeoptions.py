"""How the Kubernetes backend reaches the cluster and how long it waits."""

from __future__ import annotations

from dataclasses import dataclass, field

from ffmpeg_operator.kube.pod import OperatorSettings


@dataclass(frozen=True)
class KubernetesOptions:
    """How the backend reaches the cluster and how long it waits for the operator."""

    namespace: str | None = None
    kubeconfig: str | None = None
    context: str | None = None
    #: ffmpeg of this process, for probe and skills.
    ffmpeg: str = "ffmpeg"
    #: The run settings the operator uses too ({memfs}, {diskfs}, rtmp, srt, address rules).
    run: OperatorSettings = field(default_factory=OperatorSettings)
    #: Longest wait for a deleted object's finalizer (Core waits for ffmpeg to exit).
    delete_timeout: float = 30.0
    #: Longest wait for a run to end after stop or restart.
    stop_timeout: float = 30.0
    #: Longest wait for the operator to start a run after start.
    start_timeout: float = 15.0
    #: Attempts of a write that keeps meeting 409 Conflict.
    conflict_retries: int = 8
    #: Values never shown (the memfs password): redacted in commands, reports and states.
    secrets: tuple[str, ...] = ()
    #: Keep the long-lived heap (modules, the cached objects) out of the garbage collector's
    #: full collections (``gc.freeze``): for a server process that owns its heap, not for a
    #: backend opened inside another program (tests).
    freeze_heap: bool = False
