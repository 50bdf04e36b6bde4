"""The agent's HTTP side and its process lifetime: ``/state``, ``/metrics``, ``/healthz``,
the progress receiver, the supervision task and SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal as signals
from collections.abc import Iterator
from typing import Any

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ffmpeg_operator.agent.fifo import FifoReader
from ffmpeg_operator.agent.metrics import render_agent_metrics
from ffmpeg_operator.agent.options import AgentOptions
from ffmpeg_operator.agent.receiver import ProgressReceiver
from ffmpeg_operator.agent.run_agent import RunAgent
from ffmpeg_operator.application import Application

log = logging.getLogger(__name__)


def create_agent_app(agent: RunAgent) -> Application:
    """The three read-only routes; nothing here changes the run."""

    # Plain functions: Starlette's routes run them in their thread pool, off the supervising loop.
    def state(_: Request) -> Response:
        return JSONResponse(agent.state_document())

    def metrics(_: Request) -> Response:
        body = render_agent_metrics(agent)
        # Imported at the first scrape, as render_agent_metrics does (agent/metrics.py).
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(body, media_type=CONTENT_TYPE_LATEST)

    def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok", "exec": agent.exec_state})

    return Application(
        routes=[
            Route("/state", state, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )


class _AgentHTTPServer(uvicorn.Server):
    """uvicorn without its own signal handling: SIGTERM belongs to :func:`run_agent`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def run_agent(options: AgentOptions) -> None:
    """Serve until SIGTERM (or SIGINT), then write the termination message and return."""
    agent = RunAgent(options)
    receiver = ProgressReceiver(
        agent.on_block,
        host=options.progress_host,
        port=options.progress_port,
        on_connection=agent.on_progress_connection,
    )
    fifos = [
        FifoReader(path, callback)
        for path, callback in (
            (options.report_fifo, agent.on_report_line),
            (options.stats_fifo, agent.on_stats_line),
        )
        if path is not None
    ]
    # Progress and FIFOs first: once /healthz answers, ffmpeg may start and open them.
    for fifo in fifos:
        fifo.start()
    await receiver.start()
    http = _AgentHTTPServer(
        uvicorn.Config(
            create_agent_app(agent),
            host=options.http_host,
            port=options.http_port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signals.SIGTERM, signals.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    serving = asyncio.create_task(http.serve())
    supervising = asyncio.create_task(agent.supervise())
    failure = await _until_stopped(stop, serving, supervising)
    message = await agent.shutdown()
    log.info("agent stopping, termination message: %s", message.to_json())
    supervising.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await supervising
    http.should_exit = True
    with contextlib.suppress(Exception):
        await serving
    await receiver.close()
    for fifo in fifos:
        await fifo.close()
    if failure is not None:
        # A crashed part must end the agent (kubelet restarts it), not leave it half alive.
        raise failure


async def _until_stopped(
    stop: asyncio.Event, serving: asyncio.Task[None], supervising: asyncio.Task[None]
) -> BaseException | None:
    """Wait for the stop signal; return early with the error of a task that failed.

    Supervision ending without error is normal (ffmpeg exited): the agent stays up and keeps
    answering until kubelet stops it. The HTTP server ending at all is a failure.
    """
    stopping = asyncio.create_task(stop.wait())
    watched: set[asyncio.Task[Any]] = {stopping, serving, supervising}
    try:
        while True:
            done, watched = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            if stopping in done:
                return None
            if serving in done:
                return serving.exception() or RuntimeError("the HTTP server stopped")
            if supervising in done and supervising.exception() is not None:
                return supervising.exception()
    finally:
        stopping.cancel()
