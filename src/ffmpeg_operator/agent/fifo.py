"""Named pipes ffmpeg writes into from its own container: its report and per-stream stats.

The agent cannot read ffmpeg's stderr (kubelet has it), so the Pod gives ffmpeg
``FFREPORT=file=<fifo>`` (the stream dump at every log level) and ``-vstats_file <fifo>``,
both in the ``/tmp`` volume the containers share. The agent makes the FIFOs and opens them
before its health check answers, i.e. before ffmpeg starts: ffmpeg's ``fopen`` of a FIFO
waits for a reader, and a FIFO read before any writer came would report end-of-file. The
agent also holds a write end of its own, so a reader never sees an end between two writers
(ffmpeg opens the stats file only when it encodes its first video frame) and the pipe lives
as long as the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path

from ffmpeg_operator.supervision.lines import LineSplitter

log = logging.getLogger(__name__)

LineCallback = Callable[[str], None]

_READ_SIZE = 64 * 1024


class FifoReader:
    """One FIFO at ``path`` whose lines go to ``on_line`` while :meth:`start`-ed."""

    def __init__(self, path: Path, on_line: LineCallback) -> None:
        self.path = path
        self._on_line = on_line
        self._keepalive: int | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Make the FIFO (replacing anything else at the path), open it, start reading."""
        with contextlib.suppress(FileNotFoundError):
            if not stat.S_ISFIFO(os.lstat(self.path).st_mode):
                os.unlink(self.path)
        if not self.path.exists():
            os.mkfifo(self.path)
        # Writable by ffmpeg also when a pod template runs it as another user: /tmp is the
        # Pod's own volume, and ffmpeg exits when it cannot open its -vstats_file.
        os.chmod(self.path, 0o666)
        read_fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        self._keepalive = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
        self._task = asyncio.create_task(self._pump(read_fd))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._keepalive is not None:
            os.close(self._keepalive)
            self._keepalive = None

    async def _pump(self, read_fd: int) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        pipe = os.fdopen(read_fd, "rb", buffering=0)
        transport, _protocol = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
        splitter = LineSplitter()
        try:
            while chunk := await reader.read(_READ_SIZE):
                for line in splitter.feed(chunk):
                    self._deliver(line)
        finally:
            transport.close()

    def _deliver(self, line: str) -> None:
        try:
            self._on_line(line)
        except Exception:
            # ffmpeg would block on a full pipe if a faulty consumer stopped the reading.
            log.exception("%s: line callback failed", self.path)
