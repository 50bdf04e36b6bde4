"""Bytes that processes write to memfs, as size and kbit/s of their outputs.

ffmpeg reports no size for outputs it writes over HTTP (HLS with ``-method PUT``), but the
server receives every byte. Writes are attributed to an output by path: an output addressed
``{memfs}/abc.m3u8`` owns the *stem* ``/abc`` and every file whose path starts with it (its
playlists and segments, ``/abc0.ts``, ``/abc_720p_0001.ts``); an address with a pattern
(``/abc_%04d.ts``) owns what precedes the first ``%``. A path belongs to the longest stem that
matches, so ``/abc2.ts`` goes to ``/abc2`` when that is an output too, not to ``/abc``.

Stems are learnt when the state of a process is read (:meth:`MemfsTraffic.figures`); writes
from the last :data:`RECENT_S` seconds are kept so a stem asked for late still counts the
beginning of its run. Size counts from the run's start (``since``), the rate is the mean of
the completed seconds of the last :data:`WINDOW_S` of the run, like the totals of
:mod:`ffmpeg_operator.core.progress`. Time is passed in (seconds, one monotonic clock).
"""

from __future__ import annotations

import functools
import math
import posixpath
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

#: Writes kept for stems learnt after the fact (seconds).
RECENT_S = 60.0
#: Seconds of the rate's window.
WINDOW_S = 30
#: A stem nobody asked about for this long is forgotten (seconds).
IDLE_S = 300.0
#: Two reads of one run may compute its start a second apart; a new run differs by more.
SINCE_TOLERANCE_S = 1.5


@functools.lru_cache(maxsize=4096)
def memfs_stem(address: str, base_url: str) -> str | None:
    """The stem (see module docstring) of ``address`` when it lies in the memfs at
    ``base_url``; ``None`` otherwise. Credentials in either URL do not matter. Cached: every
    read of a running process's state asks it for each output.
    """
    try:
        target, base = urlsplit(address), urlsplit(base_url)
        same_server = (target.hostname, target.port) == (base.hostname, base.port)
    except ValueError:
        return None
    prefix = base.path.rstrip("/") + "/"
    if not same_server or target.scheme not in ("http", "https"):
        return None
    if not target.path.startswith(prefix):
        return None
    path = "/" + target.path[len(prefix) :]
    stem = path[: path.index("%")] if "%" in path else posixpath.splitext(path)[0]
    return stem if stem.strip("/") else None


@dataclass
class _StemTraffic:
    since: float
    last_used: float
    size_bytes: int = 0
    per_second: dict[int, int] = field(default_factory=dict)

    def add(self, nbytes: int, now: float) -> None:
        self.size_bytes += nbytes
        second = math.floor(now)
        self.per_second[second] = self.per_second.get(second, 0) + nbytes
        for old in [s for s in self.per_second if s < second - WINDOW_S - 1]:
            del self.per_second[old]

    def kbit_per_second(self, now: float) -> float:
        current = math.floor(now)
        seconds = min(WINDOW_S, current - math.floor(self.since))
        if seconds <= 0:
            return 0.0
        total = sum(self.per_second.get(s, 0) for s in range(current - seconds, current))
        return total * 8 / seconds / 1024


class MemfsTraffic:
    """Counts memfs writes per stem; not thread-safe (one event loop uses it)."""

    def __init__(self) -> None:
        self._recent: deque[tuple[float, str, int]] = deque()
        self._stems: dict[str, _StemTraffic] = {}

    def record(self, path: str, nbytes: int, now: float) -> None:
        """``nbytes`` were written to the file ``path`` (absolute, normalised) at ``now``."""
        self._recent.append((now, path, nbytes))
        while self._recent and self._recent[0][0] < now - RECENT_S:
            self._recent.popleft()
        stem = self._owner(path)
        if stem is not None:
            self._stems[stem].add(nbytes, now)

    def figures(self, stem: str, since: float, now: float) -> tuple[int, float]:
        """Bytes written to ``stem`` since ``since`` (a run's start), and kbit/s now."""
        traffic = self._stems.get(stem)
        if traffic is None or abs(traffic.since - since) > SINCE_TOLERANCE_S:
            traffic = self._stems[stem] = _StemTraffic(since=since, last_used=now)
            for at, path, nbytes in self._recent:
                if at >= since and self._owner(path) == stem:
                    traffic.add(nbytes, at)
        traffic.last_used = now
        self._forget_idle(now)
        return traffic.size_bytes, traffic.kbit_per_second(now)

    def _owner(self, path: str) -> str | None:
        matches = [stem for stem in self._stems if path.startswith(stem)]
        return max(matches, key=len) if matches else None

    def _forget_idle(self, now: float) -> None:
        for stem in [s for s, t in self._stems.items() if now - t.last_used > IDLE_S]:
            del self._stems[stem]
