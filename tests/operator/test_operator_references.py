"""References ``#<process>:output=<output>`` between FFmpegProcesses (spec §6)."""

from __future__ import annotations

import pytest
from harness import OperatorHarness

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

SOURCE = "testsrc=size=160x120:rate=10"


def _referencing() -> dict[str, object]:
    reference = {"id": "in", "address": "#source:output=out", "options": ["-re", "-f", "lavfi"]}
    return {"input": [reference]}


def _source(address: str) -> dict[str, object]:
    # Never runs: it only names an output the other process reads.
    return {
        "desiredState": "stopped",
        "output": [{"id": "out", "address": address, "options": ["-f", "null"]}],
    }


def test_a_reference_waits_until_the_referenced_process_exists(cluster: OperatorHarness) -> None:
    cluster.start_operator()
    cluster.create("reader", **_referencing())
    unresolved = cluster.wait(
        lambda: (
            (c := cluster.condition("reader", "ReferencesResolved")).get("status") == "False" and c
        )
    )
    assert "unknown process 'source'" in unresolved["message"]
    assert cluster.condition("reader", "Ready")["reason"] == "ReferencesUnresolved"
    assert cluster.run_pods("reader") == []

    cluster.create("source", **_source(SOURCE))

    status = cluster.wait_running("reader")
    assert cluster.condition("reader", "ReferencesResolved")["status"] == "True"
    assert SOURCE in status["command"]


def test_a_changed_reference_makes_a_new_run(cluster: OperatorHarness) -> None:
    cluster.start_operator()
    cluster.create("source", **_source(SOURCE))
    cluster.create("reader", **_referencing())
    cluster.wait_running("reader")

    changed = "testsrc=size=160x120:rate=12"
    cluster.patch_spec("source", output=_source(changed)["output"])

    status = cluster.wait(
        lambda: (s := cluster.status("reader")).get("run") == 2 and s["state"] == "running" and s,
        20,
        "the reader was not restarted",
    )
    assert changed in status["command"]
    assert cluster.pod("reader-2") is not None
