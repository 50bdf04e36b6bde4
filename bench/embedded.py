"""Embedded mode against its targets: start latency, list latency, server CPU, server memory.

All figures come from one server started for the run (``python -m ffmpeg_operator serve`` on a
free port, temporary data directory), driven over real HTTP by a keep-alive httpx client:

(a) POST of an autostart process until ``/state`` shows it running with frame > 0 (polled
    every 5 ms), against the same ffmpeg argv started directly until its first progress block;
(b) ``GET /api/v3/process`` (full, and ``?filter=config``) with 200 stopped processes;
(c) the server's own CPU while it supervises 20 light ffmpeg children, and theirs for context;
(d) the server's RSS idle and with 200 registered processes.
"""

from __future__ import annotations

import contextlib
import functools
import socket
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import psutil

from bench import harness
from bench.bare import first_progress_seconds
from bench.harness import process_path
from bench.report import Figure, render, save
from bench.server import RunningServer, served
from ffmpeg_operator.supervision.binary import find_ffmpeg

POLL_INTERVAL_S = 0.005


@dataclass(frozen=True)
class Plan:
    starts: int  # (a) repetitions
    listed_processes: int  # (b), (d)
    list_requests: int  # (b) per variant
    supervised: int  # (c) ffmpeg children
    cpu_window_s: float  # (c)

    @classmethod
    def full(cls) -> Plan:
        return cls(
            starts=10, listed_processes=200, list_requests=500, supervised=20, cpu_window_s=20.0
        )

    @classmethod
    def quick(cls) -> Plan:
        return cls(
            starts=5, listed_processes=200, list_requests=200, supervised=20, cpu_window_s=5.0
        )


#: The side-by-side process (bench/harness.py), at ``-loglevel error`` unless told: this server
#: reads progress from ``-progress``, not from the log.
process_config = functools.partial(harness.process_config, loglevel="error")


def ms(seconds: float) -> float:
    return seconds * 1000


def _wait_for_frames(client: httpx.Client, pid: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        state: dict[str, Any] = client.get(f"{process_path(pid)}/state").json()
        if state["exec"] == "running" and state["progress"]["frame"] > 0:
            return state
        time.sleep(POLL_INTERVAL_S)
    raise RuntimeError(f"process {pid} showed no frame within {timeout} s")


# --------------------------------------------------------------------------- (a)


def start_latency(client: httpx.Client, plan: Plan, binary: str) -> list[Figure]:
    served_s: list[float] = []
    bare_s: list[float] = []
    for index in range(plan.starts):
        pid = f"bench-start-{index}"
        started = time.perf_counter()
        created = client.post("/api/v3/process", json=process_config(pid, autostart=True, rate=25))
        created.raise_for_status()
        state = _wait_for_frames(client, pid)
        served_s.append(time.perf_counter() - started)
        client.delete(process_path(pid)).raise_for_status()
        # The same argv straight away, so both see the same machine load.
        bare_s.append(first_progress_seconds(binary, state["command"]))
    served_median = statistics.median(served_s)
    bare_median = statistics.median(bare_s)
    spread = f"server {min(served_s) * 1000:.0f}-{max(served_s) * 1000:.0f} ms, " + (
        f"bare {min(bare_s) * 1000:.0f}-{max(bare_s) * 1000:.0f} ms over {plan.starts} runs"
    )
    return [
        Figure(
            "(a) POST -> running, frame > 0",
            ms(served_median),
            "ms",
            reference=f"bare ffmpeg {ms(bare_median):.0f} ms",
            note=spread,
        ),
        Figure(
            "(a) start latency / bare ffmpeg",
            served_median / bare_median,
            "x",
            target=1.2,
            reference="median / median",
        ),
    ]


# --------------------------------------------------------------------------- (b), (d)


class RawClient:
    """A minimal keep-alive HTTP/1.1 client on a plain socket.

    httpx costs the benchmark's own process about a millisecond per request (headers, gzip,
    decoding), which is not the server's latency; this client sends fixed request bytes and
    reads exactly Content-Length bytes back, so the figure is the server's (as a C tool like
    wrk would measure it).
    """

    def __init__(self, base_url: str) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self._host = f"{host}:{port}"
        self._sock = socket.create_connection((host, int(port)))
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._file = self._sock.makefile("rb")

    def get(self, target: str) -> bytes:
        request = (
            f"GET {target} HTTP/1.1\r\nHost: {self._host}\r\n"
            "Accept-Encoding: gzip\r\nConnection: keep-alive\r\n\r\n"
        )
        self._sock.sendall(request.encode())
        status = self._file.readline()
        length = 0
        while True:
            line = self._file.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = self._file.read(length)
        if not status.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"GET {target}: {status!r}")
        return body

    def close(self) -> None:
        self._file.close()
        self._sock.close()


