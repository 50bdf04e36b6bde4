"""A process the agent watches and may stop but did not spawn (ffmpeg in the main container).

Not being its parent, the agent cannot ``wait()`` for it. It learns of the exit from a pidfd
(readable once the process has exited, Linux ≥ 5.3), else by polling, and reads the exit
status from ``/proc/<pid>/stat`` while the process is a zombie. In the Pod the container
runtime reaps ffmpeg at once, so the status is best effort; kubelet's container status stays
the authority on the exit code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal as signals
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from ffmpeg_operator.supervision.run import ExitState, exit_state

log = logging.getLogger(__name__)

#: Position of ``exit_code`` among the fields after ``(comm)`` in ``/proc/<pid>/stat``
#: (field 52 of proc(5), counted from 1 over the whole line).
_EXIT_CODE_FIELD = 49
_POLL_S = 0.2


@dataclass(frozen=True)
class ObservedExit:
    """How the process ended, as far as the agent could see.

    ``returncode`` follows Python: the exit status, or minus the signal number; None when the
    process was reaped before the agent could read it.
    """

    returncode: int | None

    @property
    def exit_code(self) -> int | None:
        """The status as a container runtime reports it: 128 + signal for a signal death."""
        if self.returncode is None:
            return None
        return 128 - self.returncode if self.returncode < 0 else self.returncode

    @property
    def exec_state(self) -> ExitState | None:
        return None if self.returncode is None else exit_state(self.returncode)


def read_zombie_returncode(pid: int, proc: Path = Path("/proc")) -> int | None:
    """The wait status of an exited, not yet reaped ``pid`` as a Python returncode, or None."""
    try:
        stat = (proc / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    if not fields or fields[0] not in ("Z", "X") or len(fields) <= _EXIT_CODE_FIELD:
        return None
    try:
        status = int(fields[_EXIT_CODE_FIELD])
    except ValueError:
        return None
    if status & 0x7F:
        return -(status & 0x7F)
    return (status >> 8) & 0xFF


class ForeignProcess:
    """A :class:`~ffmpeg_operator.supervision.monitor.Stoppable` over someone else's child.

    ``on_stop`` is called with the reason when a stop begins (before the first signal).
    """

    def __init__(
        self,
        process: psutil.Process,
        on_stop: Callable[[str | None], None] | None = None,
        grace_s: float = 5.0,
    ) -> None:
        self._process = process
        self._grace_s = grace_s
        self._on_stop = on_stop
        self.stop_reason: str | None = None
        self.sigkill_sent = False
        self._stop_task: asyncio.Task[None] | None = None
        self._exit: ObservedExit | None = None
        self._exited = asyncio.Event()
        self._watcher = asyncio.create_task(self._watch())

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def started_at(self) -> float:
        """Spawn time, unix seconds."""
        return self._process.create_time()

    @property
    def running(self) -> bool:
        return not self._exited.is_set()

    @property
    def stopping(self) -> bool:
        return self._stop_task is not None

    @property
    def exit(self) -> ObservedExit | None:
        return self._exit

    async def wait(self) -> ObservedExit:
        await self._exited.wait()
        assert self._exit is not None
        return self._exit

    def refresh(self) -> None:
        """Check now whether the process is gone (say, before a last report at SIGTERM)."""
        if self.running and not self._alive():
            self._record_exit()

    async def stop(self, reason: str | None = None, grace: float | None = None) -> None:
        """SIGINT, then SIGKILL when still alive after ``grace`` s (default: the one given at
        construction); idempotent, the first reason stays.
        """
        if self._stop_task is None:
            if self.running:
                self.stop_reason = reason
                if self._on_stop is not None:
                    self._on_stop(reason)
            self._stop_task = asyncio.create_task(
                self._stop(self._grace_s if grace is None else grace)
            )
        await asyncio.shield(self._stop_task)

    async def close(self) -> None:
        self._watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._watcher

    async def _stop(self, grace: float) -> None:
        if not self.running:
            return
        self._signal(signals.SIGINT)
        try:
            await asyncio.wait_for(self._exited.wait(), timeout=grace)
        except TimeoutError:
            self.sigkill_sent = True
            self._signal(signals.SIGKILL)
            await self._exited.wait()

    def _signal(self, signum: int) -> None:
        # psutil checks the PID still is the process we found (create time), so a recycled PID
        # is never signalled.
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            self._process.send_signal(signum)

    def _alive(self) -> bool:
        try:
            return self._process.is_running() and self._process.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def _record_exit(self) -> None:
        if self._exited.is_set():
            return
        self._exit = ObservedExit(read_zombie_returncode(self.pid))
        self._exited.set()

    async def _watch(self) -> None:
        pidfd = _open_pidfd(self.pid)
        if pidfd is not None:
            loop = asyncio.get_running_loop()
            readable = asyncio.Event()
            loop.add_reader(pidfd, readable.set)
            try:
                # The pidfd may refer to a process that had exited before it was opened.
                if self._alive():
                    await readable.wait()
            finally:
                loop.remove_reader(pidfd)
                os.close(pidfd)
        else:
            while self._alive():
                await asyncio.sleep(_POLL_S)
        self._record_exit()


def _open_pidfd(pid: int) -> int | None:
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return int(opener(pid))
    except OSError:
        return None
