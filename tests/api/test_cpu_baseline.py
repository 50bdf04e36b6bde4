"""The CPU baseline of ``/api/v3/metrics`` is read at start-up as psutil reads it."""

from __future__ import annotations

import sys

import psutil
import pytest

from ffmpeg_operator.api.resources import _startup_cpu_times


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/stat is Linux's")
def test_the_startup_cpu_baseline_has_psutils_fields_and_values() -> None:
    ours = _startup_cpu_times()
    theirs = psutil.cpu_times()._asdict()
    assert list(ours) == list(theirs)
    for name, value in ours.items():
        # Read just before psutil: the counters only grow, by less than a second here.
        assert value <= theirs[name] < value + 1.0 * (psutil.cpu_count() or 1)
