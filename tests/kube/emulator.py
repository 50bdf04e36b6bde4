"""A Kubernetes API server for tests: kmock's ``KubernetesEmulator`` with the gaps filled.

kmock serves discovery, lists, watches and object CRUD over real HTTP, so kopf, ``kubernetes``,
``kubernetes_asyncio`` and ``kubectl --validate=false`` can talk to it. Out of the box it lacks
what a real API server does on its own; :class:`Emulator` adds it (see
``../shared/reference/kubernetes-testing-notes.md``):

- discovery of the built-ins (``load_bundled()``) and of ``FFmpegProcess``
  (``ffmpeg-operator.io/v1alpha1``, ``ffmpegprocesses``, short name ``ffp``, status subresource);
  a POSTed CustomResourceDefinition registers its resource (and reports ``Established``);
- server-set metadata: ``uid``, ``resourceVersion`` (one global counter, bumped on every write),
  ``creationTimestamp``, ``generation`` (bumped when anything but metadata/status changes),
  the namespace from the URL, ``generateName``; names and labels are validated (422);
- status subresource semantics: writes to the object keep the old status, writes to
  ``/status`` change only the status, status is dropped on create;
- PATCH as JSON patch (a failed ``test`` op answers 422, as kopf expects), merge patch,
  strategic merge patch (lists of named items merge by name) and apply patch (as a merge);
  a merge patch carrying ``metadata.resourceVersion`` (or ``metadata.uid``) that is not the
  current one answers 409 Conflict, like PUT with a stale ``resourceVersion``; a patch that
  changes nothing does not bump ``resourceVersion`` and sends no watch event;
- create answers 201; errors are ``Status`` bodies with reasons ``NotFound``,
  ``AlreadyExists``, ``Conflict``, ``Invalid`` and ``Content-Type: application/json`` exactly;
- ``labelSelector`` (=, ==, !=, in, notin, exists, !exists) and ``fieldSelector`` (dotted
  paths, = and !=) in list, watch and delete-collection; lists carry ``kind``/``apiVersion``
  and the current ``resourceVersion``; watches resume from a ``resourceVersion`` (410 Gone
  when it is too old), honour ``timeoutSeconds`` and ``sendInitialEvents`` (with the closing
  bookmark), and turn an object leaving/entering the selection into DELETED/ADDED;
- DELETE with finalizers sets ``deletionTimestamp``; the object goes when its finalizers list
  becomes empty; deleting an object deletes the objects whose ``ownerReferences`` name its uid
  (garbage collection, synchronous; ``propagationPolicy: Orphan`` keeps them); optional graceful
  Pod deletion (``graceful_pod_deletion=True``: the Pod stays terminating until the kubelet, here
  :mod:`podrunner`, deletes it with ``gracePeriodSeconds=0``);
- ``GET .../pods/<name>/log`` (``container``, ``tailLines``, ``previous``, ``limitBytes``) served
  from :attr:`Emulator.log_provider` (the pod runner installs one);
- core discovery says ``groupVersion: "v1"``, subresources carry no short names,
  ``GET /version/`` answers; the request log is capped (kmock matches every request against the
  log, which made it quadratic).

Everything else from kmock stays: ``emulator.handler['patch', kmock.resource('v1/pods')][:1]
<< 500`` injects a fault (user reactions take precedence; a request answered by a user reaction
changes no state), ``handler.resources`` is the discovery table, ``handler.store`` the raw
``ObjectsArray`` (with the last few versions of every object in ``.history``).

Not emulated: authentication/authorization (any token passes), admission and schema
validation/defaulting of custom objects (check those with the CRD schema), dryRun, protobuf,
``/openapi`` (kubectl needs ``--validate=false``), pagination (``limit`` is ignored),
namespace lifecycle (objects may live in namespaces that do not exist).

The stateless parts (selectors, patches, URL parsing, Status errors) are in
:mod:`apimachinery`. Use the server through :class:`RunningEmulator`: it runs in its own
thread and event loop (so it outlives pytest-asyncio loops and kopf's task cancellation),
exposes ``url`` and a ``kubeconfig`` file, and thread-safe helpers (``objects``, ``get``,
``create``, ``patch``, ``patch_status``, ``delete``, ``wait_for``). The ``emulator`` fixture in
``conftest.py`` gives one per test (starting one takes a few milliseconds)::

    def test_something(emulator):
        emulator.create(FFMPEG_PROCESSES, {"metadata": {"name": "a"}, "spec": {...}}, "default")
        pod = emulator.wait_for(lambda: emulator.get(PODS, "default", "a-1"))
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import json
import math
import os
import re
import secrets
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp.web
import attrs
import kmock
import yaml
from apimachinery import (
    ApiError,
    apply_json_patch,
    field_matcher,
    label_matcher,
    merge_patch,
    now_rfc3339,
    parse_path,
    strategic_merge_patch,
)
from kmock._internal import apps, dsl, parsing, rendering

T = TypeVar("T")
Obj = dict[str, Any]
Key = tuple[kmock.resource, str | None, str]

FFMPEG_PROCESSES = kmock.resource("ffmpeg-operator.io", "v1alpha1", "ffmpegprocesses")
PODS = kmock.resource("", "v1", "pods")
EVENTS = kmock.resource("", "v1", "events")
NAMESPACES = kmock.resource("", "v1", "namespaces")
CRDS = kmock.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
KOPF_PEERINGS = kmock.resource("kopf.dev", "v1", "kopfpeerings")
CLUSTER_KOPF_PEERINGS = kmock.resource("kopf.dev", "v1", "clusterkopfpeerings")

ALL_VERBS = frozenset(
    {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
)
FFMPEG_PROCESS_INFO = kmock.ResourceInfo(
    kind="FFmpegProcess",
    singular="ffmpegprocess",
    namespaced=True,
    shortnames={"ffp"},
    categories={"ffmpeg"},
    subresources={"status"},
    verbs=ALL_VERBS,
)

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

#: Metadata only the server writes; client writes to them are ignored (as the API server does).
_SERVER_METADATA = (
    "name",
    "namespace",
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "resourceVersion",
)
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
# generateName suffixes use the API server's alphabet (no vowels, no look-alikes).
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def _bundled_resources() -> kmock.ResourcesArray:
    resources = kmock.ResourcesArray()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # kmock uses read_binary
        resources.load_bundled()
    return resources


#: The built-in resources of a recent cluster (kmock's bundle), loaded once.
BUILTIN_RESOURCES = _bundled_resources()


def as_resource(resource: kmock.resource | str) -> kmock.resource:
    """``'v1/pods'``, ``'ffmpeg-operator.io/v1alpha1/ffmpegprocesses'`` or a resource as is."""
    return resource if isinstance(resource, kmock.resource) else kmock.resource(resource)


# --- the server --------------------------------------------------------------------------------


@dataclass
class _Event:
    rv: int
    type: str
    old: Obj | None
    new: Obj


@dataclass
class _Feed:
    """Recent events of one resource (for resuming watches) and the live watch queues."""

    history: collections.deque[_Event]
    dropped_rv: int = 0
    queues: set[asyncio.Queue[_Event | None]] = field(default_factory=set)


LogProvider = Callable[[str, str, str, bool], Path | None]


def _is_object_request(request: rendering.Request) -> bool:
    return request.resource is not None and request.resource.plural is not None


@attrs.frozen
class _ObjectRequests(dsl.Chained):
    """The object requests among the source's; membership is a check of the request alone
    (kmock asks every reaction whether it saw the new request: with a callable filter that
    meant evaluating the filter over the whole request log, on every request)."""

    def __iter__(self) -> Iterator[rendering.Request]:
        return (request for request in super().__iter__() if _is_object_request(request))

    def __contains__(self, item: object) -> bool:
        return isinstance(item, rendering.Request) and _is_object_request(item)


@attrs.frozen
class _ObjectReaction(dsl.Reaction):
    """The emulator's own answer to every object request, below any user reaction."""

    serve: Callable[[rendering.Request], Any] = attrs.field(kw_only=True)

    async def __call__(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        return await self.serve(request)  # type: ignore[no-any-return]


@attrs.define(kw_only=True)
class Emulator(kmock.KubernetesEmulator):
    """kmock's emulator with the behaviour of a real API server (module docstring)."""

    request_log_limit: int = 50
    history_limit: int = 8
    watch_history_limit: int = 2000
    graceful_pod_deletion: bool = False
    #: Whether FFmpegProcess objects are served from the start (False: only once their CRD is
    #: created, as on a fresh cluster).
    ffmpeg_processes_served: bool = True
    #: ``(namespace, pod, container, previous) -> log file``; set by the pod runner.
    log_provider: LogProvider | None = None
    #: Seconds between the bookmarks a watch with ``allowWatchBookmarks=true`` receives while
    #: nothing happens (a real API server's watch cache sends one every minute).
    bookmark_period: float = 60.0

    _rv: int = attrs.field(default=1000, init=False)
    _uids: dict[str, Key] = attrs.field(factory=dict, init=False)
    _feeds: dict[kmock.resource, _Feed] = attrs.field(factory=dict, init=False)
    _custom: set[kmock.resource] = attrs.field(factory=set, init=False)
    _request_count: int = attrs.field(default=0, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        for resource, info in BUILTIN_RESOURCES.items():
            self.resources[resource] = attrs.evolve(info)
        if self.ffmpeg_processes_served:
            self.register(FFMPEG_PROCESSES, attrs.evolve(FFMPEG_PROCESS_INFO))
        self.fallback["get /version/"] << self._serve_server_version
        object_requests = _ObjectRequests(self**-1e6)  # above kmock's fallbacks
        self._payloads.append(_ObjectReaction(object_requests, serve=self._serve_object))
        for name in ("default", "kube-system"):
            self.create_object(NAMESPACES, {"metadata": {"name": name}})

    # --- public, for the helpers (call on the emulator's loop) ---

    @property
    def store(self) -> kmock.ObjectsArray:
        return self._objects

    @property
    def resource_version(self) -> int:
        return self._rv

    def register(self, resource: kmock.resource, info: kmock.ResourceInfo) -> None:
        """Make a custom resource discoverable (what creating its CRD does)."""
        self.resources[resource] = info
        self._custom.add(resource)

    def register_kopf_peering(self) -> None:
        """Make kopf's peering resources discoverable (for operators run with ``--peering``)."""
        for resource, kind, namespaced in (
            (KOPF_PEERINGS, "KopfPeering", True),
            (CLUSTER_KOPF_PEERINGS, "ClusterKopfPeering", False),
        ):
            self.register(
                resource,
                kmock.ResourceInfo(
                    kind=kind, singular=kind.lower(), namespaced=namespaced, verbs=ALL_VERBS
                ),
            )

    def watchers(self, resource: kmock.resource | str) -> int:
        """How many watch streams of ``resource`` are open (to wait for an operator's start)."""
        feed = self._feeds.get(as_resource(resource))
        return len(feed.queues) if feed else 0

    def close_watches(self) -> None:
        """End every open watch stream (before shutting down)."""
        for feed in self._feeds.values():
            for queue in feed.queues:
                queue.put_nowait(None)

    def live(self, resource: kmock.resource, namespace: str | None, name: str) -> Obj | None:
        key = (resource, namespace, name)
        if key not in self._objects or self._objects[key].deleted:
            return None
        return self._objects[key].raw

    def list_objects(
        self,
        resource: kmock.resource,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Obj]:
        labels_ok = label_matcher(label_selector)
        fields_ok = field_matcher(field_selector)
        return [
            obj.raw
            for (res, ns, _), obj in self._objects.items()
            if res == resource
            and not obj.deleted
            and (namespace is None or ns == namespace)
            and labels_ok(obj.raw.get("metadata", {}).get("labels") or {})
            and fields_ok(obj.raw)
        ]

    def create_object(
        self, resource: kmock.resource, body: Obj, namespace: str | None = None
    ) -> Obj:
        info = self._info(resource)
        body = copy.deepcopy(body)
        meta = body.setdefault("metadata", {})
        if info.namespaced:
            if namespace and meta.get("namespace") and meta["namespace"] != namespace:
                raise ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does "
                    "not match the namespace sent on the request",
                )
            meta["namespace"] = namespace or meta.get("namespace") or "default"
        else:
            meta.pop("namespace", None)
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise ApiError(
                    422,
                    "Invalid",
                    "metadata.name: Required value: name or generateName is required",
                )
            suffix = "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))
            meta["name"] = meta["generateName"] + suffix
        self._validate_metadata(resource, meta)
        key = (resource, meta.get("namespace"), meta["name"])
        if self.live(*key) is not None:
            raise ApiError(
                409,
                "AlreadyExists",
                f'{self._qualified(resource)} "{meta["name"]}" already exists',
                self._details(resource, meta),
            )
        body["apiVersion"] = (
            f"{resource.group}/{resource.version}" if resource.group else resource.version
        )
        body["kind"] = info.kind or body.get("kind")
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=now_rfc3339(), generation=1)
        for server_only in ("deletionTimestamp", "deletionGracePeriodSeconds"):
            meta.pop(server_only, None)
        if "status" in info.subresources:
            body.pop("status", None)
        if resource == PODS:
            _default_pod(body)
        if resource == CRDS:
            self._register_crd(body)
        meta["resourceVersion"] = self._next_rv()
        if key in self._objects:
            self._objects[key].create(body)
            self._trim_history(key)
        else:
            self._objects[key] = body
        self._uids[meta["uid"]] = key
        self._publish(resource, "ADDED", None, body)
        return body

    def update_object(
        self,
        resource: kmock.resource,
        namespace: str | None,
        name: str,
        change: Callable[[Obj], Obj],
        subresource: str | None = None,
    ) -> Obj:
        """Apply ``change`` (current -> proposed) like a PATCH/PUT would, with every rule."""
        info = self._info(resource)
        current = self._require(resource, namespace, name)
        if subresource not in (None, "status") or (
            subresource == "status" and "status" not in info.subresources
        ):
            raise ApiError(
                404,
                "NotFound",
                f"the server could not find the requested resource ({subresource} subresource)",
            )
        proposed = change(copy.deepcopy(current))
        if not isinstance(proposed, dict):
            raise ApiError(422, "Invalid", "the patched object is not an object")
        if subresource == "status":
            new = copy.deepcopy(current)
            if proposed.get("status") is None:
                new.pop("status", None)
            else:
                new["status"] = proposed["status"]
        else:
            new = proposed
            if "status" in info.subresources:
                if "status" in current:
                    new["status"] = copy.deepcopy(current["status"])
                else:
                    new.pop("status", None)
        meta = new.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise ApiError(422, "Invalid", "metadata must be an object")
        for server_only in _SERVER_METADATA:
            if server_only in current["metadata"]:
                meta[server_only] = current["metadata"][server_only]
            else:
                meta.pop(server_only, None)
        new["apiVersion"], new["kind"] = current["apiVersion"], current.get("kind")
        self._validate_metadata(resource, meta)
        if new == current:
            return current  # a no-op write: no new resourceVersion, no event
        if _spec_of(new, info) != _spec_of(current, info):
            meta["generation"] = int(meta.get("generation") or 0) + 1
        return self._store(resource, current, new)

    def delete_object(
        self,
        resource: kmock.resource,
        namespace: str | None,
        name: str,
        options: Obj | None = None,
    ) -> Obj:
        options = options or {}
        current = self._require(resource, namespace, name)
        meta = current["metadata"]
        preconditions = options.get("preconditions") or {}
        for field_name in ("uid", "resourceVersion"):
            expected = preconditions.get(field_name)
            if expected is not None and expected != meta.get(field_name):
                raise ApiError(
                    409,
                    "Conflict",
                    f"Precondition failed: {field_name} in "
                    f"precondition: {expected}, in object meta: "
                    f"{meta.get(field_name)}",
                    self._details(resource, meta),
                )
        grace = options.get("gracePeriodSeconds")
        orphan = options.get("propagationPolicy") == "Orphan"
        graceful = resource == PODS and self.graceful_pod_deletion and grace != 0
        if meta.get("finalizers") or graceful:
            if meta.get("deletionTimestamp"):
                return current  # already terminating
            new = copy.deepcopy(current)
            new["metadata"]["deletionTimestamp"] = now_rfc3339()
            new["metadata"]["deletionGracePeriodSeconds"] = (
                int(
                    grace
                    if grace is not None
                    else current.get("spec", {}).get("terminationGracePeriodSeconds", 30)
                )
                if resource == PODS
                else 0
            )
            new["metadata"]["generation"] = int(meta.get("generation") or 0) + 1
            return self._store(resource, current, new, orphan=orphan)
        return self._remove(resource, current, orphan=orphan)

    # --- request handling ---

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        # kmock's RawHandler.__call__, with a path parser that also knows namespaces
        # (kmock fails on /api/v1/namespaces and reads /api/v1/namespaces/x as a namespace).
        raw_response: aiohttp.web.StreamResponse | None = None
        try:
            request = await _parse_request(raw_request, self._request_count)
            self._request_count += 1
            self._requests.append(request)
            try:
                response = await self._handle(request)
            except rendering.StreamingError as error:
                raw_response = error.args[0]
                raise error.__cause__ or error from None
        except Exception as error:
            if not self._errors:
                raise
            if not isinstance(error, kmock.KubernetesNotFoundError):  # 404s are answers
                self._errors[-1].append(error)
            if raw_response is not None and raw_response.prepared:
                await self._stream_error(error, raw_response)
                await raw_response.write_eof()
                return raw_response
            response = await self._render_error(error)
        if not response.prepared and response.content_type == "application/json":
            response.headers["Content-Type"] = "application/json"  # no charset (lightkube)
        return response

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        # Skip kmock's own state tracking (KubernetesEmulator._handle): the object reaction owns
        # the state. Cap the request logs, which kmock scans on every request.
        del self._requests[: -self.request_log_limit]
        for payload in self._payloads:
            del payload._requests[: -self.request_log_limit]
        return await apps.RawHandler._handle(self, request)

    async def _serve_object(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        try:
            resource = request.resource
            assert resource is not None and request.resource.plural is not None
            info = self._info(resource)
            if request.namespace is not None and info.namespaced is False:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            if request.method == "GET" and request.params.get("watch", "").lower() in ("true", "1"):
                return await self._serve_watch(request, resource, info)
            if request.subresource == "log" and resource == PODS and request.method == "GET":
                return self._serve_log(request)
            status, body = self._dispatch(request, resource, info)
            return _json_response(body, status)
        except ApiError as error:
            return _json_response(error.status(), error.code)

    def _dispatch(
        self, request: rendering.Request, resource: kmock.resource, info: kmock.ResourceInfo
    ) -> tuple[int, Obj]:
        ns, name, sub, method = request.namespace, request.name, request.subresource, request.method
        params = request.params
        if name is None:
            if method == "GET":
                items = self.list_objects(
                    resource, ns, params.get("labelSelector"), params.get("fieldSelector")
                )
                return 200, self._list_body(resource, info, items)
            if method == "POST":
                return 201, self.create_object(resource, _body(request), ns)
            if method == "DELETE":
                items = self.list_objects(
                    resource, ns, params.get("labelSelector"), params.get("fieldSelector")
                )
                for item in items:
                    meta = item["metadata"]
                    with contextlib.suppress(ApiError):
                        self.delete_object(resource, meta.get("namespace"), meta["name"])
                return 200, self._list_body(resource, info, items)
        elif method == "GET" and sub in (None, "status"):
            return 200, self._require(resource, ns, name)
        elif method == "PATCH":
            change = self._patcher(request)
            return 200, self.update_object(resource, ns, name, change, sub)
        elif method == "PUT":
            change = self._replacer(request, resource)
            return 200, self.update_object(resource, ns, name, change, sub)
        elif method == "DELETE" and sub is None:
            options = dict(request.data) if isinstance(request.data, dict) else {}
            for option in ("gracePeriodSeconds", "propagationPolicy"):
                if option in params:
                    options[option] = params[option]
            if "gracePeriodSeconds" in options:
                options["gracePeriodSeconds"] = int(options["gracePeriodSeconds"])
            return 200, self.delete_object(resource, ns, name, options)
        raise ApiError(
            405,
            "MethodNotAllowed",
            f"the server does not allow this method on the "
            f"requested resource ({method} {request.url.path})",
        )

    def _patcher(self, request: rendering.Request) -> Callable[[Obj], Obj]:
        content_type = (
            next(
                (value for key, value in request.headers.items() if key.lower() == "content-type"),
                "",
            )
            .split(";")[0]
            .strip()
            .lower()
        )
        if content_type == APPLY_PATCH:
            patch = yaml.safe_load(request.text)
        else:
            patch = _body(request, allow_list=True)

        def change(current: Obj) -> Obj:
            if content_type == JSON_PATCH:
                return apply_json_patch(current, patch)
            if not isinstance(patch, dict):
                raise ApiError(400, "BadRequest", "a merge patch must be an object")
            _check_preconditions(patch, current)
            if content_type == MERGE_PATCH:
                return merge_patch(current, patch)  # type: ignore[no-any-return]
            if content_type in (STRATEGIC_MERGE_PATCH, APPLY_PATCH):
                return strategic_merge_patch(current, patch)  # type: ignore[no-any-return]
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format: {content_type}",
            )

        return change

    def _replacer(
        self, request: rendering.Request, resource: kmock.resource
    ) -> Callable[[Obj], Obj]:
        body = _body(request)

        def change(current: Obj) -> Obj:
            name = body.get("metadata", {}).get("name")
            if name and name != current["metadata"]["name"]:
                raise ApiError(
                    400, "BadRequest", "the name of the object does not match the name on the URL"
                )
            if resource in self._custom and not body.get("metadata", {}).get("resourceVersion"):
                raise ApiError(
                    422,
                    "Invalid",
                    "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update",
                )
            _check_preconditions(body, current)
            return copy.deepcopy(body)

        return change

    def _serve_log(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        assert request.name is not None and request.namespace is not None
        pod = self._require(PODS, request.namespace, request.name)
        spec = pod.get("spec", {})
        names = [c["name"] for c in spec.get("containers", [])]
        names += [c["name"] for c in spec.get("initContainers", [])]
        container = request.params.get("container") or (names[0] if len(names) == 1 else None)
        if container is None:
            raise ApiError(
                400,
                "BadRequest",
                f"a container name must be specified for pod "
                f"{request.name}, choose one of: {names}",
            )
        if container not in names:
            raise ApiError(
                400, "BadRequest", f"container {container} is not valid for pod {request.name}"
            )
        previous = request.params.get("previous") in ("true", "1")
        path = (
            self.log_provider(request.namespace, request.name, container, previous)
            if self.log_provider
            else None
        )
        if path is None or not path.exists():
            raise ApiError(
                400,
                "BadRequest",
                f'container "{container}" in pod "{request.name}" '
                "is waiting to start: ContainerCreating",
            )
        data = path.read_bytes()
        if "tailLines" in request.params:
            lines = data.splitlines(keepends=True)
            data = (
                b"".join(lines[-int(request.params["tailLines"]) :])
                if int(request.params["tailLines"]) > 0
                else b""
            )
        if "limitBytes" in request.params:
            data = data[: int(request.params["limitBytes"])]
        return aiohttp.web.Response(body=data, headers={"Content-Type": "text/plain"})

    def _bookmark(self, resource: kmock.resource, info: kmock.ResourceInfo) -> Obj:
        """A BOOKMARK event at the current resource version (an object with only that)."""
        return {
            "type": "BOOKMARK",
            "object": {
                "kind": info.kind,
                "apiVersion": self._api_version(resource),
                "metadata": {"resourceVersion": str(self._rv)},
            },
        }

    async def _serve_watch(
        self, request: rendering.Request, resource: kmock.resource, info: kmock.ResourceInfo
    ) -> aiohttp.web.StreamResponse:
        params = request.params
        labels_ok = label_matcher(params.get("labelSelector"))
        fields_ok = field_matcher(params.get("fieldSelector"))
        namespace, name = request.namespace, request.name

        def matches(obj: Obj | None) -> bool:
            if obj is None:
                return False
            meta = obj.get("metadata", {})
            return (
                (namespace is None or meta.get("namespace") == namespace)
                and (name is None or meta.get("name") == name)
                and labels_ok(meta.get("labels") or {})
                and fields_ok(obj)
            )

        feed = self._feed(resource)
        since = params.get("resourceVersion") or "0"
        initial_events = params.get("sendInitialEvents") == "true"
        lines: list[Obj] = []
        gone = False
        if since == "0" or initial_events:
            lines = [
                {"type": "ADDED", "object": obj}
                for obj in self.list_objects(resource)
                if matches(obj)
            ]
            if initial_events:
                bookmark = self._bookmark(resource, info)
                bookmark["object"]["metadata"]["annotations"] = {
                    "k8s.io/initial-events-end": "true"
                }
                lines.append(bookmark)
        else:
            try:
                since_rv = int(since)
            except ValueError:
                raise ApiError(400, "BadRequest", f"invalid resourceVersion {since!r}") from None
            if since_rv < feed.dropped_rv:
                gone = True
                lines = [
                    {
                        "type": "ERROR",
                        "object": ApiError(
                            410,
                            "Expired",
                            f"too old resource version: {since_rv} ({feed.dropped_rv})",
                        ).status(),
                    }
                ]
            else:
                lines = [
                    line
                    for event in feed.history
                    if event.rv > since_rv
                    for line in [_translate(event, matches)]
                    if line
                ]
        queue: asyncio.Queue[_Event | None] = asyncio.Queue()
        if not gone:
            feed.queues.add(queue)  # in the same step as the snapshot: no event is missed
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        try:
            assert request._raw_request is not None
            await response.prepare(request._raw_request)
            for line in lines:
                await response.write(json.dumps(line).encode() + b"\n")
            loop = asyncio.get_running_loop()
            timeout = float(params.get("timeoutSeconds") or 0) or math.inf
            deadline = loop.time() + timeout
            bookmarks = params.get("allowWatchBookmarks") == "true"
            next_bookmark = loop.time() + self.bookmark_period if bookmarks else math.inf
            while not gone:
                now = loop.time()
                if deadline - now <= 0:
                    break
                wait = min(deadline, next_bookmark) - now
                try:
                    event = await asyncio.wait_for(
                        queue.get(), None if math.isinf(wait) else max(wait, 0.0)
                    )
                except TimeoutError:
                    if loop.time() < next_bookmark:
                        break  # the deadline
                    bookmark = self._bookmark(resource, info)
                    await response.write(json.dumps(bookmark).encode() + b"\n")
                    next_bookmark = loop.time() + self.bookmark_period
                    continue
                if event is None:
                    break
                line = _translate(event, matches)
                if line:
                    await response.write(json.dumps(line).encode() + b"\n")
            await response.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the client went away
        finally:
            feed.queues.discard(queue)
        return response

    async def _render_error(self, exc: Exception) -> aiohttp.web.StreamResponse:
        if isinstance(exc, kmock.KubernetesNotFoundError):
            return _json_response(ApiError(404, "NotFound", exc.message).status(), 404)
        return await super()._render_error(exc)

    # --- discovery fixes ---

    async def _serve_version(self, request: rendering.Request) -> rendering.Payload:
        assert request.resource is not None
        resources = [res for res in self._get_resources() if request.resource.check(res)]
        if not resources and request.resource.group != "":
            raise kmock.KubernetesResourceNotFoundError()
        entries = []
        for res in resources:
            info = self.resources[res]
            kind = info.kind or (res.plural or "").capitalize()
            verbs = sorted(info.verbs or ALL_VERBS)
            entries.append(
                {
                    "name": res.plural,
                    "singularName": info.singular or "",
                    "kind": kind,
                    "namespaced": bool(info.namespaced),
                    "verbs": verbs,
                    "shortNames": sorted(info.shortnames),
                    "categories": sorted(info.categories),
                }
            )
            entries.extend(
                {
                    "name": f"{res.plural}/{sub}",
                    "singularName": "",
                    "kind": kind,
                    "namespaced": bool(info.namespaced),
                    "verbs": ["get", "patch", "update"],
                }
                for sub in sorted(info.subresources)
            )
        return {
            "apiVersion": "v1",
            "kind": "APIResourceList",
            "resources": entries,
            "groupVersion": self._api_version(request.resource),
        }

    async def _serve_server_version(self, request: rendering.Request) -> rendering.Payload:
        return {
            "major": "1",
            "minor": "33",
            "gitVersion": "v1.33.0-kmock",
            "gitTreeState": "clean",
            "buildDate": "2025-04-23T00:00:00Z",
            "goVersion": "go1.24.2",
            "compiler": "gc",
            "platform": "linux/amd64",
        }

    # --- internals ---

    def _info(self, resource: kmock.resource) -> kmock.ResourceInfo:
        if resource not in self.resources:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return self.resources[resource]

    def _require(self, resource: kmock.resource, namespace: str | None, name: str) -> Obj:
        info = self._info(resource)
        obj = self.live(resource, namespace if info.namespaced else None, name)
        if obj is None:
            raise ApiError(
                404,
                "NotFound",
                f'{self._qualified(resource)} "{name}" not found',
                {"name": name, "group": resource.group, "kind": resource.plural},
            )
        return obj

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _store(
        self, resource: kmock.resource, current: Obj, new: Obj, *, orphan: bool = False
    ) -> Obj:
        meta = new["metadata"]
        if (
            meta.get("deletionTimestamp")
            and not meta.get("finalizers")
            and not (
                resource == PODS
                and self.graceful_pod_deletion
                and meta.get("deletionGracePeriodSeconds")
            )
        ):
            return self._remove(resource, new, orphan=orphan)
        if resource == CRDS:
            self._register_crd(new)
        meta["resourceVersion"] = self._next_rv()
        key = (resource, meta.get("namespace"), meta["name"])
        self._objects[key].history.append(new)
        self._trim_history(key)
        self._publish(resource, "MODIFIED", current, new)
        return new

    def _remove(self, resource: kmock.resource, obj: Obj, *, orphan: bool = False) -> Obj:
        final = copy.deepcopy(obj)
        meta = final["metadata"]
        meta["resourceVersion"] = self._next_rv()
        key = (resource, meta.get("namespace"), meta["name"])
        self._objects[key].history.append(final)
        self._objects[key].delete()
        self._trim_history(key)
        self._uids.pop(meta["uid"], None)
        self._publish(resource, "DELETED", obj, final)
        if resource == CRDS:
            self._unregister_crd(final)
        if not orphan:
            self._collect_dependents(meta["uid"])
        return final

    def _collect_dependents(self, owner_uid: str) -> None:
        """Garbage collection: dependents whose owners are all gone are deleted."""
        dependents = [
            (res, obj.raw)
            for (res, _, _), obj in list(self._objects.items())
            if not obj.deleted
            and any(
                ref.get("uid") == owner_uid
                for ref in obj.raw.get("metadata", {}).get("ownerReferences") or []
            )
        ]
        for res, dependent in dependents:
            meta = dependent["metadata"]
            refs = meta["ownerReferences"]
            if any(ref.get("uid") in self._uids for ref in refs):
                remaining = [ref for ref in refs if ref.get("uid") != owner_uid]
                self.update_object(
                    res,
                    meta.get("namespace"),
                    meta["name"],
                    lambda o, r=remaining: merge_patch(o, {"metadata": {"ownerReferences": r}}),
                )
            elif self.live(res, meta.get("namespace"), meta["name"]) is not None:
                self.delete_object(
                    res, meta.get("namespace"), meta["name"], {"propagationPolicy": "Background"}
                )

    def _trim_history(self, key: Key) -> None:
        del self._objects[key].history[: -self.history_limit]

    def _feed(self, resource: kmock.resource) -> _Feed:
        if resource not in self._feeds:
            self._feeds[resource] = _Feed(collections.deque())
        return self._feeds[resource]

    def _publish(self, resource: kmock.resource, kind: str, old: Obj | None, new: Obj) -> None:
        feed = self._feed(resource)
        event = _Event(int(new["metadata"]["resourceVersion"]), kind, old, new)
        if len(feed.history) >= self.watch_history_limit:
            feed.dropped_rv = feed.history.popleft().rv
        feed.history.append(event)
        for queue in feed.queues:
            queue.put_nowait(event)

    def _register_crd(self, crd: Obj) -> None:
        spec = crd.get("spec", {})
        names = spec.get("names", {})
        for version in spec.get("versions", []):
            if not version.get("served", True):
                continue
            self.register(
                kmock.resource(spec.get("group"), version["name"], names.get("plural")),
                kmock.ResourceInfo(
                    kind=names.get("kind"),
                    singular=names.get("singular"),
                    namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                    shortnames=names.get("shortNames", []),
                    categories=names.get("categories", []),
                    subresources=list(version.get("subresources", {})),
                    verbs=ALL_VERBS,
                ),
            )
        crd["status"] = {
            "acceptedNames": names,
            "storedVersions": [v["name"] for v in spec.get("versions", []) if v.get("storage")],
            "conditions": [
                {
                    "type": kind,
                    "status": "True",
                    "reason": reason,
                    "lastTransitionTime": crd["metadata"].get("creationTimestamp") or now_rfc3339(),
                    "message": "",
                }
                for kind, reason in (
                    ("NamesAccepted", "NoConflicts"),
                    ("Established", "InitialNamesAccepted"),
                )
            ],
        }

    def _unregister_crd(self, crd: Obj) -> None:
        spec = crd.get("spec", {})
        for version in spec.get("versions", []):
            resource = kmock.resource(
                spec.get("group"), version["name"], spec.get("names", {}).get("plural")
            )
            for obj in self.list_objects(resource):
                self._remove(resource, obj)
            self.resources.pop(resource, None)
            self._custom.discard(resource)

    def _validate_metadata(self, resource: kmock.resource, meta: Obj) -> None:
        name = meta.get("name", "")
        if len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
            raise ApiError(
                422,
                "Invalid",
                f'{self._qualified(resource)} "{name}" is invalid: '
                "metadata.name: Invalid value: a lowercase RFC 1123 "
                "subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.'",
                self._details(resource, meta),
            )
        labels = meta.get("labels") or {}
        for key, value in labels.items():
            prefix, _, label_name = key.rpartition("/")
            valid = (
                isinstance(value, str)
                and len(value) <= 63
                and _LABEL_VALUE.match(value)
                and len(label_name) <= 63
                and _LABEL_NAME.match(label_name)
                and (not prefix or (len(prefix) <= 253 and _DNS_SUBDOMAIN.match(prefix)))
            )
            if not valid:
                raise ApiError(
                    422,
                    "Invalid",
                    f'{self._qualified(resource)} "{name}" is '
                    f"invalid: metadata.labels: Invalid value: "
                    f"{key!r}: {value!r}",
                    self._details(resource, meta),
                )

    def _qualified(self, resource: kmock.resource) -> str:
        return f"{resource.plural}.{resource.group}" if resource.group else str(resource.plural)

    def _details(self, resource: kmock.resource, meta: Obj) -> Obj:
        return {"name": meta.get("name"), "group": resource.group, "kind": resource.plural}

    @staticmethod
    def _api_version(resource: kmock.resource) -> str:
        return f"{resource.group}/{resource.version}" if resource.group else str(resource.version)

    def _list_body(
        self, resource: kmock.resource, info: kmock.ResourceInfo, items: list[Obj]
    ) -> Obj:
        return {
            "apiVersion": self._api_version(resource),
            "kind": f"{info.kind}List",
            "metadata": {"resourceVersion": str(self._rv)},
            "items": items,
        }


def _spec_of(obj: Obj, info: kmock.ResourceInfo) -> Obj:
    """What ``generation`` counts: everything but metadata (and status, given the subresource)."""
    skipped = {"metadata", "apiVersion", "kind"} | (
        {"status"} if "status" in info.subresources else set()
    )
    return {key: value for key, value in obj.items() if key not in skipped}


def _check_preconditions(body: Obj, current: Obj) -> None:
    """``metadata.resourceVersion`` and ``metadata.uid`` in a write must match (else 409)."""
    meta = body.get("metadata") or {}
    details = {"name": current["metadata"]["name"], "kind": current.get("kind")}
    wanted = meta.get("resourceVersion")
    if wanted is not None and str(wanted) != current["metadata"]["resourceVersion"]:
        raise ApiError(
            409,
            "Conflict",
            f"Operation cannot be fulfilled on "
            f'{current.get("kind")} "{current["metadata"]["name"]}": '
            "the object has been modified; please apply your "
            "changes to the latest version and try again",
            details,
        )
    if meta.get("uid") is not None and meta["uid"] != current["metadata"]["uid"]:
        raise ApiError(
            409,
            "Conflict",
            f"Precondition failed: UID in precondition: "
            f"{meta['uid']}, UID in object meta: "
            f"{current['metadata']['uid']}",
            details,
        )


def _body(request: rendering.Request, *, allow_list: bool = False) -> Any:
    data = request.data
    if not isinstance(data, dict) and not (allow_list and isinstance(data, list)):
        raise ApiError(400, "BadRequest", "the request body is not a JSON object")
    return data


async def _parse_request(raw: aiohttp.web.BaseRequest, number: int) -> rendering.Request:
    """kmock's ``Request._parse`` with :func:`parse_path`."""
    body = await raw.read()
    text = await raw.text()
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    k8s = parse_path(raw.path)
    resource = (
        None
        if k8s.group is None
        else kmock.resource(group=k8s.group, version=k8s.version, plural=k8s.plural)
    )
    method = kmock.method(raw.method)
    return rendering.Request(
        id=number,
        raw_request=raw,
        url=raw.url,
        method=raw.method,
        params=dict(raw.query),
        headers=dict(raw.headers),
        cookies=dict(raw.cookies),
        data=data,
        body=body,
        text=text,
        action=parsing.guess_k8s(k8s, method, dict(raw.query)),
        resource=resource,
        namespace=k8s.namespace,
        name=k8s.name,
        subresource=k8s.subresource,
    )


def _default_pod(pod: Obj) -> None:
    """The defaults the API server fills in that a kubelet and an operator read."""
    spec = pod.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    for container in spec.get("initContainers", []) + spec.get("containers", []):
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
    pod["status"] = {"phase": "Pending", "qosClass": "BestEffort"}


def _translate(event: _Event, matches: Callable[[Obj | None], bool]) -> Obj | None:
    """A stored event as one watcher sees it, given its selection."""
    was, now = matches(event.old), matches(event.new)
    if event.type == "DELETED":
        return {"type": "DELETED", "object": event.new} if was or now else None
    if was and now:
        return {"type": event.type, "object": event.new}
    if now:
        return {"type": "ADDED", "object": event.new}
    if was:
        return {"type": "DELETED", "object": event.new}
    return None


def _json_response(body: Any, status: int = 200) -> aiohttp.web.Response:
    # Exactly "application/json": aiohttp's json_response adds a charset, lightkube rejects it.
    return aiohttp.web.Response(
        body=json.dumps(body).encode(), status=status, headers={"Content-Type": "application/json"}
    )


# --- the thread --------------------------------------------------------------------------------


def write_kubeconfig(path: Path, url: str, namespace: str = "default") -> Path:
    """A kubeconfig whose current context points at ``url`` (any token is accepted)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "emulator",
        "preferences": {},
        "clusters": [{"name": "emulator", "cluster": {"server": url}}],
        "users": [{"name": "tester", "user": {"token": "emulator-token"}}],
        "contexts": [
            {
                "name": "emulator",
                "context": {"cluster": "emulator", "user": "tester", "namespace": namespace},
            }
        ],
    }
    path.write_text(yaml.safe_dump(config))
    return path


class RunningEmulator:
    """An :class:`Emulator` served over HTTP from its own thread and event loop.

    ``url`` (``http://127.0.0.1:<port>``), ``kubeconfig`` (a file), ``handler`` (the kmock
    handler: DSL, ``resources``, ``errors``). The helpers are thread-safe: they run on the
    emulator's loop and apply the same rules as HTTP requests (events, GC, finalizers).
    Resources are :class:`kmock.resource` objects or strings such as ``'v1/pods'``.
    ``options`` are :class:`Emulator` fields (``graceful_pod_deletion``, ``request_log_limit``,
    ``history_limit``, ``watch_history_limit``); they can also be set on ``handler`` later.
    """

    def __init__(self, directory: Path, **options: Any) -> None:
        self._directory = directory
        self._options = options
        self._thread = threading.Thread(target=self._main, name="kube-emulator", daemon=True)
        self._started = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.handler: Emulator
        #: Exceptions the emulator answered with a 500 (its bugs or a request it cannot take);
        #: filled when it stops (``server_errors()`` while it runs).
        self.errors: list[Exception] = []
        self.url = ""
        self.kubeconfig = directory / "kubeconfig"

    def __enter__(self) -> RunningEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> RunningEmulator:
        self._thread.start()
        self._started.wait(10)
        if self._failure is not None:
            raise RuntimeError("the emulator did not start") from self._failure
        write_kubeconfig(self.kubeconfig, self.url)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as error:
            self._failure = error
            self._started.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        self.handler = Emulator(**self._options)
        async with self.handler:
            # handler_cancellation: a watch whose client went away ends (and stops counting).
            server = aiohttp.web.Server(
                self.handler,
                handler_cancellation=True,
                access_log=None,  # type: ignore[arg-type]
            )
            runner = aiohttp.web.ServerRunner(server, shutdown_timeout=1.0)
            await runner.setup()
            site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            host, port = runner.addresses[0][:2]
            self.url = f"http://{host}:{port}"
            self._started.set()
            try:
                await self._stop.wait()
            finally:
                self.errors = list(self.handler.errors)
                self.handler.close_watches()
                await runner.cleanup()

    # --- thread-safe helpers ---

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the emulator's loop and return its result (or raise)."""
        assert self._loop is not None
        if threading.current_thread() is self._thread:
            return fn(*args)

        async def run() -> T:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def objects(
        self,
        resource: kmock.resource | str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Obj]:
        """Copies of the live objects of ``resource`` (all namespaces when ``namespace=None``)."""
        return copy.deepcopy(
            self.call(
                self.handler.list_objects,
                as_resource(resource),
                namespace,
                label_selector,
                field_selector,
            )
        )

    def get(self, resource: kmock.resource | str, namespace: str | None, name: str) -> Obj | None:
        """A copy of the live object, or None."""
        return copy.deepcopy(self.call(self.handler.live, as_resource(resource), namespace, name))

    def create(
        self, resource: kmock.resource | str, body: Obj, namespace: str | None = None
    ) -> Obj:
        return copy.deepcopy(
            self.call(self.handler.create_object, as_resource(resource), body, namespace)
        )

    def patch(
        self,
        resource: kmock.resource | str,
        namespace: str | None,
        name: str,
        patch: Obj,
        *,
        subresource: str | None = None,
    ) -> Obj:
        """A merge patch (``metadata.resourceVersion`` in it is a precondition)."""

        def change(current: Obj) -> Obj:
            _check_preconditions(patch, current)
            return merge_patch(current, patch)  # type: ignore[no-any-return]

        return copy.deepcopy(
            self.call(
                self.handler.update_object,
                as_resource(resource),
                namespace,
                name,
                change,
                subresource,
            )
        )

    def patch_status(
        self, resource: kmock.resource | str, namespace: str | None, name: str, status: Obj
    ) -> Obj:
        """Merge ``status`` into the object's status (through the status subresource if any)."""
        info = self.call(self.handler._info, as_resource(resource))
        subresource = "status" if "status" in info.subresources else None
        return self.patch(resource, namespace, name, {"status": status}, subresource=subresource)

    def delete(
        self, resource: kmock.resource | str, namespace: str | None, name: str, **options: Any
    ) -> Obj:
        """DELETE with ``options`` as DeleteOptions (``gracePeriodSeconds``, ``preconditions``)."""
        return copy.deepcopy(
            self.call(self.handler.delete_object, as_resource(resource), namespace, name, options)
        )

    def watchers(self, resource: kmock.resource | str) -> int:
        return self.call(self.handler.watchers, resource)

    def server_errors(self) -> list[Exception]:
        return self.call(lambda: list(self.handler.errors))

    @property
    def resource_version(self) -> int:
        return self.call(lambda: self.handler.resource_version)

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0, message: str = "") -> T:
        """Poll ``predicate`` until it returns something truthy; return that."""
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(message or f"condition not met within {timeout}s")
            time.sleep(0.02)


@contextlib.contextmanager
def running_emulator(directory: Path, **options: Any) -> Iterator[RunningEmulator]:
    """A started :class:`RunningEmulator` for the ``with`` block."""
    emulator = RunningEmulator(directory, **options)
    with emulator:
        yield emulator


def kubeconfig_env(emulator: RunningEmulator) -> dict[str, str]:
    """Environment for a subprocess that should talk to ``emulator`` (``KUBECONFIG``)."""
    return {**os.environ, "KUBECONFIG": str(emulator.kubeconfig)}
