"""One HTTP harness for any server that speaks datarhei's v3 process API.

It only talks HTTP (a minimal keep-alive socket client, so the figures are the server's and not
the client library's) and reads the server's ``/proc/<pid>`` entries, so the same code measures
this package's server and datarhei Core side by side (``python -m bench embedded --core ...``):

- mutations: ``POST`` of a stopped process, ``POST`` with autostart, ``PUT`` (a new reference),
  ``PUT .../command`` start and stop, ``DELETE``, each timed per request, with 0, 200 and 1,000
  other (stopped) processes registered, so the growth with N shows;
- ``GET /api/v3/process/{id}`` and the list (full, ``?filter=config``, ``?filter=state``);
- POST of an autostart process until ``/state`` shows it running with frame > 0;
- the server's own CPU (utime + stime from ``/proc/<pid>/stat``) per running ffmpeg while it
  supervises 20 light children, and its RSS (``VmRSS``) idle and with 200 processes.
"""

from __future__ import annotations

import gzip
import json
import os
import socket
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

POLL_INTERVAL_S = 0.005
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- the client


class HttpError(RuntimeError):
    pass


class RawClient:
    """A keep-alive HTTP/1.1 client on a plain socket: fixed request bytes, exact reads.

    An HTTP library costs the benchmark's own process about a millisecond per request
    (headers, decoding), which is not the server's latency; this client is what a C tool
    like wrk would measure. It reads Content-Length and chunked bodies and un-gzips.
    """

    def __init__(self, base_url: str) -> None:
        host, port = base_url.removeprefix("http://").rstrip("/").split(":")
        self._address = (host, int(port))
        self._host = f"{host}:{port}"
        self._connect()

    def _connect(self) -> None:
        self._sock = socket.create_connection(self._address, timeout=60)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._file = self._sock.makefile("rb")

    def request(
        self, method: str, target: str, body: Any = None, *, gzip_ok: bool = False
    ) -> tuple[int, bytes]:
        try:
            return self._request(method, target, body, gzip_ok=gzip_ok)
        except (HttpError, ConnectionError):
            # The server closed an idle keep-alive connection (uvicorn after 5 s): once more.
            self.close()
            self._connect()
            return self._request(method, target, body, gzip_ok=gzip_ok)

    def _request(self, method: str, target: str, body: Any, *, gzip_ok: bool) -> tuple[int, bytes]:
        payload = b"" if body is None else json.dumps(body).encode()
        head = f"{method} {target} HTTP/1.1\r\nHost: {self._host}\r\nConnection: keep-alive\r\n"
        if gzip_ok:
            head += "Accept-Encoding: gzip\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        self._sock.sendall(head.encode() + b"\r\n" + payload)
        status_line = self._file.readline()
        if not status_line:
            raise HttpError(f"{method} {target}: connection closed")
        status = int(status_line.split()[1])
        length, chunked, gzipped = 0, False, False
        while True:
            line = self._file.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and value == b"chunked":
                chunked = True
            elif name == b"content-encoding" and value == b"gzip":
                gzipped = True
        data = self._read_chunked() if chunked else self._file.read(length)
        return status, gzip.decompress(data) if gzipped else data

    def _read_chunked(self) -> bytes:
        parts = []
        while True:
            size = int(self._file.readline().split(b";")[0], 16)
            if size == 0:
                self._file.readline()
                return b"".join(parts)
            parts.append(self._file.read(size))
            self._file.readline()

    def ok(self, method: str, target: str, body: Any = None, **kwargs: Any) -> bytes:
        status, data = self.request(method, target, body, **kwargs)
        if status != 200:
            raise HttpError(f"{method} {target}: {status} {data[:300]!r}")
        return data

    def timed(self, method: str, target: str, body: Any = None, **kwargs: Any) -> float:
        started = time.perf_counter()
        self.ok(method, target, body, **kwargs)
        return time.perf_counter() - started

    def close(self) -> None:
        self._file.close()
        self._sock.close()


# --------------------------------------------------------------------------- the server


