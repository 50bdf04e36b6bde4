"""One supervised ffmpeg child process (spec §4.2, §4.3, §9.1, §9.2).

:class:`FFmpegRun` spawns ffmpeg without a shell, reads stderr line by line and a second pipe
carrying ``-progress`` key=value lines, and hands every line to a callback. It knows how the
process ended (``finished`` / ``failed`` / ``killed``) and how to stop it (SIGINT, then SIGKILL
after a grace period). Parsing the lines is someone else's job.

The progress pipe: Core injects nothing, but stock ffmpeg's stderr stats are missing for
audio-only outputs and below ``-loglevel info`` (§4.6, §9.4), so we add ``-progress pipe:N``
where N is the descriptor number of the pipe's write end in the child (``pass_fds`` keeps the
number). Injected flags go in front of the config's arguments and never show up in
:attr:`FFmpegRun.command`.

Two more pipes are optional: ffmpeg's report (``FFREPORT=file=/dev/fd/N``), which carries the
stream dump whatever the log level, and a per-stream statistics file whose path the caller
puts into the arguments (``argv_for_stats``). Both are read like stderr, line by line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal as signals
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ffmpeg_operator.core.argv import report_env
from ffmpeg_operator.supervision.lifeline import Lifeline, current_lifeline
from ffmpeg_operator.supervision.lines import LineSplitter

log = logging.getLogger(__name__)

ExitState = Literal["finished", "failed", "killed"]
LineCallback = Callable[[str], None]
InjectedFlagsFactory = Callable[[str], Sequence[str]]
#: Builds ffmpeg's arguments around the path of the per-stream statistics pipe.
StatsArgvFactory = Callable[[str], Sequence[str]]

#: Core's stop grace period before SIGKILL (§4.3).
DEFAULT_GRACE_S = 5.0

#: Variables passed on to ffmpeg. Core gives ffmpeg an empty environment; we do the same
#: (no PATH, no locale, no secrets of ours) except for what changes where ffmpeg finds its
#: shared libraries, TLS trust store and fonts, or which time zone strftime-style output names
#: use; when they are unset in our environment, ffmpeg sees exactly Core's empty environment.
INHERITED_ENV_VARS = (
    "LD_LIBRARY_PATH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "FONTCONFIG_FILE",
    "FONTCONFIG_PATH",
    "TZ",
)

#: After ffmpeg exited, how long its pipes may take to deliver their last bytes.
_DRAIN_TIMEOUT_S = 2.0
_READ_SIZE = 64 * 1024


class FFmpegSpawnError(RuntimeError):
    """ffmpeg could not be started; ``str()`` is the text for the run's log (Go's wording)."""


@dataclass(frozen=True)
class ExitInfo:
    """How a run ended.

    ``returncode`` is the exit status, -1 when a signal ended the process (as Go reports it);
    ``signal`` the signal number then. ``stop_reason`` is the reason given to :meth:`stop`
    (None when ffmpeg ended by itself).
    """

    returncode: int
    signal: int | None
    exec_state: ExitState
    stop_reason: str | None = None


def exit_state(returncode: int) -> ExitState:
    """Map a Python returncode (negative = killed by that signal) to the exec state (§4.2)."""
    if returncode < 0:
        return "killed"
    # 255 is ffmpeg's "Exiting normally, received signal N" after SIGINT/SIGTERM.
    if returncode in (0, 255):
        return "finished"
    return "failed"


def default_injected_flags(progress_url: str) -> list[str]:
    """``-nostdin`` (stdin is the null device anyway) and the progress pipe."""
    return ["-nostdin", "-progress", progress_url]


def child_environment(parent: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment ffmpeg gets: only :data:`INHERITED_ENV_VARS` set in ``parent``."""
    source = os.environ if parent is None else parent
    return {name: source[name] for name in INHERITED_ENV_VARS if name in source}


def _resolve_binary(binary: str) -> str:
    # ffmpeg gets no PATH, so a bare name is looked up here, in our PATH, as Go's exec does.
    if os.sep in binary:
        return binary
    found = shutil.which(binary)
    if found is None:
        raise FFmpegSpawnError(f'exec: "{binary}": executable file not found in $PATH')
    return found


def _go_error_text(error: OSError) -> str:
    # Go's syscall error strings are Python's strerror in lower case ("no such file ...").
    message = os.strerror(error.errno) if error.errno else str(error)
    return message[:1].lower() + message[1:]


class _Child(Protocol):
    """What a run needs of its process (``asyncio.subprocess.Process`` fits)."""

    @property
    def pid(self) -> int: ...

    def send_signal(self, signum: int) -> None: ...

    async def wait(self) -> int: ...


