"""Serve an ASGI app with uvicorn on asyncio's loop, ticking once a second instead of ten times.

uvicorn's main loop sleeps 0.1 s between checks of whether it should stop (and refreshes the
``Date`` header at every tenth): twenty event-loop iterations a second in a server that has
nothing to do, most of this server's idle CPU (bench/README.md). :class:`QuietServer` checks
once a second, which is as often as the ``Date`` header changes, and a stop signal wakes it at
once instead of at the next check.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from types import FrameType

import uvicorn
from starlette.types import ASGIApp

from ffmpeg_operator.api.oneshot import AnswerNow, answering

#: What uvicorn exits with when the server did not start (uvicorn.main.STARTUP_FAILURE).
STARTUP_FAILURE = 3

#: uvicorn's ``on_tick`` refreshes the Date header when its counter is a multiple of this.
_TICKS_PER_SECOND = 10
#: uvicorn wraps its counter at this value.
_COUNTER_WRAP = 864000


class QuietServer(uvicorn.Server):
    """:class:`uvicorn.Server` whose housekeeping tick is 1 s, woken early by a stop signal."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._wake = asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            # Every tick is a whole second: each one refreshes the Date header.
            counter = (counter + _TICKS_PER_SECOND) % _COUNTER_WRAP
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0)
            should_exit = await self.on_tick(counter)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # Signal handlers run in the main thread, which runs the event loop.
        if self._wake is not None:
            self._wake.set()


def serve(
    app: ASGIApp,
    *,
    host: str,
    port: int,
    access_log: bool,
    answer_now: AnswerNow | None = None,
) -> None:
    """What ``uvicorn.run(app, ...)`` does for one process without reload, with
    :class:`QuietServer` and one write per answer (:mod:`ffmpeg_operator.api.oneshot`), the
    requests ``answer_now`` answers from their head answered without a task; exits with
    uvicorn's status when the server could not start."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        access_log=access_log,
        http=answering(answer_now),
        # asyncio's own loop, not uvloop: 2.5 MiB less resident, and the single read, the one
        # request where uvloop's faster turn showed, is answered within the turn that reads
        # it (api/oneshot.py). bench/README.md has the figures.
        loop="asyncio",
    )
    server = QuietServer(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)
