"""Group commit for an append-only file: ``fdatasync`` off the request path, batched.

A line written with ``os.write`` is in the page cache the moment the call returns: it survives
``kill -9`` of the writer (the kernel owns it), only a power cut or kernel crash can lose it.
So a change may be acknowledged once written, and its sync can wait for the next batch: a
thread syncs the file at most once per window while writes are pending, so a burst of changes
costs one ``fdatasync`` per window instead of one each, and no request waits for the disk
(on a busy disk an ext4 journal commit takes milliseconds, other writers' data included).

Nor does a request wait for the sync thread: written from an event loop, the thread is woken
by the loop's timer once the window is over, not by the write. A thread woken at the write
wants the GIL at once and takes it from the request in the middle of its work; after an idle
spell, when the other CPU sleeps, that hand-over cost the POST that wrote 1.5-2 ms
(bench/README.md, "The sync thread's wake-up").
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time

log = logging.getLogger(__name__)

#: Longest time an acknowledged line stays only in the page cache (power loss exposure).
SYNC_WINDOW_S = 0.025


class SyncBehind:
    """Syncs ``fd`` in a daemon thread, at most every ``window`` seconds while writes are
    pending. The owner calls :meth:`pending` after each write and :meth:`stop` before it
    closes ``fd`` (which syncs whatever is still pending)."""

    def __init__(self, fd: int, window: float = SYNC_WINDOW_S, name: str = "sync-behind") -> None:
        self._fd = fd
        self._window = window
        # A round is due (woken, or to be woken) and has not begun its sync: the writes made
        # meanwhile are in it. The thread clears it right before it syncs.
        self._due = False
        self._sync_at = 0.0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def pending(self) -> None:
        """Note a write that is not synced yet; it goes to disk one window later.

        On an event loop's thread, the loop's timer wakes the sync thread when the window is
        over; elsewhere the thread is woken now and waits out the window itself.
        """
        now = time.monotonic()
        if self._due:
            if now < self._sync_at + self._window:
                return  # in the round that is due
            # Overdue by a whole window: that round's timer died with its event loop (closed
            # before the timer fired), so this round does without one.
            self._sync_at = now + self._window
            self._wake.set()
            return
        self._due = True
        self._sync_at = now + self._window
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._wake.set()
        else:
            loop.call_later(self._window, self._wake.set)

    def stop(self) -> None:
        """Stop the thread and sync what is pending, on the caller's thread."""
        self._stopping.set()
        self._wake.set()
        self._thread.join()
        os.fdatasync(self._fd)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            # Cleared before the check and the sync: a wake (or stop) after this point starts
            # the next round, none is missed.
            self._wake.clear()
            if self._stopping.is_set():
                return
            # Woken at the write (no event loop): gather the writes of the window into one
            # sync; stop cuts the wait short (and syncs itself).
            early = self._sync_at - time.monotonic()
            if early > 0 and self._stopping.wait(early):
                return
            self._due = False
            try:
                os.fdatasync(self._fd)
            except OSError as error:
                # Nobody waits for this sync to answer; the lines stay in the page cache and
                # the next round (or stop) tries again.
                log.error("fdatasync of the journal failed: %s", error)
                self.pending()
