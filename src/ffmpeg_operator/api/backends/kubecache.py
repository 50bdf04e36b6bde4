"""An informer: the objects of one resource in one namespace, kept current by list + watch.

Reads of the v3 API are served from here, so ``GET /api/v3/process`` over 1,000 processes costs
no request to the API server. Where the API may only list (run Pods: the API's Role grants
``get``/``list``, not ``watch``), the cache is listed again on demand, at most as often as its
readers allow (:meth:`ObjectCache.refresh`).

Writes still go to the API server; their answers are fed back in with
:meth:`ObjectCache.observe` (and deletions with :meth:`ObjectCache.forget`), so a client reads
its own writes at once, before the watch event arrives.

Watch events and write answers can arrive in either order. An event older than what the cache
holds is ignored, which needs an order on ``resourceVersion``: Kubernetes calls it opaque, but
every API server in use (etcd revisions) and the test emulator write increasing integers; when
a version is not an integer the newer-arriving one wins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from ffmpeg_operator.api.backends.kubeclient import KubeApiError, KubeClient, SilentWatchError

__all__ = ["ChangeHandler", "ObjectCache", "resource_version"]

log = logging.getLogger(__name__)

Obj = dict[str, Any]
#: ``(name, old, new)``: ``old`` None for an addition, ``new`` None for a removal.
ChangeHandler = Callable[[str, Obj | None, Obj | None], None]

#: Seconds the API server keeps a watch open before we start a new one.
WATCH_TIMEOUT = 290
#: Seconds a deletion is remembered, to ignore late events of the deleted object.
TOMBSTONE_SECONDS = 120.0


def resource_version(obj: Obj | None) -> str:
    if obj is None:
        return ""
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _older(candidate: str, than: str) -> bool:
    """Whether version ``candidate`` is older than ``than`` (integers compared, see module)."""
    try:
        return int(candidate) < int(than)
    except ValueError:
        return False


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


class ObjectCache:
    """Objects under ``path`` (a collection URL) matching ``label_selector``, by name."""

    def __init__(
        self,
        client: KubeClient,
        path: str,
        *,
        label_selector: str | None = None,
        on_change: ChangeHandler | None = None,
        watch: bool = True,
    ) -> None:
        self._client = client
        self._path = path
        self._selector = label_selector
        self._on_change = on_change
        self._watch = watch
        self._listed_at = 0.0
        self._listing: asyncio.Lock = asyncio.Lock()
        self._objects: dict[str, Obj] = {}
        # name -> (resourceVersion of the deletion or of the last version seen, when)
        self._tombstones: dict[str, tuple[str, float]] = {}
        self._version = ""
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: Why the last list or watch of the API server failed; None once one succeeded.
        self.failure: str | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """List once (raising when that fails), then keep watching in the background."""
        await self._relist()
        if self._watch:
            self._task = asyncio.create_task(self._watch_forever(), name=f"watch {self._path}")

    async def refresh(self, max_age: float = 0.0) -> None:
        """List again unless the last list is at most ``max_age`` seconds old (list-only use).

        Concurrent callers share one list request. A failed list keeps the old content.
        """
        if time.monotonic() - self._listed_at <= max_age:
            return
        async with self._listing:
            if time.monotonic() - self._listed_at <= max_age:
                return
            try:
                await self._relist()
            except KubeApiError as error:
                log.warning("listing %s failed: %s", self._path, error)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # ------------------------------------------------------------------ reads

    def get(self, name: str) -> Obj | None:
        return self._objects.get(name)

    def values(self) -> Iterator[Obj]:
        return iter(list(self._objects.values()))

    def __len__(self) -> int:
        return len(self._objects)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``predicate()`` holds after some change; False on timeout."""
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 1.0))
        return True

    # ------------------------------------------------------------------ writes seen

    def observe(self, obj: Obj) -> None:
        """Take the answer of a write (create, patch, replace) unless the cache has newer."""
        if obj.get("kind") == "Status" or not _name(obj):
            return
        self._upsert(obj)

    def forget(self, name: str, version: str = "") -> None:
        """The object is gone (we deleted it); ignore its events up to ``version``."""
        current = self._objects.get(name)
        version = version or resource_version(current)
        if current is not None and version and _older(version, resource_version(current)):
            return
        self._remove(name, version)

    # ------------------------------------------------------------------ internals

    def _notify(self, name: str, old: Obj | None, new: Obj | None) -> None:
        self._changed.set()
        if self._on_change is not None:
            try:
                self._on_change(name, old, new)
            except Exception:  # a view bug must not stop the informer
                log.exception("change handler failed for %s", name)

    def _upsert(self, obj: Obj) -> None:
        name, version = _name(obj), resource_version(obj)
        tombstone = self._tombstones.get(name)
        if tombstone is not None:
            if not _older(tombstone[0], version):
                return  # a late event of the object we saw deleted
            del self._tombstones[name]
        old = self._objects.get(name)
        if old is not None and (
            _older(version, resource_version(old)) or version == resource_version(old)
        ):
            return
        self._objects[name] = obj
        self._notify(name, old, obj)

    def _remove(self, name: str, version: str) -> None:
        now = time.monotonic()
        self._tombstones[name] = (version, now)
        if len(self._tombstones) > 1000:
            self._tombstones = {
                key: value
                for key, value in self._tombstones.items()
                if now - value[1] < TOMBSTONE_SECONDS
            }
        old = self._objects.pop(name, None)
        if old is not None:
            self._notify(name, old, None)

    def _apply(self, kind: str, obj: Obj) -> None:
        name = _name(obj)
        if kind == "DELETED":
            current = self._objects.get(name)
            if current is not None and _older(resource_version(obj), resource_version(current)):
                return  # the object was created again since
            self._remove(name, resource_version(obj))
        elif kind in ("ADDED", "MODIFIED"):
            self._upsert(obj)

    def _query(self) -> list[tuple[str, str]]:
        return [("labelSelector", self._selector)] if self._selector else []

    async def _relist(self) -> None:
        started = time.monotonic()
        try:
            listing = await self._client.request("GET", self._path, query=self._query())
        except KubeApiError as error:
            self.failure = str(error)
            raise
        self.failure = None
        self._listed_at = started
        items: list[Obj] = listing.get("items") or []
        version = resource_version(listing)
        seen = set()
        for item in items:
            name = _name(item)
            seen.add(name)
            tombstone = self._tombstones.get(name)
            if tombstone is not None and _older(tombstone[0], resource_version(item)):
                del self._tombstones[name]
            self._upsert(item)
        for name in [name for name in self._objects if name not in seen]:
            # Unless it was written after the list was taken, an object missing from it is gone.
            if not _older(version, resource_version(self._objects[name])):
                self._remove(name, version)
        self._version = version

    async def _watch_forever(self) -> None:
        backoff = 0.5
        while True:
            try:
                if not self._version:
                    await self._relist()
                await self._watch_once()
                backoff = 0.5
            except asyncio.CancelledError:
                raise
            except SilentWatchError as silence:
                # A dead connection, not a failing server: watch again from where it stopped
                # (a 410 then lists again; an API server that is away fails the new request).
                log.info("watch of %s: %s, watching again", self._path, silence)
            except KubeApiError as error:
                if error.status == 410:
                    self._version = ""  # too old: list again
                    continue
                log.warning("watching %s failed: %s", self._path, error)
                self.failure = str(error)
                # List again once it answers: the failure is over only when a list succeeded
                # (a watch that opens and stays quiet proves nothing until its first event).
                self._version = ""
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            except Exception as error:
                log.exception("watching %s failed", self._path)
                self.failure = str(error) or type(error).__name__
                self._version = ""
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def _watch_once(self) -> None:
        query = [
            *self._query(),
            ("resourceVersion", self._version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(WATCH_TIMEOUT)),
        ]
        async for event in self._client.watch(self._path, query=query):
            kind = str(event.get("type") or "")
            obj = event.get("object") or {}
            if kind == "ERROR":
                code = int(obj.get("code") or 0)
                raise KubeApiError(code, str(obj.get("reason") or ""), str(obj.get("message")))
            version = resource_version(obj)
            if kind != "BOOKMARK":
                self._apply(kind, obj)
            if version:
                self._version = version
