"""The agent's termination message: how the run ended, for the operator to put into status.

kubelet copies the file (at most 4096 bytes) into the container status when the agent's
container terminates; the operator reads it from there. The file is a bind mount in the Pod,
so it is rewritten in place (a rename over it would fail), and written again whenever there is
something new to say: the stop decision, ffmpeg's exit, the agent's own SIGTERM.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

KilledBy = Literal["stale", "limit"]

#: Keeps the JSON under kubelet's 4096 bytes per message even with 4-byte UTF-8 characters.
_MAX_REASON_CHARS = 960


@dataclass(frozen=True)
class TerminationMessage:
    """``reason``: why the agent stopped ffmpeg, else how ffmpeg ended, None when unknown.
    ``exit_code``: ffmpeg's exit status (128 + signal for a signal death), None when unseen.
    ``killed_by``: which watchdog stopped ffmpeg, None when none did.
    """

    reason: str | None = None
    exit_code: int | None = None
    killed_by: KilledBy | None = None

    def to_json(self) -> str:
        reason = self.reason
        if reason is not None and len(reason) > _MAX_REASON_CHARS:
            reason = reason[: _MAX_REASON_CHARS - 1] + "…"
        return json.dumps(
            {"reason": reason, "exitCode": self.exit_code, "killedBy": self.killed_by},
            ensure_ascii=False,
        )


def write_termination_message(path: Path, message: TerminationMessage) -> bool:
    """Write ``message`` to ``path``; False (and a log line) when the file cannot be written."""
    try:
        with path.open("w", encoding="utf-8") as file:
            file.write(message.to_json())
    except OSError as error:
        log.warning("cannot write the termination message to %s: %s", path, error)
        return False
    return True
