"""``ffmpeg-operator migrate``: a datarhei Core db.json becomes FFmpegProcess resources."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from shipkit import ROOT, CustomObjectValidator, Kustomize

from ffmpeg_operator.core.dbjson import decode_db
from ffmpeg_operator.kube.migrate import METADATA_ANNOTATION, MigrationError, migrate_db
from ffmpeg_operator.kube.names import ID_HASH_LABEL, id_hash
from ffmpeg_operator.kube.spec import config_from_cr

FIXTURE = ROOT / "tests" / "fixtures" / "dbjson" / "restreamer-v16.json"
INGEST = "restreamer-ui:ingest:4186b095-7f0a-4e94-8c3d-f17459ab252f"
SNAPSHOT = f"{INGEST}:snapshot"
EGRESS = "restreamer-ui:egress:youtube:0b7ea5a1-7c3e-4bc1-9d6b-3a4e0c1b2f8d"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _by_id(namespace: str | None = "media") -> dict[str, dict[str, Any]]:
    result = migrate_db(FIXTURE.read_bytes(), namespace)
    return {obj["spec"]["id"]: obj for obj in result.objects}


def _db(processes: dict[str, Any], metadata: dict[str, Any] | None = None) -> str:
    return json.dumps({"version": 4, "process": processes, "metadata": metadata or {}})


def _cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ffmpeg_operator", "migrate", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


# --------------------------------------------------------------------------- conversion


def test_every_stored_process_becomes_one_ffmpegprocess() -> None:
    objects = migrate_db(FIXTURE.read_bytes(), "media").objects
    assert [(o["apiVersion"], o["kind"]) for o in objects] == [
        ("ffmpeg-operator.io/v1alpha1", "FFmpegProcess")
    ] * 4
    assert {o["spec"]["id"] for o in objects} == {"archive-1", INGEST, SNAPSHOT, EGRESS}


@pytest.mark.parametrize(
    ("process_id", "desired_state"),
    [(INGEST, "running"), (SNAPSHOT, "running"), (EGRESS, "stopped"), ("archive-1", "stopped")],
)
def test_order_becomes_desired_state(process_id: str, desired_state: str) -> None:
    assert _by_id()[process_id]["spec"]["desiredState"] == desired_state


def test_stopped_process_keeps_its_autostart_flag() -> None:
    # archive-1 was created with autostart and stopped later: the order wins, autostart stays.
    spec = _by_id()["archive-1"]["spec"]
    assert (spec["autostart"], spec["desiredState"]) == (True, "stopped")


def test_core_flat_limits_become_limits_with_memory_in_mebibytes() -> None:
    assert _by_id()[INGEST]["spec"]["limits"] == {
        "cpuUsage": 80,
        "memoryMbytes": 256,
        "waitforSeconds": 5,
    }


def test_limits_object_wins_over_flat_limit_keys() -> None:
    config = {
        "id": "p",
        "input": [{"id": "i", "address": "x"}],
        "output": [{"id": "o", "address": "y"}],
        "limits": {"cpu_usage": 10, "memory_mbytes": 64, "waitfor_seconds": 3},
        "limit_cpu_usage": 99,
        "limit_memory_bytes": 1024 * 1024 * 1024,
        "limit_waitfor_seconds": 60,
    }
    objects = migrate_db(_db({"p": {"id": "p", "config": config, "order": "stop"}})).objects
    assert objects[0]["spec"]["limits"] == {"cpuUsage": 10, "memoryMbytes": 64, "waitforSeconds": 3}


def test_references_and_placeholders_are_copied_verbatim() -> None:
    objects = _by_id()
    assert objects[SNAPSHOT]["spec"]["input"][0]["address"] == f"#{INGEST}:output=output_0"
    ingest_output = objects[INGEST]["spec"]["output"][0]
    assert ingest_output["address"] == (
        "{memfs}/4186b095-7f0a-4e94-8c3d-f17459ab252f_{outputid}.m3u8"
    )
    assert ingest_output["cleanup"][2] == {
        "pattern": "memfs:/4186b095-7f0a-4e94-8c3d-f17459ab252f_{outputid}_**.ts",
        "maxFiles": 12,
        "maxFileAgeSeconds": 24,
        "purgeOnDelete": True,
    }


def test_migrated_spec_holds_exactly_the_stored_config() -> None:
    stored = decode_db(FIXTURE.read_bytes()).processes
    for process_id, obj in _by_id().items():
        assert config_from_cr(obj) == stored[process_id].config, process_id


def test_process_metadata_becomes_a_json_annotation() -> None:
    stored = json.loads(FIXTURE.read_text(encoding="utf-8"))["metadata"]["process"][INGEST]
    annotation = _by_id()[INGEST]["metadata"]["annotations"][METADATA_ANNOTATION]
    assert json.loads(annotation) == stored
    assert "Mühlbach — Live" in annotation  # kept readable, not \u-escaped


def test_process_without_metadata_gets_no_annotation() -> None:
    assert "annotations" not in _by_id()["archive-1"]["metadata"]


def test_free_text_ids_get_dns_names_and_keep_the_exact_id() -> None:
    for process_id, obj in _by_id().items():
        name = obj["metadata"]["name"]
        assert DNS_LABEL.match(name) and len(name) <= 52, name
        assert obj["metadata"]["labels"][ID_HASH_LABEL] == id_hash(process_id)
    assert _by_id()["archive-1"]["metadata"]["name"] == "archive-1"


def test_namespace_is_set_only_when_given() -> None:
    assert {o["metadata"]["namespace"] for o in _by_id("media").values()} == {"media"}
    assert all("namespace" not in o["metadata"] for o in _by_id(None).values())


def test_map_key_is_the_id_when_the_config_lacks_one() -> None:
    config = {"input": [{"id": "i", "address": "x"}], "output": [{"id": "o", "address": "y"}]}
    objects = migrate_db(_db({"cam:1": {"config": config, "order": "start"}})).objects
    assert objects[0]["spec"]["id"] == "cam:1"


def test_system_metadata_is_reported_as_not_migrated() -> None:
    assert migrate_db(FIXTURE.read_bytes()).system_metadata_keys == ["restreamer-ui"]


def test_metadata_too_large_for_annotations_is_refused() -> None:
    config = {"id": "p", "input": [{"address": "x"}], "output": [{"address": "y"}]}
    document = _db(
        {"p": {"config": config, "order": "stop"}},
        {"process": {"p": {"blob": "x" * (300 * 1024)}}},
    )
    with pytest.raises(MigrationError, match="larger than the 256 KiB"):
        migrate_db(document)


def test_migrated_objects_are_valid_against_the_crd_schema(
    crd_validator: CustomObjectValidator,
) -> None:
    for process_id, obj in _by_id().items():
        assert crd_validator.errors(obj) == [], process_id


# --------------------------------------------------------------------------- command line


def test_cli_writes_multi_document_yaml_to_the_output_file(tmp_path: Path) -> None:
    out = tmp_path / "processes.yaml"
    result = _cli(FIXTURE, "-n", "media", "-o", out)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    documents = list(yaml.safe_load_all(out.read_text(encoding="utf-8")))
    assert documents == migrate_db(FIXTURE.read_bytes(), "media").objects


def test_cli_output_keeps_unicode_line_breaks_in_text(tmp_path: Path) -> None:
    config = {
        "id": "p",
        "reference": "line\u2028break",
        "input": [{"id": "i", "address": "x"}],
        "output": [{"id": "o", "address": "y"}],
    }
    db = tmp_path / "db.json"
    db.write_text(
        _db({"p": {"config": config, "order": "stop"}}, {"process": {"p": {"note": "a\x85b"}}})
    )
    out = tmp_path / "processes.yaml"
    assert _cli(db, "-o", out).returncode == 0
    (obj,) = yaml.safe_load_all(out.read_text(encoding="utf-8"))
    assert obj["spec"]["reference"] == "line\u2028break"
    assert json.loads(obj["metadata"]["annotations"][METADATA_ANNOTATION]) == {"note": "a\x85b"}


def test_cli_prints_yaml_and_says_what_it_left_out() -> None:
    result = _cli(FIXTURE)
    assert result.returncode == 0, result.stderr
    assert len(list(yaml.safe_load_all(result.stdout))) == 4
    assert result.stderr.splitlines() == [
        "note: system metadata not migrated (keys: restreamer-ui)",
        "migrated 4 processes",
    ]


def test_cli_output_builds_with_kustomize(tmp_path: Path, kustomize: Kustomize) -> None:
    # kubectl parses YAML with Go's parser; what it reads back must be what was written.
    assert _cli(FIXTURE, "-o", tmp_path / "processes.yaml").returncode == 0
    (tmp_path / "kustomization.yaml").write_text("resources:\n- processes.yaml\n")
    built = {obj["spec"]["id"]: obj for obj in kustomize(tmp_path)}
    assert built == _by_id(None)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"version":3,"process":{},"metadata":{}}',
            "unsupported db.json version 3, expected 4",
        ),
        ('{"version":4,"process":{', "invalid JSON: Expecting property name enclosed in double"),
        ("[]", "not a JSON object"),
        (
            _db({"p": {"config": {"reconnect_delay_seconds": -1}}}),
            "process 'p': invalid config: reconnect_delay_seconds:",
        ),
    ],
    ids=["unknown-version", "invalid-json", "not-an-object", "invalid-config"],
)
def test_cli_refuses_a_bad_file_with_one_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "db.json"
    path.write_text(content)
    result = _cli(path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"error: {path}: {message}")


def test_cli_refuses_a_missing_file_with_one_line(tmp_path: Path) -> None:
    result = _cli(tmp_path / "nope.json")
    assert result.returncode == 1
    assert result.stderr == f"error: {tmp_path / 'nope.json'}: no such file\n"
