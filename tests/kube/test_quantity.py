"""Kubernetes resource quantities, as far as the Pod builder compares them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ffmpeg_operator.kube.quantity import QuantityError, parse_quantity


@pytest.mark.parametrize(
    ("quantity", "value"),
    [
        ("500m", Decimal("0.5")),
        ("2", Decimal(2)),
        (2, Decimal(2)),
        ("1.5", Decimal("1.5")),
        ("64Mi", Decimal(64 * 2**20)),
        ("1Gi", Decimal(2**30)),
        ("1G", Decimal(10**9)),
        ("1k", Decimal(1000)),
        ("1e3", Decimal(1000)),
        ("1E", Decimal(10**18)),
        (".5", Decimal("0.5")),
    ],
)
def test_quantities_parse_to_base_units(quantity: int | str, value: Decimal) -> None:
    assert parse_quantity(quantity) == value


def test_binary_and_decimal_suffixes_compare_by_value() -> None:
    assert parse_quantity("1Gi") > parse_quantity("1G")
    assert parse_quantity("1500m") > parse_quantity("1")


@pytest.mark.parametrize("quantity", ["", "two", "1 core", "1Xi", "m"])
def test_non_quantities_are_refused(quantity: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(quantity)
