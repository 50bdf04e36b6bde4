"""The served HTTP protocol writes each answer's head and body in one write (api/oneshot.py)."""

from __future__ import annotations

import asyncio
import gzip
import logging
import socket
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.server import ServerState

from ffmpeg_operator.api.fastread import Answer
from ffmpeg_operator.api.oneshot import AnswerNow, OneWriteProtocol, OneWriteTransport
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

    def pause_reading(self) -> None:
        """uvicorn pauses reading while a pipelined request waits."""

    def resume_reading(self) -> None:
        """And resumes it when the request before it is answered."""


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


# --- answered at once ---------------------------------------------------------------------

_ANSWER = Answer(200, [(b"content-length", b"4"), (b"content-type", b"application/json")], b'"at"')
_READ = b"GET /api/v3/process/p HTTP/1.1\r\nHost: x\r\n\r\n"


async def _app_answer(scope: Scope, receive: Receive, send: Send) -> None:
    # The long way: a task, and an await before the answer.
    await asyncio.sleep(0)
    body = b'"app"'
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _Served:
    """One connection of :class:`OneWriteProtocol` over a recording transport."""

    def __init__(
        self, answer_now: AnswerNow | None, access_log: bool = False, app: ASGIApp = _app_answer
    ) -> None:
        config = uvicorn.Config(
            app,
            log_config=None,  # the records reach pytest's caplog
            log_level="info" if access_log else "warning",
            access_log=access_log,
        )
        config.load()
        self.transport = _Recorder()
        self.asked: list[str] = []

        def asked(scope: Scope) -> Answer | None:
            self.asked.append(scope["path"])
            return answer_now(scope) if answer_now is not None else None

        self.protocol = OneWriteProtocol(
            config=config, server_state=ServerState(), app_state={}, answer_now=asked
        )
        self.protocol.connection_made(self.transport)

    def answers(self) -> list[bytes]:
        """The bodies written so far, in order."""
        written = b"".join(self.transport.writes)
        return [part.split(b"\r\n\r\n", 1)[1][:5] for part in written.split(b"HTTP/1.1 ")[1:]]


async def _turns(count: int = 5) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


def test_a_request_answered_at_once_is_written_before_the_loop_turns() -> None:
    async def scenario() -> tuple[list[bytes], list[bytes]]:
        served = _Served(lambda scope: _ANSWER)
        served.protocol.data_received(_READ)
        return served.transport.writes, served.answers()

    writes, answers = asyncio.run(scenario())
    assert len(writes) == 1  # head and body in one write, already there
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert answers == [b'"at"']


def test_a_request_not_answered_at_once_goes_to_the_app() -> None:
    async def scenario() -> tuple[list[bytes], list[bytes]]:
        served = _Served(lambda scope: None)
        served.protocol.data_received(_READ)
        before = list(served.transport.writes)
        await _turns()
        return before, served.answers()

    before, answers = asyncio.run(scenario())
    assert before == []
    assert answers == [b'"app"']


def test_a_request_through_a_proxy_goes_to_the_app_which_sees_the_forwarded_client() -> None:
    forwarded = b"GET /api/v3/process/p HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n"

    async def scenario() -> tuple[list[str], list[bytes]]:
        served = _Served(lambda scope: _ANSWER)
        served.protocol.data_received(forwarded)
        await _turns()
        return served.asked, served.answers()

    asked, answers = asyncio.run(scenario())
    assert (asked, answers) == ([], [b'"app"'])


