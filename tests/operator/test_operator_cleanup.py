"""Cleanup rules applied by the operator (spec §8): the diskfs volume, memfs over HTTP."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest
from harness import OperatorHarness

from livesrv import LiveServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

MEMFS_PASSWORD = "memfspw"  # the live server's


def _output(pattern: str, **rule: object) -> list[dict[str, object]]:
    cleanup = [{"pattern": pattern, **rule}]
    return [{"id": "out", "address": "-", "options": ["-f", "null"], "cleanup": cleanup}]


def _files(directory: Path, *names: str) -> None:
    for age, name in enumerate(reversed(names)):  # the first name is the oldest
        path = directory / name
        path.write_text(name)
        os.utime(path, (time.time() - 10 - age, time.time() - 10 - age))


def test_deleting_a_process_stops_its_run_and_purges_its_files(
    cluster: OperatorHarness,
) -> None:
    cluster.start_operator()
    _files(cluster.disk, "cam1_a.ts", "cam1_b.ts", "other.ts")
    cluster.create("cam1", output=_output("diskfs:/{processid}_*.ts", purgeOnDelete=True))
    cluster.wait_running("cam1")

    cluster.delete("cam1")

    cluster.wait(lambda: cluster.process("cam1") is None, 20, "the finalizer stays")
    assert sorted(p.name for p in cluster.disk.iterdir()) == ["other.ts"]
    assert cluster.run_pods("cam1") == []
    assert cluster.pods.pids("default", "cam1-1") == {}


def test_updating_the_config_purges_the_files_of_the_replaced_one(
    cluster: OperatorHarness,
) -> None:
    cluster.start_operator()
    _files(cluster.disk, "cam1_a.ts", "other.ts")
    output = _output("diskfs:/{processid}_*.ts", purgeOnDelete=True)
    cluster.create("cam1", output=output)
    cluster.wait_running("cam1")

    cluster.patch_spec("cam1", options=["-loglevel", "warning"])  # datarhei: an update

    cluster.wait(lambda: cluster.status("cam1").get("run") == 2, 20, "no second run")
    cluster.wait_running("cam1")
    assert sorted(p.name for p in cluster.disk.iterdir()) == ["other.ts"]


def test_max_files_keeps_the_newest_files_of_a_stopped_process(cluster: OperatorHarness) -> None:
    cluster.start_operator()
    _files(cluster.disk, "cam1_0.ts", "cam1_1.ts", "cam1_2.ts", "cam1_3.ts", "other.ts")

    cluster.create(
        "cam1", desiredState="stopped", output=_output("diskfs:/{processid}_*.ts", maxFiles=2)
    )

    cluster.wait(lambda: not (cluster.disk / "cam1_1.ts").exists(), 10, "nothing cleaned")
    assert sorted(p.name for p in cluster.disk.iterdir()) == ["cam1_2.ts", "cam1_3.ts", "other.ts"]


def test_memfs_files_of_a_deleted_process_are_purged(
    cluster: OperatorHarness, server: LiveServer
) -> None:
    memfs = f"{server.base_url}/memfs"
    cluster.start_operator(memfs_url=memfs, memfs_password=MEMFS_PASSWORD)
    auth = ("admin", MEMFS_PASSWORD)
    for name in ("opcam_a.m3u8", "opcam_b.ts", "opcam-other.ts"):
        httpx.put(f"{memfs}/{name}", content=b"x", auth=auth).raise_for_status()
    cluster.create(
        "opcam", desiredState="stopped", output=_output("memfs:/{processid}_*", purgeOnDelete=True)
    )
    cluster.wait(lambda: cluster.status("opcam").get("order") == "stop")

    cluster.delete("opcam")

    cluster.wait(lambda: cluster.process("opcam") is None, 20, "the finalizer stays")
    names = {entry["name"] for entry in httpx.get(memfs).json()}
    assert "/opcam-other.ts" in names
    assert not names & {"/opcam_a.m3u8", "/opcam_b.ts"}
    httpx.delete(f"{memfs}/opcam-other.ts", auth=auth)