@dataclass
class Target:
    """A server under test: where it answers and which process it is."""

    name: str
    base_url: str
    pid: int
    client: RawClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = RawClient(self.base_url)

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime

    def rss_mib(self) -> float:
        with open(f"/proc/{self.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise RuntimeError(f"no VmRSS for {self.pid}")

    def threads(self) -> list[int]:
        return [int(tid) for tid in os.listdir(f"/proc/{self.pid}/task")]

    def close(self) -> None:
        self.client.close()


#: Where the harness and the server run for a single-read figure: (harness CPU, server CPU).
#: Left to the scheduler, a single read lands on one CPU or on two from run to run, and the
#: second mode costs two cross-CPU wake-ups (~25 µs each on this VM): the figure then flips
#: between ~0.045 and ~0.09 ms for the same server. Pinned, each figure has one mode.
Placement = tuple[int, int]


def placements() -> dict[str, Placement]:
    cpus = sorted(os.sched_getaffinity(0))
    named = {"same CPU": (cpus[0], cpus[0])}
    if len(cpus) > 1:
        named["other CPU"] = (cpus[0], cpus[1])
    return named


@contextmanager
def placed(targets: list[Target], placement: Placement) -> Iterator[None]:
    """Pin the harness and every thread of each server (Go's too) for the block; restore after."""
    harness_cpu, server_cpu = placement
    own = os.sched_getaffinity(0)
    masks = {tid: os.sched_getaffinity(tid) for target in targets for tid in target.threads()}
    os.sched_setaffinity(0, {harness_cpu})
    for tid in masks:
        os.sched_setaffinity(tid, {server_cpu})
    time.sleep(0.05)  # let the migrations settle before the first timed request
    try:
        yield
    finally:
        os.sched_setaffinity(0, own)
        for tid, mask in masks.items():
            with suppress(ProcessLookupError):  # a thread that ended meanwhile
                os.sched_setaffinity(tid, mask)


def process_config(
    pid: str, *, autostart: bool, rate: int = 10, reference: str = "", loglevel: str = "info"
) -> dict[str, Any]:
    return {
        "id": pid,
        "reference": reference,
        "options": ["-loglevel", loglevel],  # info: Core reads its progress from the info log
        "input": [
            {
                "id": "in",
                "address": f"testsrc=size=160x120:rate={rate}",
                "options": ["-f", "lavfi", "-re"],
            }
        ],
        "output": [{"id": "out", "address": "-", "options": ["-f", "null"]}],
        "autostart": autostart,
    }


def process_path(pid: str, suffix: str = "") -> str:
    return f"/api/v3/process/{quote(pid, safe='')}{suffix}"


# --------------------------------------------------------------------------- figures

#: name -> samples (seconds for latencies; the figure itself for CPU and memory)
Samples = dict[str, list[float]]


@dataclass(frozen=True)
class Plan:
    mutations: int  # timed requests per mutation kind and N
    reads: int  # GET one / list requests per variant
    starts: int  # POST -> running with frames
    supervised: int  # ffmpeg children for the CPU figure
    cpu_window_s: float
    registered: tuple[int, ...] = (0, 200, 1000)
    command_rounds: int = 1  # rounds of command start + stop over all the processes


def _state(target: Target, pid: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(target.client.ok("GET", process_path(pid, "/state")))
    return result


def _wait_for_frames(target: Target, pid: str, timeout: float = 20.0) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        state = _state(target, pid)
        if state["exec"] == "running" and (state.get("progress") or {}).get("frame", 0) > 0:
            return
        time.sleep(POLL_INTERVAL_S)
    raise RuntimeError(f"{target.name}: process {pid} showed no frame within {timeout} s")


def fill(target: Target, count: int) -> Samples:
    """Register stopped processes ``bench-fill-NNNN`` until there are ``count`` of them."""
    existing = json.loads(target.client.ok("GET", "/api/v3/process?filter=config"))
    have = sum(1 for p in existing if p["id"].startswith("bench-fill-"))
    for index in range(have, count):
        pid = f"bench-fill-{index:04d}"
        target.client.ok("POST", "/api/v3/process", process_config(pid, autostart=False))
    return {}


#: Per server: figure -> samples.
Results = dict[str, Samples]


def _turns(targets: list[Target], index: int) -> list[Target]:
    # Request by request in turn, the first server alternating: both see the same load.
    return targets if index % 2 == 0 else targets[::-1]


def mutations(targets: list[Target], plan: Plan, registered: int) -> Results:
    """Each mutation kind ``plan.mutations`` times beside ``registered`` stopped processes,
    on every server in turn (so a load spike of the machine hits both)."""
    names = [f"bench-m-{index:03d}" for index in range(plan.mutations)]
    results: Results = {target.name: {} for target in targets}

    def each(kind: str, run: Callable[[Target, int, str], float], pause: float = 0.0) -> None:
        figure = f"{kind}, {registered} registered"
        for target in targets:
            results[target.name].setdefault(figure, [])
        for index, name in enumerate(names):
            for target in _turns(targets, index):
                results[target.name][figure].append(run(target, index, name))
            if pause:
                time.sleep(pause)

    each(
        "POST stopped",
        lambda t, _, name: t.client.timed(
            "POST", "/api/v3/process", process_config(name, autostart=False)
        ),
    )
    for target in targets:
        for _ in range(20):  # warm-up of the read path
            target.client.ok("GET", process_path(names[0]))
    reads = plan.reads // len(names) or 1

    def read_one(target: Target, _: int, name: str) -> float:
        return statistics.median(
            target.client.timed("GET", process_path(name)) for _ in range(reads)
        )

    for where, placement in placements().items():
        with placed(targets, placement):
            each(f"GET one ({where})", read_one)
    each(
        "PUT",
        lambda t, index, name: t.client.timed(
            "PUT",
            process_path(name),
            process_config(name, autostart=False, reference=f"ref-{index}"),
        ),
    )
    # A start spawns an ffmpeg; the pauses let each settle so requests do not queue behind it.
    # ffmpeg (-re) sees a stop's SIGINT only after its current 10 ms sleep: a uniform 0-10 ms
    # in every stop, both servers alike, that leaves the median of 20 stops ±1 ms from run to
    # run; more rounds narrow it.
    for _ in range(plan.command_rounds):
        each(
            "command start",
            lambda t, _, name: t.client.timed(
                "PUT", process_path(name, "/command"), {"command": "start"}
            ),
            pause=0.05,
        )
        each(
            "command stop",
            lambda t, _, name: t.client.timed(
                "PUT", process_path(name, "/command"), {"command": "stop"}
            ),
            pause=0.05,
        )
    each("DELETE", lambda t, _, name: t.client.timed("DELETE", process_path(name)))
    each(
        "POST autostart",
        lambda t, _, name: t.client.timed(
            "POST", "/api/v3/process", process_config(name, autostart=True)
        ),
        pause=0.05,
    )
    for target in targets:
        for name in names:
            target.client.ok("DELETE", process_path(name))
    return results


def lists(targets: list[Target], plan: Plan, registered: int) -> Results:
    """The list variants, in rounds of 10 requests per server in turn."""
    results: Results = {target.name: {} for target in targets}
    for label, query in (
        ("full", ""),
        ("?filter=config", "?filter=config"),
        ("?filter=state", "?filter=state"),
    ):
        path = "/api/v3/process" + query
        figure = f"GET list {label}, {registered} registered"
        for target in targets:
            for _ in range(20):
                target.client.ok("GET", path, gzip_ok=True)
            results[target.name][figure] = []
        for index in range(max(1, plan.reads // 10)):
            for target in _turns(targets, index):
                results[target.name][figure] += [
                    target.client.timed("GET", path, gzip_ok=True) for _ in range(10)
                ]
    return results


def start_to_frames_in_turn(targets: list[Target], plan: Plan) -> Results:
    """POST -> running with frame > 0, start by start on every server in turn.

    In turn, not all of one server's starts and then the other's: one start takes ~55 ms of
    which ~50 ms are ffmpeg's own start (mostly its dynamic linker), so a load change of the
    machine between two blocks of starts moved the ratio by more than the servers differ.
    Besides the whole figure, the POST's own answer time, so the rest (spawn, ffmpeg's start,
    its first progress report, the poll) shows apart from the request.
    """
    figure, posted = "POST -> running, frame > 0", "  of which POST answered"
    results: Results = {target.name: {figure: [], posted: []} for target in targets}
    for index in range(plan.starts):
        for target in _turns(targets, index):
            pid = f"bench-start-{index}"
            started = time.perf_counter()
            config = process_config(pid, autostart=True, rate=25)
            answered = started + target.client.timed("POST", "/api/v3/process", config)
            _wait_for_frames(target, pid)
            results[target.name][figure].append(time.perf_counter() - started)
            results[target.name][posted].append(answered - started)
            target.client.ok("DELETE", process_path(pid))
            time.sleep(0.2)  # the deleted ffmpeg's exit must not overlap the other's start
    return results


def supervision_cpu(target: Target, plan: Plan) -> Samples:
    """The server's CPU per running ffmpeg, in % of one core."""
    pids = [f"bench-cpu-{index:02d}" for index in range(plan.supervised)]
    for pid in pids:
        target.client.ok("POST", "/api/v3/process", process_config(pid, autostart=True))
    for pid in pids:
        _wait_for_frames(target, pid)
    time.sleep(2.0)  # past the start-up of the last child
    before, started = target.cpu_seconds(), time.perf_counter()
    time.sleep(plan.cpu_window_s)
    used, elapsed = target.cpu_seconds() - before, time.perf_counter() - started
    running = sum(_state(target, pid)["exec"] == "running" for pid in pids)
    for pid in pids:
        target.client.ok("DELETE", process_path(pid))
    if running != len(pids):
        raise RuntimeError(f"{target.name}: only {running}/{len(pids)} still running")
    total = 100 * used / elapsed
    return {
        f"server CPU, {len(pids)} running": [total],
        "server CPU per running process": [total / len(pids)],
    }


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def quantile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
