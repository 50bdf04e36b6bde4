"""Cleanup rules (spec §8) applied by the operator: the diskfs volume it mounts, memfs over HTTP.

Which files a rule deletes is decided in :mod:`ffmpeg_operator.core.cleanup`; here is only the
doing. One shared loop (:class:`CleanupLoop`) lists each filesystem once per second and applies
every process's rules to that listing; a process's daemon sets its rules while it runs and
drops them when it stops (so an operator paused by peering cleans nothing), and the deletion
handler purges (§8.4). Failures are logged and the loop goes on.

memfs is the API Deployment's store: ``GET <url>`` lists ``[{name, size_bytes,
last_modified}]``, ``DELETE <url><name>`` deletes, with basic auth as ``admin``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

import aiohttp

from ffmpeg_operator.core.cleanup import CleanupRule, FileEntry, select_expired, select_purge
from ffmpeg_operator.core.models import Cleanup
from ffmpeg_operator.supervision.fsroot import DiskFS

__all__ = ["AsyncFilesystem", "CleanupLoop", "DiskVolume", "MemfsStore"]

log = logging.getLogger(__name__)

Owner = tuple[str, str]  # (namespace, name) of an FFmpegProcess
_NOT_FOUND = 404


class AsyncFilesystem(Protocol):
    """A filesystem cleanup rules act on (names absolute inside it: ``/a/b.ts``)."""

    #: ``disk`` or ``mem`` (the names of §8.1's mapping).
    name: str

    async def list_files(self) -> list[FileEntry]: ...

    async def delete(self, name: str) -> bool: ...


class DiskVolume:
    """The diskfs volume as the operator mounts it (walked in a thread: it may be large)."""

    name = "disk"

    def __init__(self, root: Path) -> None:
        self._fs = DiskFS(root)

    async def list_files(self) -> list[FileEntry]:
        return await asyncio.to_thread(self._fs.list_files)

    async def delete(self, name: str) -> bool:
        return await asyncio.to_thread(self._fs.delete, name)


class MemfsStore:
    """The memfs store of the API Service, over HTTP."""

    name = "mem"

    def __init__(self, url: str, username: str, password: str, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self._headers = {"Authorization": aiohttp.encode_basic_auth(username, password)}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def list_files(self) -> list[FileEntry]:
        async with self._open().get(self.url) as response:
            response.raise_for_status()
            listing = await response.json(content_type=None)
        return [
            FileEntry(str(item["name"]), float(item["last_modified"]), int(item["size_bytes"]))
            for item in listing
            if isinstance(item, Mapping) and str(item.get("name", "")).startswith("/")
        ]

    async def delete(self, name: str) -> bool:
        async with self._open().delete(self.url + quote(name)) as response:
            if response.status == _NOT_FOUND:
                return False
            response.raise_for_status()
        return True


class CleanupLoop:
    """Every process's cleanup rules, applied to the filesystems every ``interval`` seconds."""

    def __init__(
        self,
        filesystems: Iterable[AsyncFilesystem],
        interval: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.filesystems = {fs.name: fs for fs in filesystems}
        self.interval = interval
        self._clock = clock
        self._rules: dict[Owner, tuple[CleanupRule, ...]] = {}
        self._task: asyncio.Task[None] | None = None

    def _bind(self, cleanups: Iterable[Cleanup]) -> tuple[CleanupRule, ...]:
        # Rules of unknown filesystems, or of one this operator cannot reach, do nothing (§8.1).
        rules = (CleanupRule.from_cleanup(cleanup) for cleanup in cleanups)
        return tuple(r for r in rules if r is not None and r.filesystem in self.filesystems)

    def set_rules(self, owner: Owner, cleanups: Iterable[Cleanup]) -> None:
        """The rules of ``owner`` from now on (placeholders resolved); starts the loop."""
        rules = self._bind(cleanups)
        if rules:
            self._rules[owner] = rules
            self._ensure_running()
        else:
            self._rules.pop(owner, None)

    def remove(self, owner: Owner) -> None:
        """Forget ``owner``'s rules without purging (its daemon stopped)."""
        self._rules.pop(owner, None)

    def rules(self, owner: Owner) -> tuple[CleanupRule, ...]:
        return self._rules.get(owner, ())

    async def purge(self, owner: Owner, cleanups: Iterable[Cleanup]) -> int:
        """Forget ``owner``'s rules and purge with ``cleanups`` (its process is deleted)."""
        self._rules.pop(owner, None)
        return await self.purge_files(cleanups)

    async def purge_files(self, cleanups: Iterable[Cleanup]) -> int:
        """Delete every file the ``purge_on_delete`` rules among ``cleanups`` match (§8.4,
        longest names first). Returns the number of files deleted."""
        listings = _Listings(self.filesystems)
        deleted = 0
        for rule in self._bind(cleanups):
            if rule.purge_on_delete:
                files = await listings.files(rule.filesystem)
                deleted += await listings.delete(rule.filesystem, select_purge(rule, files))
        return deleted

    async def run_once(self) -> int:
        """One pass over every rule (§8.3); the number of files deleted."""
        now = self._clock()
        listings = _Listings(self.filesystems)
        deleted = 0
        for rules in list(self._rules.values()):
            for rule in rules:
                files = await listings.files(rule.filesystem)
                deleted += await listings.delete(rule.filesystem, select_expired(rule, files, now))
        return deleted

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("cleanup pass failed")
            await asyncio.sleep(self.interval)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for fs in self.filesystems.values():
            closing = getattr(fs, "close", None)
            if closing is not None:
                await closing()


class _Listings:
    """Each filesystem listed at most once per pass, deletions applied to the listing."""

    def __init__(self, filesystems: Mapping[str, AsyncFilesystem]) -> None:
        self._filesystems = filesystems
        self._files: dict[str, list[FileEntry]] = {}

    async def files(self, name: str) -> list[FileEntry]:
        if name not in self._files:
            try:
                self._files[name] = await self._filesystems[name].list_files()
            except Exception as error:
                log.warning("cannot list the %s filesystem: %s", name, error)
                self._files[name] = []
        return self._files[name]

    async def delete(self, name: str, victims: Iterable[str]) -> int:
        filesystem = self._filesystems[name]
        gone: set[str] = set()
        for victim in victims:
            try:
                if await filesystem.delete(victim):
                    gone.add(victim)
            except Exception as error:
                log.warning("cleanup: cannot delete %s:%s: %s", name, victim, error)
        if gone:
            self._files[name] = [entry for entry in self._files[name] if entry.name not in gone]
        return len(gone)
