"""The 1 s watchdog loop around a run."""

from __future__ import annotations

import asyncio

import pytest

from ffmpeg_operator.supervision.monitor import RunMonitor
from ffmpeg_operator.supervision.run import FFmpegRun
from ffmpeg_operator.supervision.sampler import NO_SAMPLE, ResourceSample, ResourceSampler
from ffmpeg_operator.supervision.watchdogs import MIB, LimitWatchdog, StaleWatchdog

pytestmark = pytest.mark.timeout(15)


class FakeRun:
    def __init__(self) -> None:
        self.running = True
        self.stops: list[str | None] = []

    async def stop(self, reason: str | None = None, grace: float = 5.0) -> None:
        self.stops.append(reason)
        self.running = False


class FixedSampler:
    def __init__(self, sample: ResourceSample) -> None:
        self.value = sample

    def sample(self) -> ResourceSample:
        return self.value


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def no_limits() -> LimitWatchdog:
    return LimitWatchdog(cpu_limit=0, memory_limit_bytes=0, waitfor_s=0)


async def test_a_limit_breach_stops_the_run_with_its_reason() -> None:
    run = FakeRun()
    monitor = RunMonitor(
        run,
        FixedSampler(ResourceSample(1.0, 2 * MIB)),
        StaleWatchdog(0, 0.0),
        LimitWatchdog(0, MIB, 0),
        clock=Clock(),
    )
    reason = monitor.tick()
    await asyncio.sleep(0)
    assert reason is not None
    assert reason.startswith("Memory limit exceeded")
    assert run.stops == [reason]
    assert monitor.stop_reason == reason
    assert monitor.latest == ResourceSample(1.0, 2 * MIB)


async def test_a_stale_run_is_stopped_once() -> None:
    run, clock = FakeRun(), Clock()
    monitor = RunMonitor(
        run, FixedSampler(NO_SAMPLE), StaleWatchdog(2, 0.0), no_limits(), clock=clock
    )
    clock.now = 2.0
    assert monitor.tick() is None
    clock.now = 3.0
    assert monitor.tick() is not None
    clock.now = 4.0
    monitor.tick()
    await asyncio.sleep(0)
    assert len(run.stops) == 1
    assert run.stops[0] is not None
    assert run.stops[0].startswith("Stale timeout after 2 s")


async def test_progress_fed_to_the_stale_watchdog_keeps_the_run_alive() -> None:
    run, clock = FakeRun(), Clock()
    monitor = RunMonitor(
        run, FixedSampler(NO_SAMPLE), StaleWatchdog(2, 0.0), no_limits(), clock=clock
    )
    for second in range(1, 10):
        clock.now = float(second)
        monitor.stale.progress(clock.now)
        assert monitor.tick() is None


async def test_the_loop_ticks_until_the_run_ends_then_reads_zero() -> None:
    run = FakeRun()
    monitor = RunMonitor(
        run,
        FixedSampler(ResourceSample(3.0, 4 * MIB)),
        StaleWatchdog(0, 0.0),
        LimitWatchdog(0, MIB, 0),
        tick_s=0.01,
    )
    monitor.start()
    monitor.start()  # a second start is harmless
    for _ in range(100):
        if run.stops:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert run.stops
    assert monitor.latest == NO_SAMPLE
    await monitor.close()


async def test_close_stops_ticking() -> None:
    run = FakeRun()
    monitor = RunMonitor(
        run,
        FixedSampler(ResourceSample(3.0, 4 * MIB)),
        StaleWatchdog(0, 0.0),
        no_limits(),
        tick_s=0.01,
    )
    monitor.start()
    await asyncio.sleep(0.05)
    await monitor.close()
    assert monitor.latest == NO_SAMPLE
    assert run.running


async def test_real_ffmpeg_over_its_memory_limit_is_stopped(ffmpeg: str) -> None:
    run = await FFmpegRun.start(
        ffmpeg, ["-f", "lavfi", "-re", "-i", "testsrc=size=160x120:rate=10", "-f", "null", "-"]
    )
    monitor = RunMonitor(
        run,
        ResourceSampler(run.pid),
        StaleWatchdog(0, 0.0),
        LimitWatchdog(cpu_limit=0, memory_limit_bytes=1, waitfor_s=0),
        tick_s=0.2,
    )
    monitor.start()
    info = await asyncio.wait_for(run.wait(), 5)
    await monitor.close()
    assert info.exec_state == "finished"
    assert info.stop_reason is not None
    assert info.stop_reason.startswith("Memory limit exceeded")
