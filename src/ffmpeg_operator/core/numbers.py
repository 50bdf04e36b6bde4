"""datarhei's number formatting rules (spec §1.6).

Core pre-formats some floats as JSON number literals. Rule A prints whole values without
decimals and others with exactly three; rule B always prints three decimals. The wire layer
writes a :class:`FormattedNumber` verbatim into the JSON document.
"""

from __future__ import annotations

import math


class FormattedNumber:
    """A JSON number literal already formatted the way datarhei prints it."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"FormattedNumber({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FormattedNumber) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __float__(self) -> float:
        return float(self.text)


def _finite(value: float) -> float:
    # Go would print NaN/Inf as invalid JSON; a compatible server must never emit that.
    return value if math.isfinite(value) else 0.0


def format_rule_a(value: float) -> str:
    """Whole values without decimals (``25``), others with exactly 3 decimals (``0.999``)."""
    value = _finite(value)
    if value == math.trunc(value):
        return str(int(value))
    return f"{value:.3f}"


def format_rule_b(value: float) -> str:
    """Always exactly 3 decimals (``25.000``)."""
    return f"{_finite(value):.3f}"
