"""The cleanup runner: applies the cleanup rules of every process to its filesystems (spec §8).

Every second (§8.3) each rule of each owner (a process, running or not) lists its filesystem,
asks :func:`~ffmpeg_operator.core.cleanup.select_expired` which files go, and deletes them.
When an owner's rules are removed with ``purge`` (DELETE, UPDATE, shutdown — §8.4), every rule
with ``purge_on_delete`` deletes all files it matches. Which files a rule means is decided in
:mod:`ffmpeg_operator.core.cleanup`; keeping deletions inside a filesystem's root is the
filesystem's job (:class:`~ffmpeg_operator.supervision.fsroot.DiskFS`).

Nothing here may stop the loop: a failed listing or deletion is logged and the pass goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping

from ffmpeg_operator.core.cleanup import CleanupRule, FileEntry, select_expired, select_purge
from ffmpeg_operator.core.models import Cleanup
from ffmpeg_operator.runtime.filesystem import Filesystem

log = logging.getLogger(__name__)

_BUILTIN_FILESYSTEMS = frozenset({"disk", "mem"})


class CleanupRunner:
    """Holds the cleanup rules per owner and applies them to ``filesystems``.

    ``filesystems`` maps the names of §8.1 (``disk``, ``mem``, storage names) to filesystems;
    a rule whose filesystem is unknown or not present here is ignored, as Core does.
    ``run_once`` may run in a worker thread while the event loop changes rules.
    """

    def __init__(
        self, filesystems: Mapping[str, Filesystem], storages: Collection[str] = ()
    ) -> None:
        self._filesystems = dict(filesystems)
        # A filesystem handed in under a non-builtin name is a configured storage too.
        self._storages = frozenset(storages) | (self._filesystems.keys() - _BUILTIN_FILESYSTEMS)
        self._rules: dict[str, tuple[CleanupRule, ...]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ rules

    def set_rules(self, owner: str, cleanups: Iterable[Cleanup]) -> None:
        """Replace the rules of ``owner`` (placeholders in the patterns already resolved).

        Rules with an unrecognised prefix or a filesystem not present are dropped silently
        (§8.1). The replaced rules are not purged: the caller calls :meth:`remove` first
        when Core would (UPDATE deletes the old process).
        """
        rules = tuple(
            rule
            for rule in (CleanupRule.from_cleanup(cleanup, self._storages) for cleanup in cleanups)
            if rule is not None and rule.filesystem in self._filesystems
        )
        with self._lock:
            if rules:
                self._rules[owner] = rules
            else:
                self._rules.pop(owner, None)

    def rules(self, owner: str) -> tuple[CleanupRule, ...]:
        """The active rules of ``owner`` (empty when none)."""
        with self._lock:
            return self._rules.get(owner, ())

    def owners(self) -> list[str]:
        """Every owner with active rules."""
        with self._lock:
            return list(self._rules)

    def remove(self, owner: str, purge: bool) -> int:
        """Drop the rules of ``owner``; with ``purge`` apply its ``purge_on_delete`` rules.

        A purging rule deletes every file it matches, longest names first. Returns the number
        of files deleted.
        """
        with self._lock:
            rules = self._rules.pop(owner, ())
        if not purge:
            return 0
        listings = _Listings(self._filesystems)
        deleted = 0
        for rule in rules:
            if rule.purge_on_delete:
                files = listings.files(rule.filesystem)
                deleted += listings.delete(rule.filesystem, select_purge(rule, files), owner)
        return deleted

    def purge_all(self) -> int:
        """Remove every owner's rules with purge (shutdown of the process subsystem)."""
        return sum(self.remove(owner, purge=True) for owner in self.owners())

    # ------------------------------------------------------------------ periodic cleanup

    def run_once(self, now: float) -> int:
        """One pass over every rule of every owner (§8.3); returns the number of files deleted.

        ``now`` is wall-clock time (seconds since the epoch), comparable with file mtimes.
        """
        with self._lock:
            owned = list(self._rules.items())
        # One listing per filesystem per pass, kept current as files go, so rules that
        # overlap see what the earlier ones left.
        listings = _Listings(self._filesystems)
        deleted = 0
        for owner, rules in owned:
            for rule in rules:
                files = listings.files(rule.filesystem)
                deleted += listings.delete(rule.filesystem, select_expired(rule, files, now), owner)
        return deleted

    async def run(
        self,
        stop: asyncio.Event,
        interval: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Run a pass every ``interval`` seconds until ``stop`` is set.

        Passes run in a worker thread: walking a large data directory must not stall the
        event loop that serves the API and memfs. Without any rule there is nothing to walk,
        and no thread is woken (the hand-off to it and back woke the server twice a second).
        """
        while not stop.is_set():
            try:
                if self._rules:
                    await asyncio.to_thread(self.run_once, clock())
            except Exception:
                log.exception("cleanup pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)


class _Listings:
    """File listings of the filesystems, taken at most once each, with deletions applied."""

    def __init__(self, filesystems: Mapping[str, Filesystem]) -> None:
        self._filesystems = filesystems
        self._files: dict[str, list[FileEntry]] = {}

    def files(self, name: str) -> list[FileEntry]:
        if name not in self._files:
            try:
                self._files[name] = self._filesystems[name].list_files()
            except Exception:
                log.exception("cannot list the %s filesystem", name)
                self._files[name] = []
        return self._files[name]

    def delete(self, name: str, victims: Iterable[str], owner: str) -> int:
        filesystem = self._filesystems[name]
        gone: set[str] = set()
        for victim in victims:
            try:
                if filesystem.delete(victim):
                    gone.add(victim)
            except Exception:
                log.exception("cleanup of %s: cannot delete %s:%s", owner, name, victim)
        if gone:
            log.debug("cleanup of %s deleted %d files from %s", owner, len(gone), name)
            self._files[name] = [entry for entry in self._files[name] if entry.name not in gone]
        return len(gone)
