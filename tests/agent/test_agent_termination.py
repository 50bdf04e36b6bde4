"""The termination message the operator reads from the agent's container status."""

from __future__ import annotations

import json
from pathlib import Path

from ffmpeg_operator.agent.termination import TerminationMessage, write_termination_message


def test_the_message_is_the_documented_json(tmp_path: Path) -> None:
    path = tmp_path / "termination-log"

    write_termination_message(path, TerminationMessage("Stale timeout", 255, "stale"))

    assert json.loads(path.read_text()) == {
        "reason": "Stale timeout",
        "exitCode": 255,
        "killedBy": "stale",
    }


def test_a_long_reason_keeps_the_message_within_kubelets_4096_bytes() -> None:
    text = TerminationMessage("€" * 5000, 1, "limit").to_json()

    assert len(text.encode()) <= 4096
    assert json.loads(text)["reason"].endswith("…")


def test_an_unwritable_path_is_reported_not_raised(tmp_path: Path) -> None:
    assert not write_termination_message(tmp_path / "missing" / "log", TerminationMessage())
