"""The embedded engine: datarhei's process registry over local ffmpeg children (spec §3–§4).

It implements what the v3 routes need (:class:`ffmpeg_operator.api.backend.ProcessBackend`):
create, update (replace and rename), delete, commands, metadata, probe and skills, with
datarhei's order of effects, and persists every change of intent (configs, orders, metadata)
atomically so a restarted server, ``kill -9`` included, runs the same processes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ffmpeg_operator.core.argv import probe_argv
from ffmpeg_operator.core.errors import (
    CommandFailedError,
    ConfigError,
    ProcessExistsError,
    UnknownProcessError,
)
from ffmpeg_operator.core.metadata import metadata_value
from ffmpeg_operator.core.models import (
    Cleanup,
    Probe,
    Process,
    ProcessConfig,
    ProcessReport,
    ProcessState,
)
from ffmpeg_operator.core.placeholders import PlaceholderSettings
from ffmpeg_operator.core.prepare import PreparedProcess, prepare_process
from ffmpeg_operator.core.skills import Skills
from ffmpeg_operator.core.validation import AddressPolicy
from ffmpeg_operator.runtime.cleanup import CleanupRunner
from ffmpeg_operator.runtime.diskfs import DiskFS
from ffmpeg_operator.runtime.filesystem import MemFilesystem
from ffmpeg_operator.runtime.memfs import MemFS
from ffmpeg_operator.runtime.process import LocalProcess, RunSettings
from ffmpeg_operator.runtime.store import Store, StoredProcess
from ffmpeg_operator.supervision.probe import probe_process
from ffmpeg_operator.supervision.skills import probe_skills

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineSettings:
    """Where the engine keeps its data and how it expands and checks configs."""

    db_path: Path
    disk_dir: Path
    placeholders: PlaceholderSettings
    policy: AddressPolicy
    run: RunSettings
    cleanup_interval_s: float = 1.0


def _now() -> int:
    return int(time.time())


class LocalEngine:
    """The process registry of embedded mode. Use :meth:`open` / :meth:`close` around it."""

    def __init__(self, settings: EngineSettings, memfs: MemFS) -> None:
        self.settings = settings
        self.memfs = memfs
        self._store = Store(settings.db_path)
        self._processes: dict[str, LocalProcess] = {}
        self._system_metadata: dict[str, Any] = {}
        self._lock = asyncio.Lock()
        settings.disk_dir.mkdir(parents=True, exist_ok=True)
        self._cleanup = CleanupRunner(
            {"disk": DiskFS(settings.disk_dir), "mem": MemFilesystem(memfs)}
        )
        self._cleanup_stop = asyncio.Event()
        self._cleanup_task: asyncio.Task[None] | None = None
        self._skills: Skills | None = None

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        """Load the stored processes and start those whose order is ``start`` (§4.1)."""
        snapshot = await asyncio.to_thread(self._store.load)
        self._system_metadata = dict(snapshot.system_metadata)
        stored = {pid: entry.config for pid, entry in snapshot.processes.items()}
        for pid, entry in snapshot.processes.items():
            try:
                prepared: PreparedProcess | None = self._prepare(entry.config, stored.get)
                invalid = ""
            except ConfigError as error:
                # Kept in the list but not runnable until an update or reload (§4.10).
                log.warning("process %r is invalid: %s", pid, error)
                prepared, invalid = None, str(error)
            process = LocalProcess(
                entry.config,
                prepared,
                self.settings.run,
                created_at=entry.created_at,
                updated_at=entry.updated_at,
                order=entry.order,
                metadata=snapshot.process_metadata.get(pid) or None,
                invalid_reason=invalid,
            )
            self._processes[pid] = process
            if prepared is not None:
                self._register_cleanup(process)
        for process in self._processes.values():
            if process.order == "start" and process.valid:
                await process.start()
        self._cleanup_task = asyncio.create_task(
            self._cleanup.run(self._cleanup_stop, interval=self.settings.cleanup_interval_s)
        )

    async def close(self) -> None:
        """Stop every ffmpeg without changing its order; purge cleanup rules (§4.1, §8.4)."""
        self._cleanup_stop.set()
        if self._cleanup_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._cleanup_task
        await asyncio.gather(*(p.shutdown() for p in self._processes.values()))
        await asyncio.to_thread(self._cleanup.purge_all)
        await asyncio.to_thread(self._store.close)

    # ------------------------------------------------------------------ helpers

    def _get(self, pid: str) -> LocalProcess:
        try:
            return self._processes[pid]
        except KeyError:
            raise UnknownProcessError(pid) from None

    def _stored_config(self, pid: str) -> ProcessConfig | None:
        process = self._processes.get(pid)
        return None if process is None else process.config

    def _prepare(self, config: ProcessConfig, lookup: Any = None) -> PreparedProcess:
        return prepare_process(
            config,
            self.settings.placeholders,
            self.settings.policy,
            lookup if lookup is not None else self._stored_config,
        )

    def _register_cleanup(self, process: LocalProcess) -> None:
        rules: list[Cleanup] = []
        if process.prepared is not None:
            for output in process.prepared.resolved.output:
                rules.extend(output.cleanup)
        self._cleanup.set_rules(process.id, rules)

    @staticmethod
    def _stored(process: LocalProcess) -> StoredProcess:
        return StoredProcess(
            config=process.config,
            created_at=process.created_at,
            updated_at=process.updated_at,
            order="start" if process.order == "start" else "stop",
        )

    async def _persist(
        self,
        processes: dict[str, LocalProcess | None] | None = None,
        process_metadata: dict[str, dict[str, Any] | None] | None = None,
        system_metadata: dict[str, Any] | None = None,
    ) -> None:
        """Record one change of intent (a journal line, see ``runtime/store.py``).

        The line is written in the event loop: one small write costs less than a hand-off
        to a thread (which also has to win the GIL back), and its fdatasync runs behind, in
        the store's sync thread, batched; the compaction that
        is due every N changes rewrites all N processes and runs in a thread. Callers hold
        ``self._lock``, so no line is appended while the journal is being compacted.
        """
        stored = {
            pid: None if process is None else self._stored(process)
            for pid, process in (processes or {}).items()
        }
        self._store.change(stored, process_metadata, system_metadata)
        if self._store.compaction_due:
            await asyncio.to_thread(self._store.compact)

    # ------------------------------------------------------------------ ProcessBackend

    async def list_references(self) -> list[tuple[str, str]]:
        return [(pid, p.config.reference) for pid, p in self._processes.items()]

    async def get_processes(self, ids: Sequence[str], aspects: frozenset[str]) -> list[Process]:
        return self.processes_now(ids, aspects)

    def processes_now(self, ids: Sequence[str], aspects: frozenset[str]) -> list[Process]:
        """:meth:`get_processes` without a suspension: the engine reads its own memory."""
        now = time.time()
        found: list[Process] = []
        for pid in ids:
            process = self._processes.get(pid)
            if process is None:
                continue
            found.append(process.view(aspects, now))
        return found

    async def get_config(self, pid: str) -> ProcessConfig:
        return self._get(pid).config

    async def get_state(self, pid: str) -> ProcessState:
        return self._get(pid).state()

    async def get_report(self, pid: str) -> ProcessReport:
        return self._get(pid).report()

    async def create(self, config: ProcessConfig) -> ProcessConfig:
        async with self._lock:
            if config.id in self._processes:
                raise ProcessExistsError()
            prepared = self._prepare(config)
            now = _now()
            process = LocalProcess(
                prepared.config,
                prepared,
                self.settings.run,
                created_at=now,
                updated_at=now,
                order="start" if config.autostart else "stop",
            )
            self._processes[process.id] = process
            self._register_cleanup(process)
            await self._persist({process.id: process})
        if process.order == "start":
            await process.start()
        return prepared.config

    async def update(self, pid: str, config: ProcessConfig) -> ProcessConfig:
        async with self._lock:
            old = self._get(pid)
            if config.id != pid and config.id in self._processes:
                raise ProcessExistsError()

            def lookup(other: str) -> ProcessConfig | None:
                return None if other == pid else self._stored_config(other)

            prepared = self._prepare(config, lookup)
            # Order of effects as Core (§3.3 step 4): stop old synchronously, purge, replace.
            await old.close("process updated")
            self._cleanup.remove(pid, purge=True)
            now = _now()
            new = LocalProcess(
                prepared.config,
                prepared,
                self.settings.run,
                created_at=now,
                updated_at=now,
                order=old.order,
                metadata=old.metadata,
            )
            new.adopt_history(old)
            del self._processes[pid]
            self._processes[new.id] = new
            self._register_cleanup(new)
            changes: dict[str, LocalProcess | None] = {new.id: new}
            moved: dict[str, dict[str, Any] | None] = {}
            if new.id != pid:
                changes[pid] = None
                moved = {pid: None, new.id: new.metadata}
            await self._persist(changes, moved)
        if new.order == "start":
            await new.start()
        return prepared.config

    async def delete(self, pid: str) -> None:
        async with self._lock:
            process = self._get(pid)
            await process.close("process deleted")
            self._cleanup.remove(pid, purge=True)
            del self._processes[pid]
            await self._persist({pid: None}, {pid: None})

    async def command(self, pid: str, command: str) -> None:
        process = self._get(pid)
        if command == "start":
            if process.order == "start":
                return
            if not process.valid:
                raise CommandFailedError("invalid process definition")
            process.order = "start"
            await self._persist_locked(process)
            await process.start()
        elif command == "stop":
            if process.order == "stop" and not process.running:
                return
            process.order = "stop"
            # The SIGINT first (process.stop sends it before its first await), the journal
            # line while ffmpeg exits: the answer still waits for both, as Core's waits for
            # the exit (§3.5), but the write is no longer in front of the signal.
            stopping = process.stop("stop requested")
            persisting = asyncio.ensure_future(self._persist_locked(process))
            try:
                await stopping
            finally:
                await persisting
        elif command == "restart":
            if process.order != "start":
                return
            await process.restart()
        elif command == "reload":
            await self._reload(process)
        else:  # pragma: no cover - the route only passes known verbs
            raise CommandFailedError(f"unknown command {command!r}")

    async def _persist_locked(self, process: LocalProcess) -> None:
        async with self._lock:
            await self._persist({process.id: process})

    async def _reload(self, process: LocalProcess) -> None:
        async with self._lock:
            try:
                prepared = self._prepare(process.config)
            except ConfigError:
                # Core leaves the process invalid; a running ffmpeg keeps running (§3.5).
                process.prepared = None
                raise
            await process.close("process reloaded")
            fresh = LocalProcess(
                prepared.config,
                prepared,
                self.settings.run,
                created_at=process.created_at,
                updated_at=process.updated_at,
                order=process.order,
                metadata=process.metadata,
            )
            self._processes[process.id] = fresh
            self._register_cleanup(fresh)
        if fresh.order == "start":
            await fresh.start()

    async def probe(self, pid: str) -> Probe:
        process = self._get(pid)
        if process.prepared is None:
            return Probe(streams=[], log=[process.invalid_reason or "invalid process definition"])
        argv = probe_argv(process.prepared.resolved)
        return await probe_process(self.settings.run.binary, argv)

    async def get_metadata(self, pid: str | None, key: str | None) -> Any:
        return metadata_value(
            self._system_metadata if pid is None else self._get(pid).metadata, key
        )

    async def set_metadata(self, pid: str | None, key: str, value: Any) -> None:
        async with self._lock:
            current = self._system_metadata if pid is None else self._get(pid).metadata
            # Copy on write: read models hold the old dict, which must stay as it was.
            updated = dict(current or {})
            if value is None:
                updated.pop(key, None)
            else:
                updated[key] = value
            if pid is None:
                self._system_metadata = updated
                await self._persist(system_metadata=updated)
            else:
                self._processes[pid].metadata = updated or None
                await self._persist(process_metadata={pid: updated or None})

    async def skills(self, reload: bool = False) -> Skills:
        if self._skills is None or reload:
            self._skills = await asyncio.to_thread(probe_skills, self.settings.run.binary)
        return self._skills

    # ------------------------------------------------------------------ metrics

    def processes(self) -> list[LocalProcess]:
        return list(self._processes.values())
