"""Viewer sessions measured on the served files, for ``/api/v3/session`` and the metrics.

Two collectors, as in Core: ``hls`` (playlists and segments, ``.m3u8``/``.ts``) and ``http``
(every file read from ``/memfs`` and ``/``). A session is one client (address and user agent)
watching one stream: its reference is the playlist's name without extension, as Core derives
it, and segments count towards the client's latest playlist. Bytes are counted as they are
sent; a session ends after :data:`SESSION_TIMEOUT_S` without a request. Clients on
``ip_ignorelist`` (Core's default: localhost, i.e. ffmpeg itself) are not counted, nor are
reads with HTTP basic credentials (ffmpeg reading ``{memfs}``, whose URL carries them).
"""

from __future__ import annotations

import ipaddress
import posixpath
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SESSION_TIMEOUT_S = 30.0
#: The window the current bandwidth is averaged over.
BITRATE_WINDOW_S = 10.0
COLLECTORS = ("hls", "http")
#: What marks a master playlist (it lists variant playlists, not segments).
_MASTER_TAG = b"#EXT-X-STREAM-INF"


@dataclass
class Session:
    id: str
    reference: str
    location: str
    peer: str
    extra: str
    created_at: float
    last_seen: float
    tx_bytes: int = 0
    #: (time, bytes) of recent sends, for the bandwidth.
    recent: deque[tuple[float, int]] = field(default_factory=deque)

    def tx_kbit(self, now: float) -> float:
        while self.recent and self.recent[0][0] < now - BITRATE_WINDOW_S:
            self.recent.popleft()
        sent = sum(size for _, size in self.recent)
        return sent * 8 / 1024 / BITRATE_WINDOW_S


@dataclass
class _Totals:
    sessions: int = 0
    tx_bytes: int = 0


class Collector:
    def __init__(self, name: str) -> None:
        self.name = name
        self.active: dict[str, Session] = {}
        self.totals = _Totals()
        self.by_reference: dict[str, _Totals] = {}

    def expire(self, now: float) -> None:
        for key in [k for k, s in self.active.items() if now - s.last_seen > SESSION_TIMEOUT_S]:
            session = self.active.pop(key)
            reference = self.by_reference.setdefault(session.reference, _Totals())
            reference.sessions += 1
            reference.tx_bytes += session.tx_bytes


def _reference(path: str) -> str:
    return posixpath.splitext(posixpath.basename(path))[0]


