"""What one operator process shares between its handlers: the API client, the cleanup loop,
the wake-up signals of the process daemons, and counters of what it did (for tests, benches).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import kopf

from ffmpeg_operator.core.redact import Redactor
from ffmpeg_operator.operator.cleanup import AsyncFilesystem, CleanupLoop, DiskVolume, MemfsStore
from ffmpeg_operator.operator.config import MEMFS_USER, OperatorConfig
from ffmpeg_operator.operator.kubeclient import KubeClient

__all__ = [
    "KOPF_REQUEST_CONNECTIONS",
    "WATCHES_PER_NAMESPACE",
    "ActionCounters",
    "OperatorContext",
    "ProcessKey",
    "kopf_login",
    "kopf_pool_limit",
]

ProcessKey = tuple[str, str]  # (namespace, name) of an FFmpegProcess


@dataclass
class ActionCounters:
    """What this operator did to the API: a standby of a peering does none of it."""

    pods_created: int = 0
    pods_deleted: int = 0
    status_writes: int = 0
    agent_polls: int = 0

    @property
    def total(self) -> int:
        return self.pods_created + self.pods_deleted + self.status_writes


def login() -> kopf.ConnectionInfo:
    """kopf's login (in-cluster or kubeconfig), for this package's own client."""
    info = kopf.login_via_client(
        logger=logging.getLogger(__name__), settings=kopf.OperatorSettings()
    )
    if info is None:
        raise RuntimeError("no Kubernetes credentials (neither in-cluster nor kubeconfig)")
    return info


#: Connections kopf's session keeps for its short requests (patches, events, lists).
KOPF_REQUEST_CONNECTIONS = 16
#: Long-lived watch streams kopf holds per watched namespace (or once cluster-wide): the
#: FFmpegProcesses, the run Pods, the peering, and the CRDs and namespaces it scans.
WATCHES_PER_NAMESPACE = 5


def kopf_pool_limit(namespaces: int) -> int:
    """The connections kopf's session may hold to the API server, watching ``namespaces``
    namespaces (1 cluster-wide): its watch streams and ``KOPF_REQUEST_CONNECTIONS`` requests."""
    return KOPF_REQUEST_CONNECTIONS + WATCHES_PER_NAMESPACE * max(1, namespaces)


def kopf_login(namespaces: int) -> Callable[..., Awaitable[kopf.AiohttpSession | None]]:
    """kopf's login handler: kopf's own credentials, in a session with a bounded pool.

    kopf builds its session with ``TCPConnector(limit=0)``: a burst of a thousand objects opens
    a connection per request in flight, ~160 TLS connections to the API server, each with its
    128 KiB read buffer (20 MiB). kopf offers no setting for it, but a login handler may hand it
    a session of its own (``kopf.AiohttpSession``, kopf's documented "custom HTTP sessions");
    kopf closes it when the credentials go (a 401) and calls the handler again. Every watch
    stream holds a connection for as long as it lasts: the limit leaves room for all of them
    beside ``KOPF_REQUEST_CONNECTIONS`` requests, so the watches can never take every connection
    and starve the patches. Requests (or a reconnecting watch) beyond the limit wait for a free
    connection, at most the length of one short request.
    """
    limit = kopf_pool_limit(namespaces)

    async def login_with_bounded_pool(
        *, logger: kopf.Logger, settings: kopf.OperatorSettings, **_: object
    ) -> kopf.AiohttpSession | None:
        info = kopf.login_via_client(logger=logger, settings=settings)
        if info is None:
            return None
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=limit, ssl=info.as_ssl_context()),
            headers=info.as_http_headers(),
            proxy=info.proxy_url,
            trust_env=info.trust_env,
        )
        return kopf.AiohttpSession(
            server=info.server,
            default_namespace=info.default_namespace,
            # Above kopf's plain login of the same credentials, should that be registered too.
            priority=info.priority + 1,
            expiration=info.expiration,
            aiohttp_session=session,
        )

    return login_with_bounded_pool


class OperatorContext:
    """Created with the registry; lives as long as the operator runs."""

    def __init__(self, config: OperatorConfig) -> None:
        self.config = config
        self.client = KubeClient(login)
        filesystems: list[AsyncFilesystem] = []
        if config.diskfs_root is not None:
            filesystems.append(DiskVolume(config.diskfs_root))
        if config.memfs_url:
            filesystems.append(MemfsStore(config.memfs_url, MEMFS_USER, config.memfs_password))
        self.cleanup = CleanupLoop(filesystems, interval=config.cleanup_interval)
        self.counters = ActionCounters()
        #: ffmpeg logs the memfs URL with the password: kept out of statuses and events.
        self.redactor = Redactor((config.memfs_password,))
        self._wakers: dict[ProcessKey, asyncio.Event] = {}
        # (namespace, referenced process ID) -> the processes whose config references it
        self._dependents: dict[tuple[str, str], set[ProcessKey]] = defaultdict(set)
        self._references: dict[ProcessKey, frozenset[str]] = {}
        self._generations: dict[ProcessKey, tuple[object, object]] = {}

    # ------------------------------------------------------------------ wake-ups

    def waker(self, key: ProcessKey) -> asyncio.Event:
        """The event a process daemon sleeps on (created on first use)."""
        event = self._wakers.get(key)
        if event is None:
            event = self._wakers[key] = asyncio.Event()
        return event

    def forget(self, key: ProcessKey) -> None:
        """A process daemon ended: drop its wake-up, references and cleanup rules."""
        self._wakers.pop(key, None)
        self._generations.pop(key, None)
        self.set_references(key, frozenset())
        self.cleanup.remove(key)

    def spec_changed(self, key: ProcessKey, generation: object, deletion: object) -> bool:
        """Whether an event of ``key`` brings a new spec (or its deletion) since the last one.

        metadata.generation moves with the spec only; status writes and finalizers leave it.
        """
        seen = (generation, deletion)
        if self._generations.get(key) == seen:
            return False
        self._generations[key] = seen
        return True

    def wake(self, key: ProcessKey) -> None:
        event = self._wakers.get(key)
        if event is not None:
            event.set()

    def set_references(self, key: ProcessKey, ids: frozenset[str]) -> None:
        """The IDs the config of ``key`` references (so their changes wake it)."""
        namespace = key[0]
        for old in self._references.get(key, frozenset()) - ids:
            dependents = self._dependents.get((namespace, old))
            if dependents is not None:
                dependents.discard(key)
                if not dependents:
                    del self._dependents[(namespace, old)]
        for new in ids:
            self._dependents[(namespace, new)].add(key)
        if ids:
            self._references[key] = ids
        else:
            self._references.pop(key, None)

    def wake_dependents(self, namespace: str, process_id: str) -> None:
        """The process ``process_id`` changed: wake every process referencing it."""
        for key in list(self._dependents.get((namespace, process_id), ())):
            self.wake(key)

    async def close(self) -> None:
        await self.cleanup.close()
        await self.client.close()
