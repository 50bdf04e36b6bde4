"""The README's shell blocks, each tagged ``<!-- readme-test: KIND -->`` by the test that runs it.

Kinds: ``make`` (the two set-up commands), ``local`` (against a live embedded server),
``offline`` (no server, no cluster) and ``e2e`` (against the kind cluster of ``tests/e2e``).
"""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(r"<!-- readme-test: (\w+) -->\n```sh\n(.*?)```", re.DOTALL)
_ANY_SH_BLOCK = re.compile(r"^```sh$", re.MULTILINE)


def readme_blocks(kind: str | None = None) -> list[tuple[str, str]]:
    """(kind, script) of every tagged block, in README order."""
    text = README.read_text(encoding="utf-8")
    blocks = [(m.group(1), m.group(2)) for m in _BLOCK.finditer(text)]
    return [b for b in blocks if kind is None or b[0] == kind]


def untagged_block_count() -> int:
    text = README.read_text(encoding="utf-8")
    return len(_ANY_SH_BLOCK.findall(text)) - len(readme_blocks())
