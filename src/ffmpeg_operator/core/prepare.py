"""From a stored process config to what a supervisor runs (spec §3.2 step 3, §3.3, §5-§7, §9.1).

The pipeline of create, update, reload and server start: fill missing IO ids, resolve
placeholders, resolve references, validate, compile the argv. Any failure is a
:class:`~ffmpeg_operator.core.errors.ConfigError` whose text is Core's detail.
"""

from __future__ import annotations

from dataclasses import dataclass

from ffmpeg_operator.core.argv import compile_argv
from ffmpeg_operator.core.ids import fill_io_ids
from ffmpeg_operator.core.models import ProcessConfig
from ffmpeg_operator.core.placeholders import PlaceholderSettings, resolve_placeholders
from ffmpeg_operator.core.references import ConfigLookup, resolve_references
from ffmpeg_operator.core.validation import AddressPolicy, check_process_id, validate_process

__all__ = ["PreparedProcess", "prepare_process"]


@dataclass(frozen=True)
class PreparedProcess:
    """A process config ready to run.

    - ``config``: the stored form (placeholders and references unresolved, IO ids filled);
    - ``resolved``: placeholders and references resolved (what ffmpeg gets);
    - ``command``: ffmpeg's arguments without the binary (``state.command``).
    """

    config: ProcessConfig
    resolved: ProcessConfig
    command: list[str]


def prepare_process(
    config: ProcessConfig,
    settings: PlaceholderSettings,
    policy: AddressPolicy,
    lookup: ConfigLookup,
) -> PreparedProcess:
    """Run the whole pipeline on ``config``; raise :class:`ConfigError` on any failure.

    ``lookup(pid)`` returns the **stored** (unresolved) config of another process, or
    ``None``; references are resolved against that config after resolving *its* placeholders
    here with the same ``settings`` (as Core resolves against the other task's resolved
    config). A reference to ``config.id`` itself is refused before ``lookup`` is asked.
    """
    stored = fill_io_ids(config)
    # Core refuses an empty id before it looks at anything else.
    check_process_id(stored)

    def resolved_lookup(pid: str) -> ProcessConfig | None:
        other = lookup(pid)
        return None if other is None else resolve_placeholders(other, settings)

    resolved = resolve_placeholders(stored, settings)
    resolved = resolve_references(resolved, resolved_lookup)
    validate_process(resolved, policy)
    return PreparedProcess(config=stored, resolved=resolved, command=compile_argv(resolved))
