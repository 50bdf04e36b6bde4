"""A small JSON client of the Kubernetes API on top of ``kubernetes_asyncio``.

``kubernetes_asyncio`` brings what is hard to get right — kubeconfig contexts, in-cluster
service-account login with token refresh, TLS, exec and OIDC auth plugins — and a pooled
aiohttp transport. Its generated models are not used: objects stay plain ``dict`` s (what
:mod:`ffmpeg_operator.kube` maps), lists and watches are parsed once, and a watch stream is
read line by line.

Configuration is found as ``kubectl`` finds it: an explicit kubeconfig, else in-cluster when
``KUBERNETES_SERVICE_HOST`` is set, else ``$KUBECONFIG`` / ``~/.kube/config``. The namespace:
an explicit one, else the service account's, else the kubeconfig context's, else ``default``.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from kubernetes_asyncio import client as kube_client
from kubernetes_asyncio import config as kube_config

__all__ = [
    "JSON",
    "MERGE_PATCH",
    "KubeApiError",
    "KubeClient",
    "connect",
]

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")

#: Seconds an ordinary request may take.
REQUEST_TIMEOUT = 30.0

Query = Sequence[tuple[str, str]] | Mapping[str, str] | None


class KubeApiError(Exception):
    """A failed request: the API server's ``Status`` (``code``, ``reason``, ``message``).

    ``status`` 0 means the API server could not be reached at all.
    """

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        """A stale ``resourceVersion`` (409 Conflict), not an existing name."""
        return self.status == 409 and self.reason != "AlreadyExists"

    @property
    def already_exists(self) -> bool:
        return self.status == 409 and self.reason == "AlreadyExists"


def _error_from(status: int, body: bytes) -> KubeApiError:
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        return KubeApiError(
            status, str(data.get("reason") or ""), str(data.get("message") or body[:200])
        )
    return KubeApiError(status, "", body[:200].decode("utf-8", "replace"))


def _query_list(query: Query) -> list[tuple[str, str]]:
    if query is None:
        return []
    items = query.items() if isinstance(query, Mapping) else query
    return [(key, value) for key, value in items]


class KubeClient:
    """Requests to one API server as the configured user; objects are ``dict`` s."""

    def __init__(self, api_client: kube_client.ApiClient, namespace: str) -> None:
        self._api = api_client
        self.namespace = namespace

    async def close(self) -> None:
        await self._api.close()

    async def _send(  # noqa: PLR0917 - one request's parts
        self,
        method: str,
        path: str,
        query: Query,
        body: Any,
        content_type: str,
        timeout: float | aiohttp.ClientTimeout | None,
    ) -> aiohttp.ClientResponse:
        headers = {"Accept": JSON, "Content-Type": content_type}
        try:
            response: aiohttp.ClientResponse = await self._api.call_api(
                path,
                method,
                query_params=_query_list(query),
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=timeout,
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise KubeApiError(0, "Unreachable", str(error) or type(error).__name__) from error
        return response

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Query = None,
        body: Any = None,
        content_type: str = JSON,
        timeout: float = REQUEST_TIMEOUT,
    ) -> Any:
        """The decoded JSON answer of a request; raises :class:`KubeApiError` on non-2xx."""
        data = await self._read(await self._send(method, path, query, body, content_type, timeout))
        return json.loads(data) if data else None

    async def text(self, path: str, *, query: Query = None, timeout: float = 10.0) -> str:
        """A plain-text answer (Pod logs)."""
        data = await self._read(await self._send("GET", path, query, None, JSON, timeout))
        return data.decode("utf-8", "replace")

    @staticmethod
    async def _read(response: aiohttp.ClientResponse) -> bytes:
        """The whole body of a 2xx answer; :class:`KubeApiError` for any other."""
        try:
            data = await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise KubeApiError(0, "Unreachable", str(error) or type(error).__name__) from error
        finally:
            response.release()
        if response.status >= 300:
            raise _error_from(response.status, data)
        return data

    async def watch(self, path: str, *, query: Query = None) -> AsyncIterator[dict[str, Any]]:
        """The events of a watch request (``watch=true`` is added), until the server ends it."""
        params = [*_query_list(query), ("watch", "true")]
        # No total timeout: the server ends the stream (timeoutSeconds); a dead connection is
        # noticed by the read timeout, which must be longer than the server's silence.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=330)
        response = await self._send("GET", path, params, None, JSON, timeout)
        try:
            if response.status >= 300:
                raise _error_from(response.status, await response.read())
            while True:
                try:
                    line = await response.content.readline()
                except (aiohttp.ClientError, TimeoutError) as error:
                    raise KubeApiError(0, "Unreachable", str(error) or "read failed") from error
                if not line:
                    return
                if line.strip():
                    event = json.loads(line)
                    if isinstance(event, dict):
                        yield event
        finally:
            response.release()


def _context_namespace(loader: Any) -> str | None:
    context = getattr(loader, "_current_context", None)
    try:
        namespace = context["context"].safe_get("namespace") if context else None
    except (KeyError, TypeError, AttributeError):
        return None
    return str(namespace) if namespace else None


async def connect(
    kubeconfig: str | None = None,
    context: str | None = None,
    namespace: str | None = None,
) -> KubeClient:
    """A client as ``kubectl`` would configure it (see the module docstring)."""
    configuration = kube_client.Configuration()
    context_namespace: str | None = None
    if kubeconfig is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
        kube_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        try:
            context_namespace = SERVICE_ACCOUNT_NAMESPACE.read_text(encoding="utf-8").strip()
        except OSError:
            context_namespace = None
    else:
        # $KUBECONFIG is read now, not at import time as the library's default is.
        config_file = kubeconfig or os.environ.get("KUBECONFIG") or None
        if config_file is not None and os.pathsep in config_file:
            config_file = next(part for part in config_file.split(os.pathsep) if part)
        loader = await kube_config.load_kube_config(
            config_file=config_file,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
        context_namespace = _context_namespace(loader)
    api_client = kube_client.ApiClient(configuration)
    return KubeClient(api_client, namespace or context_namespace or "default")
