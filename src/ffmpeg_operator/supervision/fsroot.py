"""A data directory as a cleanup filesystem: ``{diskfs}`` (spec §8, design §6).

Shared by the local runtime (its data directory) and the operator (the diskfs volume it mounts).
Cleanup patterns are not validated (§8.2), so this class is what keeps a rule inside the
directory: names are resolved textually with :func:`contained_path` (no ``..`` above the root,
no absolute escapes), the real path must still lie inside the root's real path (no symlinked
directory on the way), and only regular files are touched (a symlink is never followed, listed
or deleted — deleting the link would be harmless, but a rule has no business with it).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from ffmpeg_operator.core.cleanup import FileEntry, contained_path

log = logging.getLogger(__name__)


class DiskFS:
    """Lists and deletes regular files below ``root``; nothing outside it, ever."""

    name = "disk"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def list_files(self) -> list[FileEntry]:
        """Every regular file below the root; symlinks (to files or directories) are skipped."""
        root = str(self.root)
        entries: list[FileEntry] = []
        # followlinks=False: a symlinked directory shows up in `dirnames` but is not entered.
        for directory, _dirnames, filenames in os.walk(root, onerror=_log_walk_error):
            relative = os.path.relpath(directory, root)
            prefix = "/" if relative == "." else "/" + relative.replace(os.sep, "/") + "/"
            for filename in filenames:
                try:
                    info = os.lstat(os.path.join(directory, filename))
                except OSError:
                    continue  # deleted while we walked
                if stat.S_ISREG(info.st_mode):
                    entries.append(FileEntry(prefix + filename, info.st_mtime, info.st_size))
        return entries

    def delete(self, name: str) -> bool:
        """Delete the regular file ``name`` (absolute inside the fs); False if refused or absent.

        Refused: names leaving the root textually or through a symlinked directory, symlinks,
        directories and anything else that is not a regular file.
        """
        path = self._contained(name)
        if path is None:
            log.warning("refusing to delete %r: outside %s", name, self.root)
            return False
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return False
        if not stat.S_ISREG(info.st_mode):
            return False
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        return True

    def _contained(self, name: str) -> str | None:
        path = contained_path(str(self.root), name)
        if path is None:
            return None
        # The parent's real path, not the file's: the file itself may be a symlink, which
        # lstat refuses afterwards, but no directory on the way may lead out of the root.
        real_root = os.path.realpath(self.root)
        real_parent = os.path.realpath(os.path.dirname(path))
        if os.path.commonpath([real_root, real_parent]) != real_root:
            return None
        return os.path.join(real_parent, os.path.basename(path))


def _log_walk_error(error: OSError) -> None:
    log.warning("cannot list %s: %s", error.filename, error)
