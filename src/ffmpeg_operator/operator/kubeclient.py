"""The few Kubernetes API calls the operator makes itself: run Pods and the status subresource.

kopf watches and patches on its own; creating and deleting Pods and writing status are ours,
over one aiohttp session built from the same credentials kopf logs in with
(:func:`kopf.login_via_client`: kubeconfig or in-cluster service account).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import aiohttp
import kopf

from ffmpeg_operator.kube.names import GROUP
from ffmpeg_operator.kube.spec import PLURAL, VERSION

__all__ = ["CONNECTIONS", "KubeApiError", "KubeClient"]

log = logging.getLogger(__name__)

_MERGE_PATCH = "application/merge-patch+json"
_UNAUTHORIZED = 401
_NOT_FOUND = 404
_CONFLICT = 409

Login = Callable[[], kopf.ConnectionInfo]

#: The default bound of the client's pool (see :class:`KubeClient`).
CONNECTIONS = 16


class KubeApiError(RuntimeError):
    """An answer of the API server the operator did not expect."""

    def __init__(self, status: int, body: Any) -> None:
        message = body.get("message") if isinstance(body, Mapping) else str(body)
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.body = body


class KubeClient:
    """A small async client; ``login()`` gives the connection (called again after a 401).

    ``connections`` bounds the pool: each TLS connection to the API server keeps a 128 KiB read
    buffer, and a thousand daemons creating their Pods at once would otherwise fill it all.
    """

    def __init__(self, login: Login, *, connections: int = CONNECTIONS) -> None:
        self._login = login
        self._connections = connections
        self._info: kopf.ConnectionInfo | None = None
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            info = self._info = self._login()
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections, ssl=info.as_ssl_context()),
                headers={**info.as_http_headers(), "User-Agent": "ffmpeg-operator"},
                proxy=info.proxy_url,
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
    ) -> tuple[int, Any]:
        """One call; answers (status, parsed body). A 401 logs in again and retries once."""
        for attempt in range(2):
            session = self._open()
            assert self._info is not None
            data = None if body is None else json.dumps(body)
            headers = {"Content-Type": content_type} if body is not None else {}
            async with session.request(
                method, self._info.server.rstrip("/") + path, data=data, headers=headers
            ) as response:
                text = await response.text()
                status = response.status
            if status == _UNAUTHORIZED and attempt == 0:
                await self.close()  # the token may have been rotated
                continue
            try:
                parsed = json.loads(text) if text else None
            except ValueError:
                parsed = text
            return status, parsed
        raise AssertionError("unreachable")

    # --------------------------------------------------------------------- run Pods

    @staticmethod
    def _pods(namespace: str, name: str = "") -> str:
        path = f"/api/v1/namespaces/{quote(namespace)}/pods"
        return f"{path}/{quote(name)}" if name else path

    async def create_pod(self, namespace: str, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """Create a Pod; an existing one of that name is fine (deterministic names: a restarted
        operator may try again). Returns the object as the server holds it (or as sent)."""
        status, body = await self.request("POST", self._pods(namespace), manifest)
        if status == _CONFLICT:
            return dict(manifest)
        if status >= 300:
            raise KubeApiError(status, body)
        return dict(body) if isinstance(body, Mapping) else dict(manifest)

    async def delete_pod(self, namespace: str, name: str) -> bool:
        """Delete a Pod gracefully (its terminationGracePeriodSeconds); False when gone."""
        status, body = await self.request("DELETE", self._pods(namespace, name))
        if status == _NOT_FOUND:
            return False
        if status >= 300:
            raise KubeApiError(status, body)
        return True

    # --------------------------------------------------------------------- FFmpegProcess

    async def patch_status(
        self, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Merge-patch the status subresource; None when the object is gone."""
        path = (
            f"/apis/{GROUP}/{VERSION}/namespaces/{quote(namespace)}/{PLURAL}/{quote(name)}/status"
        )
        status, body = await self.request("PATCH", path, patch, _MERGE_PATCH)
        if status == _NOT_FOUND:
            return None
        if status >= 300:
            raise KubeApiError(status, body)
        return dict(body) if isinstance(body, Mapping) else None
