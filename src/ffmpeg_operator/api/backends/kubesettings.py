"""The settings ``PUT /api/v3/config`` stores, kept in a Kubernetes Secret on that backend.

The chart names the Secret (``FFMPEG_OPERATOR_SETTINGS_SECRET``) and grants the API
``get``/``patch``/``update`` on it alone, and ``create`` on Secrets (which RBAC cannot limit to
a name): the API creates it on the first save. The chart does not render it, so no render
(``helm template``, an Argo CD self-heal) owns or resets what the API wrote. The settings then
survive Pod restarts and reach a new replica, where a file in the Pod would not. The Secret
holds one key, ``config.json``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from ffmpeg_operator.api.backends.kubeclient import KubeApiError, KubeClient, connect
from ffmpeg_operator.core.coreconfig import StoredSettings, settings_from_json

SETTINGS_KEY = "config.json"


class SecretSettingsStore:
    def __init__(
        self,
        name: str,
        *,
        namespace: str | None = None,
        kubeconfig: str | None = None,
        context: str | None = None,
    ) -> None:
        self.name = name
        self._namespace = namespace
        self._kubeconfig = kubeconfig
        self._context = context

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[KubeClient]:
        client = await connect(self._kubeconfig, self._context, self._namespace)
        try:
            yield client
        finally:
            await client.close()

    def _path(self, client: KubeClient) -> str:
        return f"/api/v1/namespaces/{client.namespace}/secrets"

    async def _patch(self, client: KubeClient, patch: Mapping[str, object]) -> None:
        await client.request(
            "PATCH",
            f"{self._path(client)}/{self.name}",
            body=patch,
            content_type="application/merge-patch+json",
        )

    async def load(self) -> StoredSettings | None:
        try:
            async with self._client() as client:
                secret = await client.request("GET", f"{self._path(client)}/{self.name}")
        except KubeApiError as error:
            if error.not_found:
                return None
            raise OSError(f"secret {self.name}: {error}") from error
        encoded = (secret.get("data") or {}).get(SETTINGS_KEY)
        if not encoded:
            return None
        return settings_from_json(json.loads(base64.b64decode(encoded)))

    async def save(self, settings: StoredSettings) -> None:
        encoded = base64.b64encode(json.dumps(settings.to_json()).encode()).decode()
        patch = {"data": {SETTINGS_KEY: encoded}}
        try:
            async with self._client() as client:
                try:
                    await self._patch(client, patch)
                except KubeApiError as error:
                    if not error.not_found:
                        raise
                    secret = {
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "metadata": {"name": self.name},
                        "type": "Opaque",
                        **patch,
                    }
                    try:
                        await client.request("POST", self._path(client), body=secret)
                    except KubeApiError as created:
                        if not created.already_exists:
                            raise
                        # Another replica created it meanwhile: write over it as a PATCH would.
                        await self._patch(client, patch)
        except KubeApiError as error:
            raise OSError(f"secret {self.name}: {error}") from error
