"""Group commit for an append-only file: ``fdatasync`` off the request path, batched.

A line written with ``os.write`` is in the page cache the moment the call returns: it survives
``kill -9`` of the writer (the kernel owns it), only a power cut or kernel crash can lose it.
So a change may be acknowledged once written, and its sync can wait for the next batch: a
thread syncs the file at most once per window while writes are pending, so a burst of changes
costs one ``fdatasync`` per window instead of one each, and no request waits for the disk
(on a busy disk an ext4 journal commit takes milliseconds, other writers' data included).
"""

from __future__ import annotations

import logging
import os
import threading

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
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def pending(self) -> None:
        """Note a write that is not synced yet; the thread syncs it within the window."""
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread and sync what is pending, on the caller's thread."""
        self._stopping.set()
        self._wake.set()
        self._thread.join()
        os.fdatasync(self._fd)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            # Cleared before the check and the sync: a write (or stop) after this point wakes
            # the next round, none is missed.
            self._wake.clear()
            if self._stopping.is_set():
                return
            # Gather the writes of one window into one sync; stop cuts the wait short (and
            # syncs itself).
            if self._stopping.wait(self._window):
                return
            try:
                os.fdatasync(self._fd)
            except OSError as error:
                # Nobody waits for this sync to answer; the lines stay in the page cache and
                # the next round (or stop) tries again.
                log.error("fdatasync of the journal failed: %s", error)
                self._wake.set()
