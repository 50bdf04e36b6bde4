"""References between processes: an input address ``#<processid>:output=<outputid>`` (spec §6).

A reference is replaced by the referenced output's address *after* that process's placeholder
resolution. It is resolved once, when the runtime object is built (create, update, reload,
server start); later changes to the referenced process have no effect until then.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ffmpeg_operator.core.errors import ConfigError
from ffmpeg_operator.core.models import ProcessConfig

__all__ = ["ConfigLookup", "parse_reference", "resolve_references"]

ConfigLookup = Callable[[str], ProcessConfig | None]
"""Returns the config of the process with that id, or ``None`` when there is none."""

# Greedy like Core: `#a:output=b:output=c` references process `a:output=b`, output `c`.
_REFERENCE = re.compile(r"#(.+):output=(.+)")


def parse_reference(address: str) -> tuple[str, str] | None:
    """``(process id, output id)`` of a reference address, ``None`` if it does not match."""
    match = _REFERENCE.match(address)
    if match is None:
        return None
    return match.group(1), match.group(2)


def resolve_references(config: ProcessConfig, lookup: ConfigLookup) -> ProcessConfig:
    """Return a copy of ``config`` whose ``#…`` input addresses are replaced.

    ``lookup(pid)`` must return the *placeholder-resolved* config of another process.
    Raises :class:`ConfigError` with Core's text, e.g.
    ``reference error for '#p:in': unknown process 'q' (#q:output=o)``.
    """
    addresses: list[str] = []
    for io in config.input:
        try:
            addresses.append(_resolve_address(config.id, io.address, lookup))
        except ConfigError as error:
            raise ConfigError(f"reference error for '#{config.id}:{io.id}': {error}") from None
    if all(new is io.address for new, io in zip(addresses, config.input, strict=True)):
        return config  # no reference: configs are values, the same one will do
    resolved = config.clone()
    for io, address in zip(resolved.input, addresses, strict=True):
        io.address = address
    return resolved


def _resolve_address(process_id: str, address: str, lookup: ConfigLookup) -> str:
    # Core checks the untrimmed address: "" fails here, "  " only later in validation.
    if not address:
        raise ConfigError("empty address")
    if not address.startswith("#"):
        return address
    reference = parse_reference(address)
    if reference is None:
        raise ConfigError(f"invalid format ({address})")
    target_id, output_id = reference
    if target_id == process_id:
        raise ConfigError(f"self-reference not possible ({address})")
    target = lookup(target_id)
    if target is None:
        raise ConfigError(f"unknown process '{target_id}' ({address})")
    for output in target.output:
        if output.id == output_id:
            return output.address
    raise ConfigError(
        f"the process '{target_id}' has no outputs with the ID '{output_id}' ({address})"
    )
