"""Split ffmpeg's stderr byte stream into text lines.

ffmpeg ends its stats line with ``\\r`` and everything else with ``\\n``, so a line ends at
``\\n``, ``\\r`` or ``\\r\\n``; empty lines are dropped (as Core's scanner does, spec §9.2).
Chunks from the pipe may cut a line, or a UTF-8 character, anywhere: bytes are buffered until
a line end and each complete line is decoded on its own, invalid bytes replaced.
"""

from __future__ import annotations

import re

_LINE_END = re.compile(rb"[\r\n]")

#: A line longer than this is emitted in pieces, so a child that never writes a line end
#: cannot make the buffer grow without bound.
MAX_LINE_BYTES = 1 << 20


class LineSplitter:
    """Incremental splitter: ``feed()`` chunks, then ``flush()`` at end of stream."""

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self._pending = b""
        self._max_line_bytes = max_line_bytes

    def feed(self, chunk: bytes) -> list[str]:
        """Add bytes; return the lines completed by them, in order."""
        data = self._pending + chunk
        parts = _LINE_END.split(data)
        # The last part has no line end yet: keep it for the next chunk.
        self._pending = parts.pop()
        lines = [_decode(part) for part in parts if part]
        while len(self._pending) > self._max_line_bytes:
            lines.append(_decode(self._pending[: self._max_line_bytes]))
            self._pending = self._pending[self._max_line_bytes :]
        return lines

    def flush(self) -> list[str]:
        """Return the unterminated last line, if any, and reset."""
        rest, self._pending = self._pending, b""
        return [_decode(rest)] if rest else []


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")