def _raw_latencies(base_url: str, params: dict[str, str], count: int) -> list[float]:
    target = "/api/v3/process" + ("?" + urlencode(params) if params else "")
    client = RawClient(base_url)
    try:
        for _ in range(min(20, count)):
            client.get(target)
        samples = []
        for _ in range(count):
            started = time.perf_counter()
            client.get(target)
            samples.append(time.perf_counter() - started)
        return samples
    finally:
        client.close()


def _latencies(client: httpx.Client, params: dict[str, str], count: int) -> list[float]:
    for _ in range(min(20, count)):  # warm-up: connection, caches, allocator
        client.get("/api/v3/process", params=params).raise_for_status()
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get("/api/v3/process", params=params)
        response.read()
        samples.append(time.perf_counter() - started)
        response.raise_for_status()
    return samples


def _quantile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def list_latency_and_memory(
    client: httpx.Client, server: RunningServer, plan: Plan, idle_rss: float
) -> list[Figure]:
    count = plan.listed_processes
    for index in range(count):
        pid = f"bench-list-{index:03d}"
        client.post("/api/v3/process", json=process_config(pid, autostart=False)).raise_for_status()
    figures = []
    variants = (
        ("full", {}, 2.0, "datarhei 1.75 ms"),
        ("?filter=config", {"filter": "config"}, 1.0, "datarhei 0.81 ms"),
    )
    for label, params, target, reference in variants:
        samples = _raw_latencies(server.base_url, params, plan.list_requests)
        with_httpx = _latencies(client, params, plan.list_requests)
        size = len(client.get("/api/v3/process", params=params).content)
        figures.append(
            Figure(
                f"(b) GET /process {label}, {count} stopped",
                ms(statistics.median(samples)),
                "ms",
                target=target,
                reference=reference,
                note=f"p90 {ms(_quantile(samples, 0.9)):.2f} ms over {len(samples)} requests "
                f"of a raw keep-alive client, gzip accepted, {size} bytes uncompressed; "
                f"with httpx as the client: median {ms(statistics.median(with_httpx)):.2f} ms",
            )
        )
    loaded_rss = server.rss_mib()
    for index in range(count):
        client.delete(process_path(f"bench-list-{index:03d}")).raise_for_status()
    figures += [
        Figure("(d) server RSS idle", idle_rss, "MiB", target=64.0),
        Figure(
            f"(d) server RSS, {count} processes",
            loaded_rss,
            "MiB",
            target=96.0,
            note="after creating them and listing them (b)",
        ),
    ]
    return figures


# --------------------------------------------------------------------------- (c)


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def _total_cpu(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):  # a child that ended meanwhile
            total += _cpu_seconds(process)
    return total


def supervision_cpu(client: httpx.Client, server: RunningServer, plan: Plan) -> list[Figure]:
    pids = [f"bench-cpu-{index:02d}" for index in range(plan.supervised)]
    for pid in pids:
        client.post("/api/v3/process", json=process_config(pid, autostart=True)).raise_for_status()
    for pid in pids:
        _wait_for_frames(client, pid)
    time.sleep(1.0)  # past the start-up of the last child
    children = server.process.children(recursive=True)
    server_before, children_before = _cpu_seconds(server.process), _total_cpu(children)
    started = time.perf_counter()
    time.sleep(plan.cpu_window_s)
    elapsed = time.perf_counter() - started
    server_after, children_after = _cpu_seconds(server.process), _total_cpu(children)
    running = sum(
        client.get(f"{process_path(pid)}/state").json()["exec"] == "running" for pid in pids
    )
    for pid in pids:
        client.delete(process_path(pid)).raise_for_status()
    window = f"{plan.cpu_window_s:.0f} s window, {running}/{len(pids)} children running at its end"
    return [
        Figure(
            f"(c) server CPU, {len(pids)} ffmpeg children",
            100 * (server_after - server_before) / elapsed,
            "% of a core",
            target=3.5,
            reference="testsrc 160x120@10 -re -> null",
            note=window,
        ),
        Figure(
            f"(c) the {len(children)} children's CPU together",
            100 * (children_after - children_before) / elapsed,
            "% of a core",
            reference="context only",
        ),
    ]


# --------------------------------------------------------------------------- main


def run(plan: Plan, progress: Callable[[str], None] = print) -> list[Figure]:
    binary = find_ffmpeg()
    with served() as server, httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        client.get("/api/v3/process").raise_for_status()  # lazy imports, first-request work
        time.sleep(1.0)
        idle_rss = server.rss_mib()
        progress("(a) start latency ...")
        figures = start_latency(client, plan, binary)
        progress(f"(b)/(d) {plan.listed_processes} processes: list latency and memory ...")
        figures += list_latency_and_memory(client, server, plan, idle_rss)
        progress(f"(c) server CPU over {plan.cpu_window_s:.0f} s ...")
        figures += supervision_cpu(client, server, plan)
    return figures


def main(quick: bool = False) -> int:
    plan = Plan.quick() if quick else Plan.full()
    figures = run(plan)
    print()
    print(render(figures))
    path = save("embedded", figures, {"quick": quick, **asdict(plan)})
    print(f"\nsaved {path}")
    return 0
