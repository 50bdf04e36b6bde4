"""Stale timeout (spec §4.6) and limits (spec §4.7), fed with synthetic times and samples."""

from __future__ import annotations

import pytest

from ffmpeg_operator.supervision.sampler import ResourceSample
from ffmpeg_operator.supervision.watchdogs import MIB, LimitWatchdog, StaleWatchdog

# ----------------------------------------------------------------------------- stale


def test_stale_timeout_zero_never_expires() -> None:
    watchdog = StaleWatchdog(0, started_at=0.0)
    assert not watchdog.enabled
    assert not watchdog.expired(10_000.0)


def test_stale_counts_from_spawn_when_no_progress_came() -> None:
    watchdog = StaleWatchdog(5, started_at=100.0)
    assert not watchdog.expired(105.0)
    assert watchdog.expired(106.0)


def test_stale_expires_only_when_strictly_more_than_the_timeout_passed() -> None:
    watchdog = StaleWatchdog(5, started_at=0.0)
    assert not watchdog.expired(5.0)
    assert watchdog.expired(5.001)


def test_progress_restarts_the_stale_clock() -> None:
    watchdog = StaleWatchdog(5, started_at=0.0)
    watchdog.progress(4.0)
    assert not watchdog.expired(9.0)
    assert watchdog.expired(9.5)


def test_stale_reason_names_the_timeout() -> None:
    assert "Stale timeout after 5 s" in StaleWatchdog(5, started_at=0.0).reason()


# ----------------------------------------------------------------------------- limits

LIMIT_MIB = 10
OVER = 11 * MIB  # above the 10 MiB limit
AT = 10 * MIB  # exactly the limit: not above
UNDER = 5 * MIB


def first_stop(watchdog: LimitWatchdog, samples: list[tuple[float, float, int]]) -> float | None:
    """Feed (time, cpu %, rss) samples; return the time of the first stop, or None."""
    for now, cpu, rss in samples:
        if watchdog.observe(ResourceSample(cpu, rss), now) is not None:
            return now
    return None


def memory_samples(*values: int) -> list[tuple[float, float, int]]:
    return [(float(second), 0.0, value) for second, value in enumerate(values)]


def cpu_samples(*values: float) -> list[tuple[float, float, int]]:
    return [(float(second), value, 0) for second, value in enumerate(values)]


@pytest.mark.parametrize(
    ("waitfor", "rss", "stop_at"),
    [
        # waitfor 0: the first sample above the limit stops.
        (0, (UNDER, OVER), 1.0),
        # strictly greater: a value equal to the limit never counts.
        (0, (AT, AT, AT), None),
        # the timer starts at the first sample above; stop once >= waitfor passed.
        (3, (UNDER, OVER, OVER, OVER, OVER, OVER), 4.0),
        # an opening sample above starts the timer (the previous reading counts as 0).
        (2, (OVER, OVER, OVER), 2.0),
        # falling to (or below) the limit resets: the timer starts again on the next rise.
        (3, (OVER, OVER, AT, OVER, OVER, OVER, OVER), 6.0),
        (3, (OVER, OVER, UNDER, OVER, OVER, UNDER, OVER), None),
        # above for less than waitfor, then gone: no stop.
        (5, (OVER, OVER, OVER, UNDER, UNDER), None),
    ],
    ids=[
        "waitfor-0-first-above",
        "equal-is-not-above",
        "waitfor-3",
        "above-from-the-start",
        "dip-to-limit-restarts-timer",
        "dips-keep-resetting",
        "short-spike",
    ],
)
def test_memory_limit_rule(waitfor: int, rss: tuple[int, ...], stop_at: float | None) -> None:
    watchdog = LimitWatchdog(cpu_limit=0, memory_limit_bytes=LIMIT_MIB * MIB, waitfor_s=waitfor)
    assert first_stop(watchdog, memory_samples(*rss)) == stop_at


