"""What the operator is told: run Pod settings, where its volumes are, how often it acts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ffmpeg_operator.kube.pod import OperatorSettings
from ffmpeg_operator.kube.reconcile import HISTORY_RUNS
from ffmpeg_operator.kube.settings import ENV_PREFIX, settings_from_env
from ffmpeg_operator.kube.status import PROGRESS_WRITE_INTERVAL

__all__ = ["MEMFS_USER", "OperatorConfig"]

#: The memfs writer (datarhei Core's fixed user name).
MEMFS_USER = "admin"


@dataclass(frozen=True)
class OperatorConfig:
    """Settings of one operator process."""

    #: How run Pods are built.
    pods: OperatorSettings = field(default_factory=OperatorSettings)
    #: Where this process sees the ``{diskfs}`` volume (None: no disk cleanup). In the chart
    #: it is the run Pods' mount path; a test maps the claim to a host directory.
    diskfs_root: Path | None = None
    #: The memfs store to apply memfs cleanup rules to (None: no memfs cleanup).
    memfs_url: str | None = None
    memfs_password: str = ""
    #: Seconds between two polls of a running run's agent (its /state), so between two
    #: progress-only status writes.
    progress_interval: float = PROGRESS_WRITE_INTERVAL
    #: Seconds between two cleanup passes (§8.3: every second).
    cleanup_interval: float = 1.0
    #: Finished run Pods kept per process.
    history: int = HISTORY_RUNS
    #: A process is looked at again at least this often, even when nothing announced a change.
    resync_interval: float = 60.0
    #: Timeout of one request to an agent.
    agent_timeout: float = 2.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> OperatorConfig:
        """The chart's environment (see :mod:`ffmpeg_operator.kube.settings`).

        The disk volume is the operator's only when a claim is named: without one, every run
        has an emptyDir of its own that the operator cannot see.
        """
        pods = settings_from_env(env)
        memfs = env.get(ENV_PREFIX + "MEMFS_URL", "").strip()
        return cls(
            pods=pods,
            diskfs_root=Path(pods.diskfs_mount_path) if pods.diskfs_pvc else None,
            memfs_url=memfs.rstrip("/") or None,
            memfs_password=env.get(ENV_PREFIX + "MEMFS_PASSWORD", ""),
        )
