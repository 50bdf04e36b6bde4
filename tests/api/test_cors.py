"""CORS as Core's Echo middleware decides it (origin matching)."""

from __future__ import annotations

import pytest

from ffmpeg_operator.api.cors import allowed_origin


@pytest.mark.parametrize(
    ("origin", "allowed", "expected"),
    [
        ("http://a.example", ["*"], "*"),
        ("http://a.example", ["http://a.example"], "http://a.example"),
        ("http://b.example", ["http://a.example"], ""),
        ("https://ui.a.example", ["https://*.a.example"], "https://ui.a.example"),
        ("http://a.example:3000", ["http://a.example:300?"], "http://a.example:3000"),
        ("null", ["http://*"], ""),
    ],
)
def test_allowed_origin(origin: str, allowed: list[str], expected: str) -> None:
    assert allowed_origin(origin, allowed) == expected
