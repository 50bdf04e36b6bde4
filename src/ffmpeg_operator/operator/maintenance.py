"""What the chart's hook Jobs run: ``ensure-secret`` (pre-install/pre-upgrade) and ``drain``
(pre-delete).

``ensure-secret``: ``helm template`` (Argo CD) cannot ``lookup``, so a generated password
rendered by the chart would change at every render (endless drift, and running Pods keep the
old one). The chart renders no generated value; this creates the Secret once, with random
values for what is missing, and never changes a value it finds. It also marks the Secret
``helm.sh/resource-policy: keep``: an earlier chart version rendered it as a release resource,
and ``helm upgrade`` deletes what the old manifest had and the new one lacks unless the LIVE
object carries that annotation (helm re-reads it before deleting) — this hook runs before.

``drain``: ``helm uninstall`` removes the operator; an FFmpegProcess still holding the
operator's finalizer then never goes (its namespace stays Terminating). Run before the
operator is removed, this deletes every FFmpegProcess of the scope, lets the operator purge
them, and after ``timeout`` removes the finalizer of any left (their run Pods go with them:
they are owned).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import string
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from ffmpeg_operator.kube.names import GROUP
from ffmpeg_operator.kube.spec import PLURAL, VERSION
from ffmpeg_operator.operator.kubeclient import KubeApiError, KubeClient

__all__ = ["drain", "ensure_secret", "random_password"]

log = logging.getLogger(__name__)

_ALPHABET = string.ascii_letters + string.digits
_MERGE_PATCH = "application/merge-patch+json"
# helm's ResourcePolicyAnno/KeepPolicy: a resource helm neither deletes on upgrade nor uninstall.
KEEP = {"helm.sh/resource-policy": "keep"}


def random_password(length: int = 24) -> str:
    """URL-safe (alphanumeric): the memfs password goes into URLs unescaped (kubelet's $(VAR))."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


async def ensure_secret(
    client: KubeClient,
    namespace: str,
    name: str,
    values: Mapping[str, str | None],
    labels: Mapping[str, str] | None = None,
) -> list[str]:
    """Make Secret ``name`` hold every key of ``values``: a given value where it lacks the key,
    a random one for None. Keys it has stay as they are. Returns the keys it added. The
    Secret ends up annotated with ``KEEP`` whether created or found."""
    path = f"/api/v1/namespaces/{quote(namespace)}/secrets"
    status, body = await client.request("GET", f"{path}/{quote(name)}")
    if status == 404:
        data = {key: _b64(value or random_password()) for key, value in values.items()}
        manifest = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": dict(labels or {}),
                "annotations": dict(KEEP),
            },
            "data": data,
        }
        status, body = await client.request("POST", path, manifest)
        if status == 409:  # created meanwhile (two hooks at once): fill what it lacks
            return await ensure_secret(client, namespace, name, values, labels)
        if status >= 300:
            raise KubeApiError(status, body)
        return sorted(data)
    if status >= 300:
        raise KubeApiError(status, body)
    present = dict(body.get("data") or {})
    missing = {key: _b64(value or random_password()) for key, value in values.items()
               if key not in present}  # fmt: skip
    annotations = body["metadata"].get("annotations") or {}
    unkept = any(annotations.get(key) != value for key, value in KEEP.items())
    if missing or unkept:
        version = body["metadata"]["resourceVersion"]
        metadata = {"resourceVersion": version, "annotations": dict(KEEP)}
        patch: dict[str, Any] = {"metadata": metadata}
        if missing:
            patch["data"] = missing
        status, body = await client.request("PATCH", f"{path}/{quote(name)}", patch, _MERGE_PATCH)
        if status >= 300:
            raise KubeApiError(status, body)
    return sorted(missing)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _collection(namespace: str | None) -> str:
    if namespace is None:
        return f"/apis/{GROUP}/{VERSION}/{PLURAL}"
    return f"/apis/{GROUP}/{VERSION}/namespaces/{quote(namespace)}/{PLURAL}"


async def _list(client: KubeClient, namespaces: Sequence[str | None]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for namespace in namespaces:
        status, body = await client.request("GET", _collection(namespace))
        if status == 404:
            continue  # no CRD: nothing to drain
        if status >= 300:
            raise KubeApiError(status, body)
        items.extend(body.get("items") or [])
    return items


def _path(obj: Mapping[str, Any]) -> str:
    meta = obj["metadata"]
    return f"{_collection(meta['namespace'])}/{quote(meta['name'])}"


async def drain(
    client: KubeClient,
    namespaces: Sequence[str | None],
    timeout: float = 60.0,
    poll: float = 1.0,
) -> int:
    """Delete every FFmpegProcess of ``namespaces`` (None: all) and wait until they are gone;
    after ``timeout``, remove the finalizers of those left. Returns how many were forced."""
    objects = await _list(client, namespaces)
    log.info("deleting %d FFmpegProcess object(s)", len(objects))
    for obj in objects:
        status, body = await client.request("DELETE", _path(obj))
        if status >= 300 and status != 404:
            raise KubeApiError(status, body)
    deadline = time.monotonic() + timeout
    left = await _list(client, namespaces)
    while left and time.monotonic() < deadline:
        await asyncio.sleep(poll)
        left = await _list(client, namespaces)
    for obj in left:
        log.warning(
            "%s/%s still there after %g s (no operator?): removing its finalizers",
            obj["metadata"]["namespace"], obj["metadata"]["name"], timeout,
        )  # fmt: skip
        patch = {"metadata": {"finalizers": None}}
        status, body = await client.request("PATCH", _path(obj), patch, _MERGE_PATCH)
        if status >= 300 and status != 404:
            raise KubeApiError(status, body)
    return len(left)
