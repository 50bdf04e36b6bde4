"""Secrets out of what is shown: commands, report lines, status messages and events.

A deliberate difference from datarhei Core (``docs/compatibility.md``): Core shows the memfs
password in ``{memfs}`` URLs wherever a command or ffmpeg's log appears. Here a secret value is
replaced with :data:`REDACTED` in every text shown, as it is and URL-escaped (ffmpeg logs the
URLs it opens, which carry the password escaped).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

__all__ = ["REDACTED", "Redactor"]

REDACTED = "***"


class Redactor:
    """Replaces the given secret values (and their URL-escaped forms) in texts."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms = set()
        for secret in secrets:
            if secret:
                forms.update({secret, quote(secret, safe=""), quote(secret, safe="$&+,;=")})
        # Longest first: one form may contain another.
        self._forms = sorted(forms, key=len, reverse=True)

    def __bool__(self) -> bool:
        return bool(self._forms)

    def text(self, text: str) -> str:
        for form in self._forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return text

    def value(self, value: Any) -> Any:
        """``value`` (JSON-like: dicts, lists, strings) with every string redacted."""
        if not self._forms:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.value(item) for item in value)
        return value
