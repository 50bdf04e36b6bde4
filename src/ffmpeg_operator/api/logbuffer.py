"""The server's recent log lines for ``GET /api/v3/log``, as Core keeps its log buffer."""

from __future__ import annotations

import logging
import threading
from collections import deque
from datetime import UTC, datetime
from typing import Any

MAX_LINES = 1000


class LogBuffer(logging.Handler):
    """Keeps the last :data:`MAX_LINES` records of the loggers it is attached to."""

    def __init__(self, max_lines: int = MAX_LINES) -> None:
        super().__init__(level=logging.INFO)
        self._events: deque[dict[str, Any]] = deque(maxlen=max_lines)
        self._events_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        event = {
            "ts": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "level": record.levelname,
            "component": record.name,
            "message": record.getMessage(),
        }
        with self._events_lock:
            self._events.append(event)

    def events(self) -> list[dict[str, Any]]:
        with self._events_lock:
            return list(self._events)


def attach(buffer: LogBuffer, names: tuple[str, ...] = ("ffmpeg_operator",)) -> None:
    """Collect the records of ``names`` (once per logger, however often apps are built)."""
    for name in names:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if isinstance(handler, LogBuffer):
                logger.removeHandler(handler)
        logger.addHandler(buffer)
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