def test_a_failing_answer_at_once_leaves_the_request_to_the_app(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def failing(scope: Scope) -> Answer | None:
        raise RuntimeError("lookup broke")

    async def scenario() -> list[bytes]:
        served = _Served(failing)
        served.protocol.data_received(_READ)
        await _turns()
        return served.answers()

    assert asyncio.run(scenario()) == [b'"app"']
    assert "lookup broke" in caplog.text


def test_pipelined_requests_are_answered_in_order_also_when_one_is_answered_at_once() -> None:
    slow = b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"

    async def scenario() -> list[bytes]:
        served = _Served(lambda scope: _ANSWER if scope["path"] != "/slow" else None)
        served.protocol.data_received(slow + _READ)
        await _turns(10)
        return served.answers()

    assert asyncio.run(scenario()) == [b'"app"', b'"at"']


def test_a_long_pipeline_behind_a_slow_request_is_answered_whole_and_in_order() -> None:
    # Each answer's completion starts the next request of the pipeline: answered inside one
    # another, thousands of them would exhaust the stack.
    count = 3000

    def named(scope: Scope) -> Answer:
        body = scope["path"].encode()
        return Answer(200, [(b"content-length", str(len(body)).encode())], body)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await asyncio.sleep(0)
        for message in named(scope).messages():
            await send(message)

    async def scenario() -> list[bytes]:
        served = _Served(lambda scope: named(scope) if scope["path"] != "/slow" else None, app=app)
        reads = b"".join(b"GET /%d HTTP/1.1\r\nHost: x\r\n\r\n" % index for index in range(count))
        served.protocol.data_received(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n" + reads)
        await _turns(count + 20)
        written = b"".join(served.transport.writes)
        return [part.split(b"\r\n\r\n", 1)[1] for part in written.split(b"HTTP/1.1 ")[1:]]

    assert asyncio.run(scenario()) == [b"/slow", *(b"/%d" % index for index in range(count))]


def test_an_answer_at_once_is_in_the_access_log(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        served = _Served(lambda scope: _ANSWER, access_log=True)
        served.protocol.data_received(_READ)

    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        asyncio.run(scenario())
    assert '"GET /api/v3/process/p HTTP/1.1" 200' in caplog.text


def test_an_answer_at_once_closes_the_connection_the_client_asked_to_close() -> None:
    closing = b"GET /api/v3/process/p HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

    async def scenario() -> bool:
        served = _Served(lambda scope: _ANSWER)
        served.protocol.data_received(closing)
        return served.transport.closed

    assert asyncio.run(scenario())


def _raw_answer(client: socket.socket, request: bytes) -> tuple[bytes, list[bytes], bytes]:
    """Status line, headers (without the date) and body of one answer."""
    client.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        data += client.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    length = next(
        int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += client.recv(65536)
    if b"content-encoding: gzip" in (line.lower() for line in lines):
        body = gzip.decompress(body)  # its header holds the second it was written
    return status, sorted(line for line in lines if not line.lower().startswith(b"date:")), body


@pytest.mark.parametrize(
    "path, more_headers",
    [
        ("same", b""),
        ("same?filter=state", b""),
        ("same?filter=config,metadata", b""),
        ("same", b"Accept-Encoding: gzip\r\n"),
        ("same?filter=missing", b""),
        ("same/state", b""),
        ("same/state?filter=config", b""),
        ("same/config", b""),
        ("same/config", b"Accept-Encoding: gzip\r\n"),
        ("other/state", b""),
        ("same/report", b""),
    ],
)
def test_a_single_read_answered_at_once_is_the_answer_the_app_writes(
    tmp_path: Path, path: str, more_headers: bytes
) -> None:
    # The header sends the same read the long way (through uvicorn's proxy-headers middleware
    # and the app: its route for a state or config); everything but the date must be the same.
    config = {
        "id": "same",
        "reference": "r" * 1200,  # big enough for gzip
        "input": [{"address": "testsrc", "options": ["-f", "lavfi"]}],
        "output": [{"address": "-", "options": ["-f", "null"]}],
        "autostart": False,
    }
    with live_server(tmp_path / "data") as server:
        assert httpx.post(f"{server.base_url}/api/v3/process", json=config).status_code == 200
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
            read = f"GET /api/v3/process/{path} HTTP/1.1\r\nHost: x\r\n".encode() + more_headers
            at_once = _raw_answer(client, read + b"\r\n")
            the_long_way = _raw_answer(client, read + b"X-Forwarded-Proto: http\r\n\r\n")
    expected = b"HTTP/1.1 404 Not Found" if path.startswith("other") else b"HTTP/1.1 200 OK"
    assert at_once[0] == expected
    assert at_once == the_long_way


def test_a_whole_answer_leaves_as_soon_as_its_last_part_is_sent() -> None:
    # Nothing else can join it: waiting for the loop's next turn would only delay it.
    transports: list[_Recorder] = []
    on_the_wire: list[list[bytes]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})
        on_the_wire.append(list(transports[0].writes))

    async def scenario() -> None:
        served = _Served(None, app=app)
        transports.append(served.transport)
        served.protocol.data_received(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await _turns()

    asyncio.run(scenario())
    assert len(on_the_wire[0]) == 1
    assert on_the_wire[0][0].endswith(b"\r\n\r\nok")
