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

import asyncio
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
    "SilentWatchError",
    "connect",
    "request_timeout",
    "watch_inactivity",
]

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")

#: Seconds an ordinary request may take (connect included), unless ``$TIMEOUT_ENV`` says.
REQUEST_TIMEOUT = 30.0
#: Seconds a Pod log read may take at most.
LOG_TIMEOUT = 10.0
#: Environment variable with the seconds of :data:`REQUEST_TIMEOUT` (a shorter wait on an
#: apiserver that accepts and never answers; tests use a fraction of a second).
TIMEOUT_ENV = "FFMPEG_OPERATOR_KUBE_TIMEOUT"
#: Seconds a watch stream may stay silent before it counts as dead: the API server sends a
#: bookmark every 60 s to a watch that asks for them (kopf's ``inactivity_timeout`` is the same
#: 70 s), so a longer silence is a connection that no longer leads anywhere (a restarted or
#: moved API server, a dropped NAT entry), unless ``$INACTIVITY_ENV`` says otherwise.
WATCH_INACTIVITY = 70.0
INACTIVITY_ENV = "FFMPEG_OPERATOR_WATCH_INACTIVITY"
#: Answers of an API server that is there but cannot serve now (overloaded, restarting, its
#: etcd away, a proxy in front of it without a backend): like no answer at all, for a client.
UNAVAILABLE_STATUSES = frozenset({0, 429, 500, 502, 503, 504})

Query = Sequence[tuple[str, str]] | Mapping[str, str] | None


class KubeApiError(Exception):
    """A failed request: the API server's ``Status`` (``code``, ``reason``, ``message``).

    ``status`` 0 means the API server could not be reached at all (refused, timed out, the
    connection dropped). ``retry_after`` is its ``Retry-After`` header (429, 503), if any.
    """

    def __init__(
        self, status: int, reason: str, message: str, retry_after: str | None = None
    ) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after = retry_after

    @property
    def unavailable(self) -> bool:
        """The API server is away or cannot serve now (see :data:`UNAVAILABLE_STATUSES`)."""
        return self.status in UNAVAILABLE_STATUSES

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


def _error_from(status: int, body: bytes, retry_after: str | None = None) -> KubeApiError:
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        return KubeApiError(
            status,
            str(data.get("reason") or ""),
            str(data.get("message") or body[:200]),
            retry_after,
        )
    return KubeApiError(status, "", body[:200].decode("utf-8", "replace"), retry_after)


def _unreachable(error: BaseException) -> KubeApiError:
    # aiohttp's timeouts carry no text: name them, the API's error detail shows this.
    text = str(error) or ("timed out" if isinstance(error, TimeoutError) else "")
    return KubeApiError(0, "Unreachable", text or type(error).__name__)


def _seconds(name: str, default: float, environ: Mapping[str, str] | None) -> float:
    value = (os.environ if environ is None else environ).get(name, "")
    try:
        seconds = float(value)
    except ValueError:
        return default
    return seconds if seconds > 0 else default


def request_timeout(environ: Mapping[str, str] | None = None) -> float:
    """:data:`REQUEST_TIMEOUT`, or the positive seconds in ``$TIMEOUT_ENV``."""
    return _seconds(TIMEOUT_ENV, REQUEST_TIMEOUT, environ)


def watch_inactivity(environ: Mapping[str, str] | None = None) -> float:
    """:data:`WATCH_INACTIVITY`, or the positive seconds in ``$INACTIVITY_ENV``."""
    return _seconds(INACTIVITY_ENV, WATCH_INACTIVITY, environ)


def _query_list(query: Query) -> list[tuple[str, str]]:
    if query is None:
        return []
    items = query.items() if isinstance(query, Mapping) else query
    return [(key, value) for key, value in items]


class SilentWatchError(Exception):
    """A watch stream that sent nothing, not even a bookmark, for longer than the client's
    ``watch_inactivity``: the connection is presumed dead, a new watch is due."""


class KubeClient:
    """Requests to one API server as the configured user; objects are ``dict`` s."""

    def __init__(
        self,
        api_client: kube_client.ApiClient,
        namespace: str,
        timeout: float = REQUEST_TIMEOUT,
        watch_inactivity: float = WATCH_INACTIVITY,
    ) -> None:
        self._api = api_client
        self.namespace = namespace
        self.timeout = timeout
        self.watch_inactivity = watch_inactivity
        #: Why the last request found the API server away (see ``KubeApiError.unavailable``);
        #: None once one was answered.
        self.trouble: str | None = None

    def _noted(self, error: KubeApiError) -> KubeApiError:
        if error.unavailable:
            self.trouble = str(error)
        return error

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
            raise self._noted(_unreachable(error)) from error
        return response

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Query = None,
        body: Any = None,
        content_type: str = JSON,
        timeout: float | None = None,
    ) -> Any:
        """The decoded JSON answer of a request; raises :class:`KubeApiError` on non-2xx.

        ``timeout``: seconds for the whole request, by default the client's.
        """
        seconds = self.timeout if timeout is None else timeout
        data = await self._read(await self._send(method, path, query, body, content_type, seconds))
        return json.loads(data) if data else None

    async def text(self, path: str, *, query: Query = None, timeout: float | None = None) -> str:
        """A plain-text answer (Pod logs)."""
        seconds = min(LOG_TIMEOUT, self.timeout) if timeout is None else timeout
        data = await self._read(await self._send("GET", path, query, None, JSON, seconds))
        return data.decode("utf-8", "replace")

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        """The whole body of a 2xx answer; :class:`KubeApiError` for any other."""
        try:
            data = await response.read()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise self._noted(_unreachable(error)) from error
        finally:
            response.release()
        if response.status >= 300:
            raise self._noted(
                _error_from(response.status, data, response.headers.get("Retry-After"))
            )
        self.trouble = None
        return data

    async def watch(self, path: str, *, query: Query = None) -> AsyncIterator[dict[str, Any]]:
        """The events of a watch request (``watch=true`` is added), until the server ends it;
        :class:`SilentWatchError` when the stream stays silent for ``watch_inactivity`` seconds (ask
        for bookmarks, ``allowWatchBookmarks=true``, or a quiet stream counts as dead)."""
        params = [*_query_list(query), ("watch", "true")]
        # No total timeout: the server ends the stream (timeoutSeconds). Opening it is an
        # ordinary request (the client's timeout); once open, a read that waits longer than
        # the bookmark period is a dead connection.
        streaming = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=None)
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._send("GET", path, params, None, JSON, streaming)
        except TimeoutError as error:
            raise self._noted(_unreachable(error)) from error
        try:
            if response.status >= 300:
                raise self._noted(
                    _error_from(
                        response.status, await response.read(), response.headers.get("Retry-After")
                    )
                )
            self.trouble = None
            while True:
                try:
                    async with asyncio.timeout(self.watch_inactivity):
                        line = await response.content.readline()
                except TimeoutError as error:
                    response.close()  # not back into the pool: it leads nowhere
                    raise SilentWatchError(f"no event for {self.watch_inactivity:g} s") from error
                except aiohttp.ClientError as error:
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
    return KubeClient(
        api_client,
        namespace or context_namespace or "default",
        request_timeout(),
        watch_inactivity(),
    )
