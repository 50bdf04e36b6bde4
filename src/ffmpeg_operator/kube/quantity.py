"""Kubernetes resource quantities ("500m", "1.5Gi", "2", "1e3"): parse and compare.

Only what the Pod builder needs: the numeric value, to keep a request from exceeding its limit
after overrides were merged (the API server refuses such a Pod).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

__all__ = ["QuantityError", "parse_quantity"]

_QUANTITY = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))([A-Za-z]*|[eE][+-]?[0-9]+)")
_EXPONENT = re.compile(r"[eE][+-]?[0-9]+")
_SUFFIXES = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


class QuantityError(ValueError):
    """Not a Kubernetes quantity."""


def parse_quantity(quantity: int | str) -> Decimal:
    """The value of ``quantity`` in base units (cores, bytes, devices)."""
    if isinstance(quantity, int):
        return Decimal(quantity)
    match = _QUANTITY.fullmatch(quantity.strip())
    if match is None:
        raise QuantityError(f"not a quantity: {quantity!r}")
    number, suffix = match.groups()
    try:
        if _EXPONENT.fullmatch(suffix):
            return Decimal(number + suffix)
        return Decimal(number) * _SUFFIXES[suffix]
    except (KeyError, InvalidOperation):
        raise QuantityError(f"not a quantity: {quantity!r}") from None
