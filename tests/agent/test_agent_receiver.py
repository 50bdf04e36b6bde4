"""The TCP end of ffmpeg's -progress: blocks in, connection news out."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from ffmpeg_operator.agent.receiver import ProgressReceiver
from ffmpeg_operator.core.ffmpeg.progress_block import ProgressBlock

pytestmark = pytest.mark.timeout(10)

BLOCK = b"frame=5\nfps=5.0\ntotal_size=1000\nout_time_us=500000\nspeed=1x\nprogress=continue\n"


async def _send(port: int, payload: bytes) -> None:
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def _until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"no {what}")


async def test_blocks_sent_in_pieces_arrive_whole() -> None:
    blocks: list[ProgressBlock] = []
    receiver = ProgressReceiver(blocks.append)
    await receiver.start()
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", receiver.port)
        for piece in (BLOCK[:7], BLOCK[7:30], BLOCK[30:], BLOCK.replace(b"continue", b"end")):
            writer.write(piece)
            await writer.drain()
        writer.close()
        await _until(lambda: len(blocks) == 2, "two blocks")
    finally:
        await receiver.close()

    assert blocks[0].frame == 5
    assert blocks[0].out_time_us == 500_000
    assert not blocks[0].ended
    assert blocks[1].ended


async def test_a_connection_without_blocks_is_not_reported_as_closed() -> None:
    events: list[bool] = []
    receiver = ProgressReceiver(lambda _block: None, on_connection=events.append)
    await receiver.start()
    try:
        await _send(receiver.port, b"")  # a TCP probe
        await _send(receiver.port, BLOCK)
        await _until(lambda: events.count(False) == 1, "the close of the second connection")
    finally:
        await receiver.close()

    assert events == [True, True, False]
