"""Cleanup rules of process outputs (§8): which files of a filesystem a rule deletes, and when.

Pure decisions only. The runtime lists a filesystem's files (never directories) as
:class:`FileEntry` values, asks :func:`select_expired` every second (§8.3) or
:func:`select_purge` when a process goes away (§8.4), and removes the returned names after
mapping each through :func:`contained_path`, so no rule can reach outside its filesystem's root.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from ffmpeg_operator.core.glob import Glob, GlobError, compile_glob
from ffmpeg_operator.core.models import Cleanup

__all__ = [
    "CleanupRule",
    "FileEntry",
    "contained_path",
    "parse_cleanup_pattern",
    "select_expired",
    "select_purge",
]

#: Cleanup globs treat "/" as the separator: "*" stays inside one directory, "**" does not.
PATH_SEPARATOR = "/"

# Core's own expression: the prefix is lowercase ASCII letters followed by ":".
_PREFIX = re.compile(r"([a-z]+):")

# Core's legacy prefixes; "disk:" and "mem:" name the same filesystems directly.
_LEGACY_NAMES = {"diskfs": "disk", "memfs": "mem"}
_BUILTIN_FILESYSTEMS = ("disk", "mem")


def parse_cleanup_pattern(pattern: str, storages: Collection[str] = ()) -> tuple[str, str] | None:
    """Split a resolved cleanup pattern into (filesystem name, glob) — §8.1.

    The filesystem is ``disk``, ``mem`` or one of the configured ``storages``. A pattern whose
    prefix is missing, malformed (digits, uppercase) or names no known filesystem gives None:
    Core silently ignores such a rule rather than rejecting the process.
    """
    match = _PREFIX.match(pattern)
    if match is None:
        return None
    name = _LEGACY_NAMES.get(match.group(1), match.group(1))
    if name not in _BUILTIN_FILESYSTEMS and name not in storages:
        return None
    return name, pattern[match.end() :]


@dataclass(frozen=True)
class FileEntry:
    """One file of a filesystem: ``name`` is absolute inside that filesystem (``/x/a.ts``)."""

    name: str
    mtime: float
    size: int


@dataclass(frozen=True)
class CleanupRule:
    """A cleanup rule bound to its filesystem, placeholders already resolved."""

    filesystem: str
    glob: str
    max_files: int = 0
    max_file_age_seconds: int = 0
    purge_on_delete: bool = False

    @classmethod
    def from_cleanup(cls, cleanup: Cleanup, storages: Collection[str] = ()) -> CleanupRule | None:
        """The rule for a (placeholder-resolved) config entry, or None when Core ignores it."""
        parsed = parse_cleanup_pattern(cleanup.pattern, storages)
        if parsed is None:
            return None
        filesystem, glob = parsed
        return cls(
            filesystem=filesystem,
            glob=glob,
            max_files=cleanup.max_files,
            max_file_age_seconds=cleanup.max_file_age_seconds,
            purge_on_delete=cleanup.purge_on_delete,
        )

    def matcher(self) -> Glob | None:
        """The compiled glob, or None for an invalid one (which matches nothing)."""
        try:
            return compile_glob(self.glob, PATH_SEPARATOR)
        except GlobError:
            return None

    def matches(self, name: str) -> bool:
        """Whether the file ``name`` falls under this rule."""
        matcher = self.matcher()
        return matcher is not None and matcher.match(name)


def select_expired(rule: CleanupRule, files: Sequence[FileEntry], now: float) -> list[str]:
    """Names the periodic cleanup deletes now (§8.3), oldest first.

    Matching files are ordered by modification time. With ``max_files`` the oldest surplus
    goes; then with ``max_file_age_seconds`` every remaining file modified before
    ``now - age`` goes too.
    """
    matching = sorted((entry for entry in files if rule.matches(entry.name)), key=_by_mtime)
    expired: list[FileEntry] = []
    if rule.max_files > 0 and len(matching) > rule.max_files:
        surplus = len(matching) - rule.max_files
        expired, matching = matching[:surplus], matching[surplus:]
    if rule.max_file_age_seconds > 0:
        best_before = now - rule.max_file_age_seconds
        expired.extend(entry for entry in matching if entry.mtime < best_before)
    return [entry.name for entry in expired]


def select_purge(rule: CleanupRule, files: Sequence[FileEntry]) -> list[str]:
    """Every file the rule matches, longest names first (§8.4).

    The caller checks ``purge_on_delete``; this only answers which files a purge removes.
    """
    names = [entry.name for entry in files if rule.matches(entry.name)]
    return sorted(names, key=lambda name: (-len(name), name))


def contained_path(root: str, name: str) -> str | None:
    """The path of filesystem name ``name`` below ``root``, or None if it would leave the root.

    ``name`` must be absolute inside the filesystem. ``.`` and ``..`` are resolved textually;
    a ``..`` above the top is refused rather than clamped, and so are names that resolve to
    the root itself or contain NUL. Symlinks are the runtime's concern.
    """
    if not name.startswith("/") or "\0" in name or "\0" in root:
        return None
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(part)
    if not parts:
        return None
    return posixpath.normpath(root).rstrip("/") + "/" + "/".join(parts)


def _by_mtime(entry: FileEntry) -> float:
    return entry.mtime
