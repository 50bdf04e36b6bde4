"""The HTTP harness (``bench/harness.py``) against this server and, beside it, a reference.

The reference is any server speaking the v3 process API: one already running (``--reference-url``
and ``--reference-pid``), one started from a command line (``--reference-cmd``, ``{port}`` and
``{dir}`` are filled in; use ``env VAR=... binary`` so the PID is the server's), or datarhei
Core from its binary (``--core PATH``, configured through its ``CORE_*`` environment variables:
no auth, a temporary data directory, Debian's ffmpeg, no RTMP/SRT listeners, no update check).

Both servers go through the same phases in turn, so they see the same machine load.
"""

from __future__ import annotations

import shlex
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from bench import harness
from bench.harness import Plan, Samples, Target
from bench.report import save
from bench.server import free_port, running, served
from ffmpeg_operator.supervision.binary import find_ffmpeg

#: Pause before each server's turn in a phase.
SETTLE_S = 2.0

FULL = Plan(mutations=20, reads=300, starts=20, supervised=20, cpu_window_s=20.0, command_rounds=3)
QUICK = Plan(mutations=10, reads=100, starts=10, supervised=20, cpu_window_s=5.0)


@dataclass(frozen=True)
class Reference:
    url: str = ""
    pid: int = 0
    cmd: str = ""
    core: str = ""


def core_command(binary: str, ffmpeg: str) -> str:
    settings = {
        "CORE_CONFIGFILE": "{dir}/config.json",
        "CORE_DB_DIR": "{dir}/db",
        "CORE_STORAGE_DISK_DIR": "{dir}/disk",
        "CORE_ADDRESS": "127.0.0.1:{port}",
        "CORE_API_AUTH_ENABLE": "false",
        "CORE_FFMPEG_BINARY": ffmpeg,
        "CORE_RTMP_ENABLE": "false",
        "CORE_SRT_ENABLE": "false",
        "CORE_UPDATE_CHECK": "false",
        "CORE_HOST_AUTO": "false",
        "CORE_TLS_ENABLE": "false",
    }
    # Core refuses to start without its mime.types; the source tree has one beside the binary.
    mime_types = Path(binary).resolve().parent / "mime.types"
    if mime_types.exists():
        settings["CORE_STORAGE_MIMETYPES_FILE"] = str(mime_types)
    return shlex.join(["env", *(f"{k}={v}" for k, v in settings.items()), binary])


@contextmanager
def started(cmd: str, timeout: float = 30.0) -> Iterator[tuple[str, int]]:
    """Start ``cmd`` on a free port in a temporary directory; yield its URL and PID."""
    root = Path(tempfile.mkdtemp(prefix="bench-reference-"))
    port = free_port()
    argv = [part.format(port=port, dir=root) for part in shlex.split(cmd)]
    with running(argv, port, root, timeout) as (url, child):
        yield url, child.pid


def measure(
    targets: list[Target], plan: Plan, progress: Callable[[str], None] = print, only: str = ""
) -> dict[str, Samples]:
    results: dict[str, Samples] = {t.name: {} for t in targets}

    def phase(label: str, run: Callable[[Target], Samples]) -> None:
        for target in targets:
            # The other server may still be ending the ffmpeg children of its last phase.
            time.sleep(SETTLE_S)
            progress(f"{label}: {target.name} ...")
            results[target.name].update(run(target))

    def together(measured: harness.Results) -> None:
        for name, samples in measured.items():
            results[name].update(samples)

    for target in targets:
        target.client.ok("GET", "/api/v3/process")
    time.sleep(1.0)
    if only == "frames":
        progress(f"POST -> frames: {plan.starts} starts, all in turn ...")
        together(harness.start_to_frames_in_turn(targets, plan))
        return results
    phase("RSS idle", lambda t: {"RSS idle": [t.rss_mib()]})
    phase("server CPU", lambda t: harness.supervision_cpu(t, plan))
    time.sleep(SETTLE_S)  # the CPU phase's children may still be ending
    progress(f"POST -> frames: {plan.starts} starts, all in turn ...")
    together(harness.start_to_frames_in_turn(targets, plan))
    for count in plan.registered:
        phase(f"fill {count}", lambda t, c=count: harness.fill(t, c))
        progress(f"mutations, {count} registered: all in turn ...")
        together(harness.mutations(targets, plan, count))
        if count == 200:
            progress("lists: all in turn ...")
            together(harness.lists(targets, plan, 200))
            phase("RSS 200", lambda t: {"RSS, 200 registered": [t.rss_mib()]})
    return results


def _value(name: str, samples: list[float]) -> tuple[float, str]:
    if name.startswith("RSS"):
        return samples[0], "MiB"
    if name.startswith("server CPU"):
        return samples[0], "% core"
    return harness.median_ms(samples), "ms"


def render(results: dict[str, Samples]) -> str:
    names = list(results)
    rows = [("figure", *names, "ratio" if len(names) == 2 else "", "goal", "")]
    first = results[names[0]]
    for figure in first:
        cells = []
        values = []
        for name in names:
            value, unit = _value(figure, results[name][figure])
            values.append(value)
            cells.append(f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}")
        goal = 1.5 if figure.startswith("RSS") else 1.0
        ratio, verdict = "", ""
        if len(values) == 2 and values[1] > 0:
            r = values[0] / values[1]
            ratio, verdict = f"{r:.2f}x", "ok" if r <= goal else "behind"
        rows.append((figure, *cells, ratio, f"<= {goal}x", verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run(reference: Reference | None, plan: Plan, only: str = "") -> dict[str, Samples]:
    with ExitStack() as stack:
        ours = stack.enter_context(served())
        targets = [Target("ours", ours.base_url, ours.process.pid)]
        if reference is not None:
            url, pid = reference.url, reference.pid
            cmd = reference.cmd or (
                core_command(reference.core, find_ffmpeg()) if reference.core else ""
            )
            if cmd:
                url, pid = stack.enter_context(started(cmd))
            targets.append(Target("core" if reference.core else "reference", url, pid))
        try:
            return measure(targets, plan, only=only)
        finally:
            for target in targets:
                target.close()


def main(reference: Reference | None, quick: bool, only: str = "", starts: int = 0) -> int:
    plan = QUICK if quick else FULL
    if starts:
        plan = replace(plan, starts=starts)
    results = run(reference, plan, only)
    print()
    print(render(results))
    summary = {
        name: {
            figure: {
                "value": _value(figure, s)[0],
                "unit": _value(figure, s)[1],
                "samples": len(s),
                "p90_ms": harness.quantile(s, 0.9) * 1000,
                "mean": statistics.fmean(s),
            }
            for figure, s in samples.items()
        }
        for name, samples in results.items()
    }
    path = save(
        "sidebyside",
        [],
        {
            "plan": asdict(plan),
            "only": only,
            "results": summary,
            "reference": asdict(reference) if reference else None,
        },
    )
    print(f"\nsaved {path}")
    return 0
