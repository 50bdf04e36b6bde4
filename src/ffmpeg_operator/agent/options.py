"""What the agent is told on its command line (one field per ``ffmpeg-operator agent`` flag)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: Where kubelet reads a container's termination message from, unless the Pod says otherwise.
DEFAULT_TERMINATION_MESSAGE_PATH = Path("/dev/termination-log")

#: Core's stop grace period (§4.3): SIGINT, then SIGKILL after this many seconds.
STOP_GRACE_S = 5.0


@dataclass(frozen=True)
class AgentOptions:
    """Settings of one agent, i.e. of one run of one process.

    ``progress_host``/``progress_port`` is where ffmpeg's ``-progress tcp://<host>:<port>``
    connects to (loopback: the Pod's containers share it, nothing outside the Pod reaches it).
    ``ffmpeg`` is the binary to look for in the shared PID namespace (a name or a path).
    ``command`` is ffmpeg's argv without the binary and without the injected flags, when the
    Pod builder passes it; otherwise it is read from ffmpeg's cmdline. ``cpu_capacity`` is how
    many CPUs count as 100 % for ``cpu_usage`` (0: this container's cgroup quota, else the CPU
    count); the Pod builder passes the ffmpeg container's CPU limit, which the agent cannot see.
    """

    progress_port: int
    progress_host: str = "127.0.0.1"
    process_id: str = ""
    ffmpeg: str = "ffmpeg"
    # All interfaces: the API shim asks the Pod IP.
    http_host: str = "0.0.0.0"
    http_port: int = 8081
    stale_timeout_s: float = 0.0
    cpu_limit: float = 0.0
    memory_limit_bytes: int = 0
    waitfor_s: float = 0.0
    cpu_capacity: float = 0.0
    command: list[str] | None = field(default=None)
    termination_message_path: Path = DEFAULT_TERMINATION_MESSAGE_PATH
    stop_grace_s: float = STOP_GRACE_S
    discovery_interval_s: float = 0.2
    #: FIFO given to ffmpeg as its report file (``FFREPORT``): the stream dump. None: none.
    report_fifo: Path | None = None
    #: FIFO given to ffmpeg as ``-vstats_file``: per-stream counters. None: none.
    stats_fifo: Path | None = None

    @property
    def progress_url(self) -> str:
        """The URL ffmpeg is given after ``-progress``."""
        return f"tcp://{self.progress_host}:{self.progress_port}"
