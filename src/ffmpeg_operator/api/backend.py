"""What the v3 routes need from an engine: the local supervisor or FFmpegProcess resources.

Routes translate HTTP into these calls and the errors of :mod:`ffmpeg_operator.core.errors`
back into datarhei's status codes and bodies, so both backends behave the same to a client.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ffmpeg_operator.core.models import Probe, Process, ProcessConfig, ProcessReport, ProcessState
from ffmpeg_operator.core.skills import Skills


class ProcessBackend(Protocol):
    async def list_references(self) -> list[tuple[str, str]]:
        """(id, reference) of every process, for the list filters."""
        ...

    async def get_processes(self, ids: Sequence[str], aspects: frozenset[str]) -> list[Process]:
        """The processes in this order (an ID may repeat); unknown IDs are skipped."""
        ...

    async def get_config(self, pid: str) -> ProcessConfig: ...

    async def get_state(self, pid: str) -> ProcessState: ...

    async def get_report(self, pid: str) -> ProcessReport: ...

    async def create(self, config: ProcessConfig) -> ProcessConfig: ...

    async def update(self, pid: str, config: ProcessConfig) -> ProcessConfig: ...

    async def delete(self, pid: str) -> None: ...

    async def command(self, pid: str, command: str) -> None: ...

    async def probe(self, pid: str) -> Probe: ...

    async def get_metadata(self, pid: str | None, key: str | None) -> Any:
        """Metadata of a process (``pid``) or global (``None``); whole object when no key."""
        ...

    async def set_metadata(self, pid: str | None, key: str, value: Any) -> None:
        """Store a value; ``None`` deletes the key."""
        ...

    async def skills(self, reload: bool = False) -> Skills: ...
