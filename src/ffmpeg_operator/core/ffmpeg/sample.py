"""The counters one ffmpeg progress report carries, whatever its source.

A stderr stats line and a ``-progress`` block both become a :class:`ProgressSample`, so the
progress tracker and the stale watchdog do not care where the numbers came from.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, slots=True)
class ProgressSample:
    """Counters of one progress report. ``None`` = the report did not carry a usable value
    (field missing, ``N/A``, negative time); Core then keeps the previous value.
    """

    frame: int | None = None
    packet: int | None = None
    q: float | None = None
    size_bytes: int | None = None
    time_sec: float | None = None
    speed: float | None = None
    drop: int | None = None
    dup: int | None = None

    def over(self, previous: ProgressSample) -> ProgressSample:
        """This sample with every missing value taken from ``previous``."""
        # Twice a second per running process: no dataclasses.fields()/replace() round trip.
        mine = [getattr(self, name) for name in _FIELD_NAMES]
        if None not in mine:
            return self
        return ProgressSample(
            *(
                getattr(previous, name) if value is None else value
                for name, value in zip(_FIELD_NAMES, mine, strict=True)
            )
        )


_FIELD_NAMES = tuple(field.name for field in fields(ProgressSample))
