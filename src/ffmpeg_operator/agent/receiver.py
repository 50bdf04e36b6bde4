"""The TCP end of ffmpeg's ``-progress tcp://127.0.0.1:<port>``.

ffmpeg opens the progress URL while it parses its options, before any input, and fails when
nobody listens: the receiver must be up before ffmpeg starts (the native sidecar's startup
probe sees to that in the Pod). Each connection gets its own parser, so a reconnecting or
stray client cannot splice half a block into another's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from ffmpeg_operator.core.ffmpeg.progress_block import ProgressBlock, ProgressBlockParser
from ffmpeg_operator.supervision.lines import LineSplitter

log = logging.getLogger(__name__)

BlockCallback = Callable[[ProgressBlock], None]
ConnectionCallback = Callable[[bool], None]

_READ_SIZE = 64 * 1024


class ProgressReceiver:
    """An asyncio TCP server that hands every completed ``-progress`` block to a callback.

    ``on_connection`` hears of each connection: ``True`` when it opens, ``False`` when it
    closes after delivering at least one block (ffmpeg closes its progress URL only at exit;
    a close without blocks may be a port probe and is not reported).
    """

    def __init__(
        self,
        on_block: BlockCallback,
        host: str = "127.0.0.1",
        port: int = 0,
        on_connection: ConnectionCallback | None = None,
    ) -> None:
        self._on_block = on_block
        self._on_connection = on_connection
        self._host = host
        self._port = port
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port (the real one when 0 was asked for)."""
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), timeout=1.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = ProgressBlockParser()
        splitter = LineSplitter()
        blocks = 0
        self._notify(self._on_connection, True)
        try:
            while chunk := await reader.read(_READ_SIZE):
                for line in splitter.feed(chunk):
                    blocks += self._feed(parser, line)
            for line in splitter.flush():
                blocks += self._feed(parser, line)
        except ConnectionError:
            pass  # ffmpeg was killed mid-write: the blocks so far were delivered
        finally:
            writer.close()
        if blocks:
            self._notify(self._on_connection, False)

    def _feed(self, parser: ProgressBlockParser, line: str) -> int:
        block = parser.feed(line)
        if block is None:
            return 0
        self._notify(self._on_block, block)
        return 1

    @staticmethod
    def _notify(callback: Callable[[Any], None] | None, value: Any) -> None:
        if callback is None:
            return
        try:
            callback(value)
        except Exception:
            # A faulty consumer must not stop the reading, or ffmpeg would block on the socket.
            log.exception("progress receiver callback failed")
