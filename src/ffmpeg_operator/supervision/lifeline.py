"""ffmpeg ends with this process, however this process ends (``kill -9`` included).

Every ffmpeg child joins the process group of one small watcher, ``sh``, whose stdin is a pipe
only this process holds. When this process is gone (exit, crash, ``kill -9``) the kernel
closes the pipe; the watcher reads end of file and signals its whole group: SIGTERM, on which
ffmpeg finishes its outputs, then SIGKILL after the grace for whatever still runs. Without it
ffmpeg would outlive a crashed server (Core's children do), and the restarted server would run
every process twice.

The group lives in our session but is not its foreground group: a Ctrl-C on our terminal
reaches us, not ffmpeg (stopping the children is the supervisor's decision). A graceful exit
tells the watcher to leave without signalling when no child is left.

Cheaper than what came before: ``setpriv --pdeathsig`` in front of every ffmpeg was a second
exec, with its own dynamic linking, on every start and restart (ffmpeg's exec 1.1 ms later), and
a ``preexec_fn`` setting the parent-death signal turns the vfork into a fork of the whole server
(4 ms at 40 MiB resident).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import subprocess
import threading

log = logging.getLogger(__name__)

#: What the watcher does: wait for end of file (or "done" on a graceful exit), then end the
#: group. TERM is ignored from then on so that it outlives its own signal and sends the KILL.
_WATCH = (
    'read line; [ "$line" = done ] && exit 0; '
    'trap "" TERM; kill -TERM 0; sleep {grace}; kill -KILL 0'
)


class Lifeline:
    """One watcher and its process group. :attr:`group` is the group for new children."""

    def __init__(self, grace_s: float) -> None:
        read, self._write = os.pipe()
        try:
            self._watcher = subprocess.Popen(
                ["/bin/sh", "-c", _WATCH.format(grace=f"{grace_s:g}")],
                stdin=read,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={"PATH": os.environ.get("PATH", os.defpath)},
                process_group=0,
            )
        except BaseException:
            os.close(self._write)
            raise
        finally:
            os.close(read)
        self._members = 0
        self._closed = False

    @property
    def group(self) -> int:
        return self._watcher.pid

    @property
    def alive(self) -> bool:
        return self._watcher.poll() is None

    def joined(self) -> None:
        self._members += 1

    def left(self) -> None:
        self._members -= 1

    def close(self) -> None:
        """Let the watcher go: quietly when no child is left, else as if we had died."""
        if self._closed:
            return
        self._closed = True
        if self._members <= 0 and self.alive:
            with contextlib.suppress(OSError):
                os.write(self._write, b"done\n")
            os.close(self._write)
            self._watcher.wait()
        else:
            os.close(self._write)  # the watcher ends the group; no need to wait for its grace


class _Current:
    """The lifeline of this process: started at the first spawn, again if its watcher died."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lifeline: Lifeline | None = None

    def get(self, grace_s: float) -> Lifeline:
        with self._lock:
            current = self._lifeline
            if current is not None and not current.alive:
                log.warning(
                    "the watcher of ffmpeg's process group %d ended: its ffmpeg processes no "
                    "longer end with this server; new ones join a new group",
                    current.group,
                )
                current = None
            if current is None:
                current = self._lifeline = Lifeline(grace_s)
                atexit.register(current.close)
            return current


#: The lifeline new children join: :meth:`_Current.get`.
current_lifeline = _Current().get
