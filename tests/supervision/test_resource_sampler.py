"""CPU (normalised to the machine, §2.3) and RSS of one process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from ffmpeg_operator.supervision.sampler import (
    NO_SAMPLE,
    ResourceSampler,
    cgroup_cpu_quota,
    cpu_capacity,
)


def test_first_sample_reads_zero_cpu_and_real_rss() -> None:
    sample = ResourceSampler(os.getpid()).sample()
    assert sample.cpu_percent == 0.0
    assert sample.rss_bytes > 0


def test_cpu_is_normalised_to_the_capacity() -> None:
    # One busy core on a "4 CPU" machine reads about 25 %, never the per-core 100 %.
    sampler = ResourceSampler(os.getpid(), capacity=4)
    sampler.sample()
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    cpu = sampler.sample().cpu_percent
    assert 5.0 < cpu <= 27.0


def test_a_process_that_ended_reads_zero() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    sampler = ResourceSampler(child.pid)
    child.wait()
    assert sampler.sample() == NO_SAMPLE
    assert sampler.sample() == NO_SAMPLE


def test_a_process_that_exited_but_is_not_reaped_yet_reads_zero() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    sampler = ResourceSampler(child.pid)
    try:
        deadline = time.monotonic() + 10
        while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert sampler.sample() == NO_SAMPLE
    finally:
        child.wait()


def test_a_pid_that_does_not_exist_reads_zero() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert ResourceSampler(child.pid).sample() == NO_SAMPLE


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu.max": "garbage\n"}, None),
        ({"cpu.max": "abc 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 0.5),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "50000\n"}, None),
        ({}, None),
    ],
    ids=[
        "v2-quota",
        "v2-max",
        "v2-garbage",
        "v2-bad-number",
        "v1-quota",
        "v1-unlimited",
        "v1-no-period",
        "no-cgroup",
    ],
)
def test_cgroup_cpu_quota(tmp_path: Path, files: dict[str, str], quota: float | None) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cgroup_cpu_quota(tmp_path) == quota


def test_capacity_is_the_quota_when_there_is_one(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("250000 100000\n")
    assert cpu_capacity(tmp_path) == 2.5


def test_capacity_is_the_logical_cpu_count_without_quota(tmp_path: Path) -> None:
    assert cpu_capacity(tmp_path) == float(psutil.cpu_count(logical=True))