class _PidfdChild:
    """A child spawned by :class:`subprocess.Popen` whose exit the loop learns from a pidfd.

    Popen spawns with ``vfork`` (about 1 ms). The event loops' own spawns could not: uvloop's
    forked the whole server (about 14 ms with 60 MiB resident, which every start and restart
    request waited for), asyncio's waits for each child in a thread of its own, and any
    ``preexec_fn`` forces a fork as well. Reaping goes through the Popen object only
    (``poll``), so nothing else collects the exit status.
    """

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        loop = asyncio.get_running_loop()
        self._exited: asyncio.Future[int] = loop.create_future()
        self._pidfd = os.pidfd_open(popen.pid)
        loop.add_reader(self._pidfd, self._on_exit)

    @property
    def pid(self) -> int:
        return self._popen.pid

    def send_signal(self, signum: int) -> None:
        self._popen.send_signal(signum)  # does nothing once the child was reaped

    def _on_exit(self) -> None:
        returncode = self._popen.poll()
        if returncode is None:
            return
        asyncio.get_running_loop().remove_reader(self._pidfd)
        os.close(self._pidfd)
        if not self._exited.done():
            self._exited.set_result(returncode)

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)


async def _spawn(
    executable: str,
    argv: list[str],
    *,
    stderr: int,
    pass_fds: tuple[int, ...],
    env: dict[str, str],
    group: int,
) -> _Child:
    """Start ``executable argv`` in process group ``group`` (see :mod:`.lifeline`).

    Where Linux has pidfds, :class:`subprocess.Popen` spawns it (vfork) and the loop learns of
    its exit from the pidfd; elsewhere asyncio's own subprocess does both.
    """
    common: dict[str, Any] = {
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.DEVNULL,
        "stderr": stderr,
        "pass_fds": pass_fds,
        "env": env,
        "process_group": group,
    }
    if hasattr(os, "pidfd_open"):
        return _PidfdChild(subprocess.Popen([executable, *argv], **common))
    return await asyncio.create_subprocess_exec(executable, *argv, **common)


