"""The served HTTP protocol writes each answer's head and body in one write (api/oneshot.py)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from ffmpeg_operator.api.oneshot import OneWriteTransport
from livesrv import live_server


class _Recorder(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


async def _after_one_turn() -> None:
    await asyncio.sleep(0)


def test_writes_of_one_loop_turn_leave_as_one_write() -> None:
    async def scenario() -> list[bytes]:
        recorder = _Recorder()
        transport = OneWriteTransport(recorder, asyncio.get_running_loop())
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        transport.write(b'"OK"')
        assert recorder.writes == []  # held until the loop's next turn
        await _after_one_turn()
        transport.write(b"next")
        await _after_one_turn()
        return recorder.writes

    assert asyncio.run(scenario()) == [b'HTTP/1.1 200 OK\r\n\r\n"OK"', b"next"]


def test_close_sends_what_is_held_before_it_closes() -> None:
    async def scenario() -> _Recorder:
        recorder = _Recorder()
        transport = OneWriteTransport(recorder, asyncio.get_running_loop())
        transport.write(b"last words")
        transport.close()
        await _after_one_turn()
        return recorder

    recorder = asyncio.run(scenario())
    assert (recorder.writes, recorder.closed) == ([b"last words"], True)


def test_served_answers_arrive_whole_each_in_one_read(tmp_path: Path) -> None:
    # Written in two parts, a head and a body, some of the answers would arrive in two reads.
    with (
        live_server(tmp_path / "data") as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as client,
    ):
        for _ in range(20):
            client.sendall(b"GET /api/v3/process HTTP/1.1\r\nHost: x\r\n\r\n")
            head, _, body = client.recv(65536).partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200")
            assert body == b"[]"
