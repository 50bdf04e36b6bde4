"""Which processes ``GET /api/v3/process`` lists, and with which aspects (§3.1, §2.2, §1.4).

The algorithm is Core's handler and ``GetProcessIDs`` step by step, quirks included: the
``id`` list is ignored whenever ``reference`` is set, duplicate ids list a process twice, and an
invalid glob yields an empty list instead of an error.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ffmpeg_operator.core.glob import Glob, GlobError, compile_glob

__all__ = ["ASPECTS", "ListQuery", "parse_filter", "query_value", "select_processes"]

#: The aspects a list item or ``GET /process/{id}`` may carry, all of them by default.
ASPECTS = frozenset({"config", "state", "report", "metadata"})

_QUERY_FIELDS = ("filter", "id", "reference", "idpattern", "refpattern")

# A "%" not followed by two hex digits makes Go's url.QueryUnescape fail.
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def query_value(raw: str) -> str:
    """A query value as Core sees it: URL-unescaped a second time (§1.4).

    ``raw`` is the value after the usual (first) decoding. ``+`` becomes a space and ``%XX``
    a byte; a malformed ``%`` sequence makes the whole value absent (``""``).
    """
    if not raw or _BAD_PERCENT.search(raw):
        return ""
    # Bytes that are not UTF-8 become U+FFFD, which the glob compiler then rejects, as Go's
    # lexer rejects the raw bytes.
    return urllib.parse.unquote_plus(raw, encoding="utf-8", errors="replace")


@dataclass(frozen=True)
class ListQuery:
    """The list query parameters after :func:`query_value`; ``""`` means absent."""

    filter: str = ""
    id: str = ""
    reference: str = ""
    idpattern: str = ""
    refpattern: str = ""

    @classmethod
    def from_query(cls, params: Mapping[str, str] | Iterable[tuple[str, str]]) -> ListQuery:
        """Build from decoded query parameters (a mapping or ``(key, value)`` pairs).

        With pairs the first occurrence of a key wins, as Go's ``url.Values.Get``; keys other
        than the five list parameters (``domain``, ``ownerpattern``, ...) are ignored.
        """
        pairs = params.items() if isinstance(params, Mapping) else params
        values: dict[str, str] = {}
        for key, value in pairs:
            if key in _QUERY_FIELDS and key not in values:
                values[key] = query_value(value)
        return cls(**values)


def parse_filter(filter: str) -> frozenset[str]:
    """The aspects selected by ``filter`` (§3.1 step 4).

    A comma list, no trimming, empty segments skipped; nothing left means all aspects. Unknown
    names are ignored, so ``filter=all`` selects none.
    """
    names = [name for name in filter.split(",") if name]
    if not names:
        return ASPECTS
    return ASPECTS.intersection(names)


def select_processes(processes: Iterable[tuple[str, str]], query: ListQuery) -> list[str]:
    """The process IDs the list returns, in input order (Core's is random) — §3.1 steps 1-3.

    ``processes`` are ``(id, reference)`` pairs. The result may repeat an ID (``?id=a,a``).
    """
    candidates = _candidates(list(processes), query.idpattern, query.refpattern)
    # Go's strings.FieldsFunc: empty segments vanish, so "?id=," is no id list at all.
    wanted = [wanted_id for wanted_id in query.id.split(",") if wanted_id]
    if not wanted or query.reference:
        return [
            process_id
            for process_id, reference in candidates
            if not query.reference or reference == query.reference
        ]
    return [
        process_id
        for process_id, _ in candidates
        for wanted_id in wanted
        if wanted_id == process_id
    ]


def _candidates(
    processes: list[tuple[str, str]], idpattern: str, refpattern: str
) -> list[tuple[str, str]]:
    """Processes whose ID matches ``idpattern`` and whose reference matches ``refpattern``."""
    if not idpattern and not refpattern:
        return processes
    try:
        id_glob = _pattern(idpattern)
        ref_glob = _pattern(refpattern)
    except GlobError:
        return []
    return [
        (process_id, reference)
        for process_id, reference in processes
        if (id_glob is None or id_glob.match(process_id))
        and (ref_glob is None or ref_glob.match(reference))
    ]


def _pattern(pattern: str) -> Glob | None:
    # No separator: "*" also crosses "/" in IDs and references.
    return compile_glob(pattern, None) if pattern else None
