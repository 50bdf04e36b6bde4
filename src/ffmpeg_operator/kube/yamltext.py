"""YAML text of manifests: keys in the order they were built, Unicode kept readable.

PyYAML with ``allow_unicode`` writes U+0085 (NEL) raw inside a plain or single-quoted scalar,
where a YAML reader takes it for a line break, so the text no longer loads back to the same
string. Strings holding a Unicode line break are written double-quoted, where PyYAML escapes
them (``\\N``, ``\\L``, ``\\P``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

__all__ = ["dump_documents"]

_UNICODE_LINE_BREAKS = ("\x85", "\u2028", "\u2029")


class _ManifestDumper(yaml.SafeDumper):
    pass


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = '"' if any(char in text for char in _UNICODE_LINE_BREAKS) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_ManifestDumper.add_representer(str, _represent_str)


def dump_documents(documents: Iterable[Mapping[str, Any]], *, explicit_start: bool = True) -> str:
    """``documents`` as one multi-document YAML text that loads back to equal objects."""
    text: str = yaml.dump_all(
        [dict(document) for document in documents],
        Dumper=_ManifestDumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
        explicit_start=explicit_start,
    )
    return text