@pytest.mark.parametrize(
    ("waitfor", "cpu", "stop_at"),
    [
        (0, (10.0, 50.1), 1.0),
        (0, (50.0, 50.0), None),
        (2, (10.0, 60.0, 60.0, 60.0), 3.0),
        (2, (60.0, 60.0, 40.0, 60.0, 60.0, 60.0), 5.0),
    ],
    ids=["waitfor-0", "equal-is-not-above", "waitfor-2", "dip-restarts-timer"],
)
def test_cpu_limit_rule(waitfor: int, cpu: tuple[float, ...], stop_at: float | None) -> None:
    watchdog = LimitWatchdog(cpu_limit=50, memory_limit_bytes=0, waitfor_s=waitfor)
    assert first_stop(watchdog, cpu_samples(*cpu)) == stop_at


def test_the_check_is_on_a_later_sample_not_on_a_timer() -> None:
    # waitfor 3 but samples arrive every 2 s: the stop comes with the sample at +4 s.
    watchdog = LimitWatchdog(cpu_limit=0, memory_limit_bytes=MIB, waitfor_s=3)
    samples = [(0.0, 0.0, 2 * MIB), (2.0, 0.0, 2 * MIB), (4.0, 0.0, 2 * MIB)]
    assert first_stop(watchdog, samples) == 4.0


def test_cpu_and_memory_have_independent_timers() -> None:
    # CPU is above at 0-1 s, memory from 1 s: neither reaches waitfor 2 before 3 s.
    watchdog = LimitWatchdog(cpu_limit=50, memory_limit_bytes=LIMIT_MIB * MIB, waitfor_s=2)
    samples = [
        (0.0, 90.0, UNDER),
        (1.0, 90.0, OVER),
        (2.0, 10.0, OVER),
        (3.0, 10.0, OVER),
    ]
    assert first_stop(watchdog, samples) == 3.0


def test_either_resource_suffices() -> None:
    watchdog = LimitWatchdog(cpu_limit=50, memory_limit_bytes=LIMIT_MIB * MIB, waitfor_s=0)
    reason = watchdog.observe(ResourceSample(10.0, OVER), 0.0)
    assert reason is not None
    assert reason.startswith("Memory limit exceeded")


@pytest.mark.parametrize(
    ("cpu_limit", "memory_limit"),
    [(0, 0), (-1, 0), (-50.0, 0)],
    ids=["both-zero", "negative-cpu", "negative-cpu-float"],
)
def test_zero_or_negative_limits_are_disabled(cpu_limit: float, memory_limit: int) -> None:
    watchdog = LimitWatchdog(cpu_limit=cpu_limit, memory_limit_bytes=memory_limit, waitfor_s=0)
    assert not watchdog.enabled
    assert watchdog.observe(ResourceSample(10_000.0, 10**12), 0.0) is None


def test_still_above_after_the_stop_keeps_asking_to_stop() -> None:
    watchdog = LimitWatchdog(cpu_limit=0, memory_limit_bytes=MIB, waitfor_s=0)
    assert watchdog.observe(ResourceSample(0.0, 2 * MIB), 0.0) is not None
    assert watchdog.observe(ResourceSample(0.0, 2 * MIB), 1.0) is not None


def test_memory_reason_names_resource_value_limit_and_duration() -> None:
    watchdog = LimitWatchdog(cpu_limit=0, memory_limit_bytes=MIB, waitfor_s=2)
    watchdog.observe(ResourceSample(0.0, int(12.3 * MIB)), 10.0)
    assert watchdog.observe(ResourceSample(0.0, int(12.3 * MIB)), 12.5) == (
        "Memory limit exceeded: 12.3 MiB > 1 MiB for 2 s"
    )


def test_cpu_reason_names_resource_value_limit_and_duration() -> None:
    watchdog = LimitWatchdog(cpu_limit=12.5, memory_limit_bytes=0, waitfor_s=0)
    assert watchdog.observe(ResourceSample(87.54, 0), 0.0) == (
        "CPU limit exceeded: 87.5% > 12.5% for 0 s"
    )


def test_both_reasons_are_reported_together() -> None:
    watchdog = LimitWatchdog(cpu_limit=50, memory_limit_bytes=MIB, waitfor_s=0)
    reason = watchdog.observe(ResourceSample(90.0, 2 * MIB), 0.0)
    assert reason is not None
    assert "CPU limit exceeded" in reason
    assert "Memory limit exceeded" in reason
