"""uvicorn's server with a 1 s housekeeping tick (api/serving.py)."""

from __future__ import annotations

import asyncio
import signal

import uvicorn

from ffmpeg_operator.api.serving import QuietServer
from ffmpeg_operator.application import Application


def _server() -> QuietServer:
    config = uvicorn.Config(Application(), log_level="warning")
    config.load()
    return QuietServer(config)


async def test_a_stop_signal_ends_the_main_loop_before_the_next_tick() -> None:
    server = _server()
    loop_task = asyncio.create_task(server.main_loop())
    await asyncio.sleep(0.05)
    assert not loop_task.done()
    server.handle_exit(signal.SIGTERM, None)
    # The tick is 1 s: without the wake-up the loop would still be asleep here.
    await asyncio.wait_for(loop_task, 0.5)
    assert server.should_exit


async def test_every_tick_refreshes_the_date_header() -> None:
    server = _server()
    loop_task = asyncio.create_task(server.main_loop())
    await asyncio.sleep(0.05)
    assert b"date" in dict(server.server_state.default_headers)
    server.server_state.default_headers = []
    await asyncio.sleep(1.2)
    server.handle_exit(signal.SIGTERM, None)
    await asyncio.wait_for(loop_task, 0.5)
    assert b"date" in dict(server.server_state.default_headers)
