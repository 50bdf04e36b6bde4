"""Errors of the pure layer. Their text is datarhei's detail text, so the API can show it as is."""

from __future__ import annotations


class ConfigError(ValueError):
    """A process config that cannot run: validation, placeholder or reference failure.

    ``str(error)`` is the exact detail datarhei puts into its error body, e.g.
    ``an empty ID is not allowed``.
    """


class DecodeError(ValueError):
    """A request body that is not acceptable JSON for the target shape (datarhei "Invalid JSON").

    ``str(error)`` is the detail text, e.g. ``request doesn't contain JSON content`` or
    ``expect type 'uint64' for 'reconnect_delay_seconds' at line 1, character 30: ...``.
    """


class UnknownProcessError(LookupError):
    """No process with this ID (datarhei detail ``unknown process``)."""


class ProcessExistsError(ValueError):
    """A process with this ID exists already (datarhei detail ``process already exists``)."""

    def __str__(self) -> str:
        return "process already exists"


class UnknownMetadataKeyError(LookupError):
    """No metadata stored under this key (datarhei detail ``unknown key``)."""


class CommandFailedError(RuntimeError):
    """A command could not be carried out; ``str()`` is the detail.

    E.g. ``invalid process definition`` or ``max. number of running processes (N) reached``.
    """
