"""The result table: each figure beside its target and reference, printed and saved as JSON."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Figure:
    """One measured figure. ``target`` is an upper bound in the same unit as ``value``."""

    name: str
    value: float
    unit: str
    target: float | None = None
    reference: str = ""  # what to compare with: the bare ffmpeg figure, datarhei's, ...
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "-"
        return "ok" if self.value <= self.target else "over"


def _number(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


def render(figures: list[Figure]) -> str:
    rows = [("figure", "measured", "target", "reference", "verdict")]
    for figure in figures:
        target = "" if figure.target is None else f"<= {_number(figure.target)} {figure.unit}"
        rows.append(
            (
                figure.name,
                f"{_number(figure.value)} {figure.unit}",
                target,
                figure.reference,
                figure.verdict,
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    notes = [f"  {figure.name}: {figure.note}" for figure in figures if figure.note]
    return "\n".join(lines + (["", "notes:", *notes] if notes else []))


def save(suite: str, figures: list[Figure], settings: dict[str, object]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H-%M-%S")
    path = RESULTS_DIR / f"{suite}-{stamp}.json"
    document = {
        "suite": suite,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": psutil.cpu_count(),
        },
        "settings": settings,
        "figures": [{**asdict(figure), "verdict": figure.verdict} for figure in figures],
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path
