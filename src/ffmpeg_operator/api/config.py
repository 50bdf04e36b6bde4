"""The server's changeable settings: where they are kept and when they take effect.

``PUT /api/v3/config`` stores them (a file in the data directory, or a Kubernetes Secret named
by the chart) and ``GET /api/v3/config`` shows them at once; they take effect on
``GET /api/v3/config/reload`` or the next start, as in Core, whose reload restarts it. Here
the reload swaps the authenticator's settings in place and counts as a restart for clients:
``created_at`` of ``GET /api`` changes, which the Restreamer UI waits for.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from ffmpeg_operator.api.auth import AuthSettings
from ffmpeg_operator.core.coreconfig import (
    ConfigFacts,
    StoredSettings,
    apply_put,
    config_data,
    settings_from_json,
)

#: Fields ``--auth-user``/``--auth-password`` (or their environment variables) set.
AUTH_OVERRIDES = ("api.auth.enable", "api.auth.username", "api.auth.password")


class SettingsStore(Protocol):
    async def load(self) -> StoredSettings | None:
        """The stored settings, None when nothing is stored yet."""
        ...

    async def save(self, settings: StoredSettings) -> None: ...


class FileSettingsStore:
    """Settings in a JSON file (0600: it holds the API password), replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def load(self) -> StoredSettings | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return settings_from_json(json.loads(text))

    async def save(self, settings: StoredSettings) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".config-")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                json.dump(settings.to_json(), file)
            Path(temporary).replace(self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


class MemorySettingsStore:
    """Settings kept in memory only (tests, and servers given no place to keep them)."""

    def __init__(self) -> None:
        self.settings: StoredSettings | None = None

    async def load(self) -> StoredSettings | None:
        return self.settings

    async def save(self, settings: StoredSettings) -> None:
        self.settings = settings


def _now() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class ConfigService:
    """The configuration document, its store, and the switch that applies it.

    ``facts`` holds everything fixed at start; ``cli_auth`` is the auth given on the command
    line (it overrides the stored one and its fields become read-only); ``cli_host_names``
    likewise for ``host.name``. Call :meth:`bind`
    with the function that applies auth settings, then :meth:`load` before serving.
    """

    def __init__(
        self,
        facts: ConfigFacts,
        store: SettingsStore,
        auth: AuthSettings,
        *,
        cli_auth: bool,
        cli_host_names: tuple[str, ...] = (),
    ) -> None:
        self._facts = facts
        self._store = store
        self._auth = auth
        self._cli_auth = cli_auth
        #: Public host names given on the command line (chart: the ingress hosts): an override.
        self._cli_host_names = cli_host_names
        self._apply: Callable[[AuthSettings], None] = lambda _: None
        self._pending = facts.settings
        self.created_at = _now()
        self.loaded_at = self.created_at
        self.updated_at = self.created_at

    def bind(self, apply: Callable[[AuthSettings], None]) -> None:
        self._apply = apply

    @property
    def facts(self) -> ConfigFacts:
        """The facts with the stored (pending) settings: what ``GET /api/v3/config`` shows."""
        overrides = self._facts.overrides
        settings = self._pending
        if self._cli_auth:
            overrides += AUTH_OVERRIDES
            settings = dataclasses.replace(
                settings,
                auth_enable=self._auth.enable,
                auth_username=self._auth.username,
                auth_password=self._auth.password,
            )
        if self._cli_host_names:
            overrides += ("host.name",)
            settings = dataclasses.replace(settings, host_names=self._cli_host_names)
        return dataclasses.replace(self._facts, settings=settings, overrides=overrides)

    def _effective_auth(self, settings: StoredSettings) -> AuthSettings:
        if self._cli_auth:
            return self._auth
        return dataclasses.replace(
            self._auth,
            enable=settings.auth_enable,
            username=settings.auth_username,
            password=settings.auth_password,
        )

    async def load(self) -> None:
        """Read the stored settings and make them the running ones."""
        stored = await self._store.load()
        if stored is not None:
            self._pending = stored
        self.reload()

    def reload(self) -> None:
        """Make the stored settings the running ones (``GET /api/v3/config/reload``)."""
        self._apply(self._effective_auth(self._pending))
        self.created_at = self.loaded_at = _now()

    def document(self) -> dict[str, Any]:
        """The body of ``GET /api/v3/config``."""
        facts = self.facts
        return {
            "created_at": rfc3339(self.created_at),
            "loaded_at": rfc3339(self.loaded_at),
            "updated_at": rfc3339(self.updated_at),
            "config": config_data(facts),
            "overrides": list(facts.overrides),
        }

    async def put(self, body: Any) -> None:
        """Validate, store and show a ``PUT /api/v3/config`` body (applied on reload).

        Raises :class:`~ffmpeg_operator.core.coreconfig.ConfigInvalidError` or
        :class:`~ffmpeg_operator.core.coreconfig.ConfigRejectedError`; nothing changes then.
        """
        settings = apply_put(self.facts, body)
        await self._store.save(settings)
        self._pending = settings
        self.updated_at = _now()