class FFmpegRun:
    """A running (or ended) ffmpeg child. Create it with :meth:`start`."""

    def __init__(
        self,
        process: _Child,
        command: list[str],
        readers: list[asyncio.Task[None]],
        started_at: float,
        *,
        stderr: _PipeReader | None = None,
        lifeline: Lifeline | None = None,
    ) -> None:
        self._process = process
        self._lifeline = lifeline
        self.command = command
        self.started_at = started_at
        self._readers = readers
        self._stderr = stderr
        self._stop_reason: str | None = None
        self._stop_task: asyncio.Task[None] | None = None
        self._exit_task: asyncio.Task[ExitInfo] = asyncio.create_task(self._await_exit())

    @classmethod
    async def start(
        cls,
        binary: str,
        argv: Sequence[str],
        injected_flags_factory: InjectedFlagsFactory = default_injected_flags,
        on_stderr_line: LineCallback | None = None,
        on_progress_line: LineCallback | None = None,
        *,
        env: Mapping[str, str] | None = None,
        on_report_line: LineCallback | None = None,
        on_stats_line: LineCallback | None = None,
        argv_for_stats: StatsArgvFactory | None = None,
    ) -> FFmpegRun:
        """Spawn ``binary`` with the injected flags then ``argv`` (the config's command line).

        ``injected_flags_factory`` receives the progress URL (``pipe:N``); ``env`` replaces
        :func:`child_environment`. With ``on_report_line``, ffmpeg's report goes to a pipe
        read into that callback. With ``on_stats_line`` and ``argv_for_stats``, the arguments
        run are ``argv_for_stats(<path of a pipe>)`` (``argv`` stays the :attr:`command`), and
        the pipe's lines go to ``on_stats_line``. Raises :class:`FFmpegSpawnError` when the
        spawn fails.
        """
        executable = _resolve_binary(binary)
        # The pipes are ours, not asyncio's: asyncio's Process.wait() would also wait for its
        # pipes to close, which a grandchild holding stderr could delay forever.
        stderr_read, stderr_write = os.pipe()
        progress_read, progress_write = os.pipe()
        pipes: list[tuple[int, int, LineCallback | None]] = [
            (stderr_read, stderr_write, on_stderr_line)
        ]
        pipes.append((progress_read, progress_write, on_progress_line))
        child_env = child_environment() if env is None else dict(env)
        run_argv = list(argv)
        if on_report_line is not None:
            report_read, report_write = os.pipe()
            pipes.append((report_read, report_write, on_report_line))
            child_env.update(report_env(f"/dev/fd/{report_write}"))
        if on_stats_line is not None and argv_for_stats is not None:
            stats_read, stats_write = os.pipe()
            pipes.append((stats_read, stats_write, on_stats_line))
            run_argv = list(argv_for_stats(f"/dev/fd/{stats_write}"))
        try:
            flags = list(injected_flags_factory(f"pipe:{progress_write}"))
            line = current_lifeline(DEFAULT_GRACE_S)
            process = await _spawn(
                executable,
                [*flags, *run_argv],
                stderr=stderr_write,
                pass_fds=tuple(write for _read, write, _callback in pipes[1:]),
                env=child_env,
                group=line.group,
            )
            line.joined()
        except BaseException as error:
            for read, _write, _callback in pipes:
                os.close(read)
            if isinstance(error, OSError):
                raise FFmpegSpawnError(
                    f"fork/exec {executable}: {_go_error_text(error)}"
                ) from error
            if isinstance(error, ValueError):
                # A NUL byte in an argument: what Go's exec reports as EINVAL.
                raise FFmpegSpawnError(f"fork/exec {executable}: invalid argument") from error
            raise
        finally:
            # The child holds its own copies; ours must go so the readers see EOF at exit.
            for _read, write, _callback in pipes:
                os.close(write)
        started_at = time.time()
        pumps = [_PipeReader(read, callback) for read, _write, callback in pipes]
        readers = [asyncio.create_task(pump.run()) for pump in pumps]
        return cls(process, list(argv), readers, started_at, stderr=pumps[0], lifeline=line)

    @property
    def pid(self) -> int:
        return self._process.pid

    def read_stderr_now(self) -> None:
        """Deliver, now, the stderr lines ffmpeg has already written.

        Lines reach us through separate pipes; a consumer that must see everything ffmpeg wrote
        to stderr before a line of another pipe (the prelude ends at the first progress
        report) calls this first.
        """
        if self._stderr is not None:
            self._stderr.read_available()

    @property
    def running(self) -> bool:
        return not self._exit_task.done()

    @property
    def stop_reason(self) -> str | None:
        return self._stop_reason

    async def wait(self) -> ExitInfo:
        """Wait until ffmpeg exited and both pipes are drained (every line delivered)."""
        return await asyncio.shield(self._exit_task)

    async def stop(self, reason: str | None = None, grace: float = DEFAULT_GRACE_S) -> None:
        """SIGINT, then SIGKILL when still alive after ``grace`` s; return once it exited.

        Idempotent: later calls wait for the first stop and keep its reason. The SIGINT goes
        out before the first await, so a caller may do other work while ffmpeg exits (the
        exit takes ffmpeg ~10 ms: its loop notices the signal between two frames).
        """
        if self._stop_task is None:
            if self.running:
                self._stop_reason = reason
                self._signal(signals.SIGINT)
            self._stop_task = asyncio.create_task(self._stop(grace))
        await asyncio.shield(self._stop_task)

    async def _stop(self, grace: float) -> None:
        """Wait for the exit after the SIGINT that :meth:`stop` sent; SIGKILL after ``grace``."""
        if not self.running:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._exit_task), timeout=grace)
        except TimeoutError:
            self._signal(signals.SIGKILL)
            await asyncio.shield(self._exit_task)

    def _signal(self, signum: int) -> None:
        # The process may have exited between the check and the signal.
        with contextlib.suppress(ProcessLookupError):
            self._process.send_signal(signum)

    async def _await_exit(self) -> ExitInfo:
        returncode = await self._process.wait()
        if self._lifeline is not None:
            self._lifeline.left()
        _done, pending = await asyncio.wait(self._readers, timeout=_DRAIN_TIMEOUT_S)
        for task in pending:
            task.cancel()
        return ExitInfo(
            returncode=-1 if returncode < 0 else returncode,
            signal=-returncode if returncode < 0 else None,
            exec_state=exit_state(returncode),
            stop_reason=self._stop_reason,
        )


def _deliver(lines: list[str], callback: LineCallback | None) -> None:
    if callback is None:
        return
    for line in lines:
        try:
            callback(line)
        except Exception:
            # A faulty consumer must not stop the reading, or ffmpeg would block on a full pipe.
            log.exception("line callback failed")


class _PipeReader:
    """Delivers the lines of one pipe until EOF; closes it.

    A reader callback on the event loop reads the pipe directly: no transport, stream reader
    and task wake-up per chunk (up to four pipes per running ffmpeg, a few chunks a second).
    """

    def __init__(self, fd: int, callback: LineCallback | None) -> None:
        self._fd = fd
        self._callback = callback
        self._splitter = LineSplitter()
        self._ended: asyncio.Future[None] | None = None

    def read_available(self) -> None:
        """Read one chunk, if there is one, and deliver its lines (the loop's reader callback)."""
        ended = self._ended
        if ended is None or ended.done():
            return
        try:
            chunk = os.read(self._fd, _READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as error:
            ended.set_exception(error)
            return
        if not chunk:
            ended.set_result(None)
            return
        _deliver(self._splitter.feed(chunk), self._callback)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        os.set_blocking(self._fd, False)
        self._ended = ended = loop.create_future()
        loop.add_reader(self._fd, self.read_available)
        try:
            await ended
        finally:
            loop.remove_reader(self._fd)
            os.close(self._fd)
        _deliver(self._splitter.flush(), self._callback)
