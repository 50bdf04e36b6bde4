"""Group commit of the journal: every pending write is synced within the window, in batches,
and a write on the event loop never hands the GIL to the sync thread in the middle of its
request."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ffmpeg_operator.runtime.syncbehind import SyncBehind

pytestmark = pytest.mark.timeout(15)

WINDOW = 0.05


class Syncs:
    """``os.fdatasync`` of one descriptor, recorded with the time of each call."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.times: list[float] = []
        self.done = threading.Event()

    def __call__(self, fd: int) -> None:
        if fd == self.fd:
            self.times.append(time.monotonic())
            self.done.set()


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[int]:
    fd = os.open(tmp_path / "journal", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    yield fd
    os.close(fd)


@pytest.fixture
def syncs(journal: int, monkeypatch: pytest.MonkeyPatch) -> Syncs:
    recorder = Syncs(journal)
    monkeypatch.setattr(os, "fdatasync", recorder)
    return recorder


@pytest.fixture
def sync(journal: int, syncs: Syncs) -> Iterator[SyncBehind]:
    behind = SyncBehind(journal, WINDOW)
    yield behind
    behind.stop()


def test_a_write_off_any_event_loop_is_synced_after_the_window(
    sync: SyncBehind, syncs: Syncs
) -> None:
    written = time.monotonic()
    sync.pending()
    assert syncs.done.wait(5)
    assert syncs.times[0] - written >= WINDOW * 0.9


async def test_a_write_on_an_event_loop_is_synced_after_the_window(
    sync: SyncBehind, syncs: Syncs
) -> None:
    written = time.monotonic()
    sync.pending()
    while not syncs.times and time.monotonic() - written < 5:
        await asyncio.sleep(0.005)
    assert syncs.times
    assert syncs.times[0] - written >= WINDOW * 0.9


async def test_a_write_on_an_event_loop_leaves_the_sync_thread_asleep_until_the_loop_runs(
    sync: SyncBehind, syncs: Syncs
) -> None:
    # The request goes on well past the window without returning to the loop: a thread woken
    # by the write would sync (and take the GIL) meanwhile; the loop's timer wakes it later.
    sync.pending()
    time.sleep(WINDOW * 3)
    assert syncs.times == []
    await asyncio.sleep(0.01)
    assert syncs.done.wait(5)


async def test_a_burst_of_writes_on_an_event_loop_costs_one_sync(
    sync: SyncBehind, syncs: Syncs
) -> None:
    for _ in range(100):
        sync.pending()
    await asyncio.sleep(WINDOW * 4)
    assert len(syncs.times) == 1


def test_a_write_after_the_event_loop_of_the_last_one_closed_is_synced(
    sync: SyncBehind, syncs: Syncs
) -> None:
    async def write() -> None:
        sync.pending()

    asyncio.run(write())  # closed before its timer fired: that round never wakes the thread
    time.sleep(WINDOW * 2.5)
    assert syncs.times == []
    asyncio.run(write())  # the next write starts a round of its own, off any loop's timer
    assert syncs.done.wait(5)


def test_stop_syncs_what_is_pending(journal: int, syncs: Syncs) -> None:
    sync = SyncBehind(journal, 3600)
    sync.pending()
    sync.stop()
    assert len(syncs.times) == 1