class SessionRegistry:
    """Thread-safe: the ASGI middleware records, the API routes read."""

    def __init__(self, ignore: Iterable[str] = (), clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._ignore = [ipaddress.ip_network(net, strict=False) for net in ignore if net]
        self._collectors = {name: Collector(name) for name in COLLECTORS}
        #: client → (reference of its latest playlist, when it was read); segments count
        #: towards it. Forgotten with the client's sessions, so the map does not grow forever.
        self._playlists: dict[str, tuple[str, float]] = {}

    def collectable(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return True
        return not any(ip in network for network in self._ignore)

    def record(
        self, client: str, agent: str, path: str, size: int, *, master: bool = False
    ) -> None:
        """``size`` bytes of ``path`` sent to ``client`` (address) with user agent ``agent``.

        A ``master`` playlist only names the variant playlists: as in Core, the viewer's
        session is the variant's, so the master counts on the ``http`` collector only.
        """
        now = self._clock()
        key = f"{client} {agent}"
        with self._lock:
            self._forget_playlists(now)
            collectors = ["http"]
            reference = _reference(path)
            if path.endswith(".m3u8") and not master:
                self._playlists[key] = (reference, now)
                collectors.append("hls")
            elif path.endswith(".ts"):
                reference = self._playlists.get(key, (reference, now))[0]
                collectors.append("hls")
            for name in collectors:
                collector = self._collectors[name]
                collector.expire(now)
                session_key = f"{key} {reference}"
                session = collector.active.get(session_key)
                if session is None:
                    collector.totals.sessions += 1
                    session = Session(
                        id=f"{name}:{collector.totals.sessions}",
                        reference=reference,
                        location=path,
                        peer=client,
                        extra=f"[{client}] {agent}",
                        created_at=now,
                        last_seen=now,
                    )
                    collector.active[session_key] = session
                session.last_seen = now
                session.tx_bytes += size
                session.recent.append((now, size))
                collector.totals.tx_bytes += size

    def _forget_playlists(self, now: float) -> None:
        stale = [k for k, (_, seen) in self._playlists.items() if now - seen > SESSION_TIMEOUT_S]
        for key in stale:
            del self._playlists[key]

    def active(self, name: str) -> list[dict[str, Any]]:
        """Core's ``api.Session`` list of a collector (empty for unknown collectors)."""
        now = self._clock()
        with self._lock:
            collector = self._collectors.get(name)
            if collector is None:
                return []
            collector.expire(now)
            return [
                {
                    "id": s.id,
                    "reference": s.reference,
                    "created_at": int(s.created_at),
                    "local": s.location,
                    "remote": s.peer,
                    "extra": s.extra,
                    "bytes_rx": 0,
                    "bytes_tx": s.tx_bytes,
                    "bandwidth_rx_kbit": 0,
                    "bandwidth_tx_kbit": round(s.tx_kbit(now), 3),
                }
                for s in collector.active.values()
            ]

    def figures(self, name: str) -> dict[str, float]:
        """active, total sessions, tx bytes and current tx bit/s of a collector."""
        now = self._clock()
        with self._lock:
            collector = self._collectors.get(name)
            if collector is None:
                return {"active": 0, "total": 0, "tx_bytes": 0, "tx_bitrate": 0.0}
            collector.expire(now)
            kbit = sum(s.tx_kbit(now) for s in collector.active.values())
            return {
                "active": len(collector.active),
                "total": collector.totals.sessions,
                "tx_bytes": collector.totals.tx_bytes,
                "tx_bitrate": kbit * 1024,
            }

    def reference_sessions(self, name: str, prefix: str) -> tuple[int, int]:
        """(current, total) sessions whose reference starts with ``prefix`` (the widget's)."""
        now = self._clock()
        with self._lock:
            collector = self._collectors[name]
            collector.expire(now)
            current = sum(1 for s in collector.active.values() if s.reference.startswith(prefix))
            ended = sum(
                totals.sessions
                for reference, totals in collector.by_reference.items()
                if reference.startswith(prefix)
            )
            return current, current + ended

    def summary(self, name: str) -> dict[str, Any]:
        """Core's ``api.SessionSummary`` of a collector."""
        active = self.active(name)
        figures = self.figures(name)
        with self._lock:
            collector = self._collectors.get(name)
            references = {
                reference: {
                    "sessions": totals.sessions,
                    "traffic_rx_mb": 0,
                    "traffic_tx_mb": totals.tx_bytes // (1024 * 1024),
                }
                for reference, totals in (collector.by_reference.items() if collector else ())
            }
        return {
            "active": {
                "list": active,
                "sessions": len(active),
                "bandwidth_rx_mbit": 0,
                "bandwidth_tx_mbit": round(figures["tx_bitrate"] / 1024 / 1024, 3),
                "max_sessions": 0,
                "max_bandwidth_rx_mbit": 0,
                "max_bandwidth_tx_mbit": 0,
            },
            "summary": {
                "remote": {},
                "local": {},
                "reference": references,
                "sessions": int(figures["total"]),
                "traffic_rx_mb": 0,
                "traffic_tx_mb": int(figures["tx_bytes"]) // (1024 * 1024),
            },
        }


def _is_file_read(scope: Scope, excluded: tuple[str, ...]) -> bool:
    path: str = scope["path"]
    return scope["method"] in ("GET", "HEAD") and not path.startswith(excluded)


class SessionMiddleware:
    """Counts the body bytes of successful file reads outside the API into the registry."""

    def __init__(
        self, app: ASGIApp, registry: SessionRegistry, excluded: tuple[str, ...] = ("/api", "/ui")
    ) -> None:
        self.app = app
        self.registry = registry
        self.excluded = excluded

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_file_read(scope, self.excluded):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = str(client[0]) if client else ""
        if not self.registry.collectable(address):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if headers.get("authorization", "").lower().startswith("basic "):
            # ffmpeg reading {memfs} sends the memfs credentials the placeholder carries: a
            # process of this server, not a viewer (on Kubernetes it comes from a Pod address
            # that no ignore list can name in advance).
            await self.app(scope, receive, send)
            return
        agent = headers.get("user-agent", "")
        status = 0

        async def counting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and status == 200:
                body: bytes = message.get("body", b"")
                if body:
                    master = _MASTER_TAG in body and scope["path"].endswith(".m3u8")
                    self.registry.record(address, agent, scope["path"], len(body), master=master)
            await send(message)

        await self.app(scope, receive, counting_send)
