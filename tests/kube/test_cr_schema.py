"""Custom objects against the generated CRD schema, CEL rules included (design §7)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from crdschema import CRDSchema
from kube_examples import EXAMPLE_FILES, all_example_crs, load_documents, minimal_cr

from ffmpeg_operator.core.models import Progress
from ffmpeg_operator.kube.crd import MAX_IOS
from ffmpeg_operator.kube.names import ID_HASH_LABEL, cr_name, id_hash
from ffmpeg_operator.kube.status import FFmpegProcessStatus, set_condition, summarize_progress

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def _io(io_id: str = "", address: str = "x") -> dict[str, Any]:
    return {"id": io_id, "address": address}


def test_example_files_exist_for_every_documented_scenario() -> None:
    names = {path.stem for path in EXAMPLE_FILES}
    assert {
        "testsrc-null", "hls-memfs", "rtmp-restream", "gpu-encoder", "limits-stale", "reference"
    } <= names  # fmt: skip


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_example_crs_pass_the_crd(crd_schema: CRDSchema, path: Path) -> None:
    for cr in load_documents(path):
        assert crd_schema.errors(cr) == []


@pytest.mark.parametrize("cr", all_example_crs(), ids=lambda cr: cr["metadata"]["name"])
def test_example_crs_are_named_and_labelled_after_their_id(cr: dict[str, Any]) -> None:
    assert cr["metadata"]["name"] == cr_name(cr["spec"]["id"])
    assert cr["metadata"]["labels"][ID_HASH_LABEL] == id_hash(cr["spec"]["id"])


def test_minimal_cr_passes(crd_schema: CRDSchema) -> None:
    assert crd_schema.errors(minimal_cr()) == []


def test_defaults_are_datarheis(crd_schema: CRDSchema) -> None:
    spec = crd_schema.default(minimal_cr())["spec"]
    assert spec["type"] == "ffmpeg"
    assert spec["autostart"] is True
    assert spec["reconnect"] is False
    assert spec["desiredState"] == "running"
    assert spec["input"][0]["options"] == ["-f", "lavfi"]


def test_empty_io_ids_may_repeat(crd_schema: CRDSchema) -> None:
    cr = minimal_cr(input=[_io(), _io()], output=[_io(), _io("a")])
    assert crd_schema.errors(cr) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"input": [_io("a"), _io("b"), _io("a")]}, "input ids must be unique"),
        ({"output": [_io("a"), _io("a")]}, "output ids must be unique"),
        ({"input": [_io("a", "   ")]}, "address must not be blank"),
        ({"output": [_io("a", "\t")]}, "address must not be blank"),
        ({"input": [_io("a", "")]}, "should be non-empty"),
        ({"input": [{"id": "a"}]}, "'address' is a required property"),
        ({"input": []}, "should be non-empty"),
        ({"output": [_io(str(n)) for n in range(MAX_IOS + 1)]}, "is too long"),
        ({"input": [_io("x" * 257)]}, "is too long"),
        ({"output": [_io("a", "x" * 65537)]}, "is too long"),
        ({"id": ""}, "should be non-empty"),
        ({"id": "  "}, "id must not be blank"),
        ({"desiredState": "paused"}, "is not one of"),
        ({"reconnectDelaySeconds": -1}, "less than the minimum"),
        ({"limits": {"memoryMbytes": 1.5}}, "is not of type 'integer'"),
        ({"autostart": "yes"}, "is not of type 'boolean'"),
        ({"reconect": True}, ".spec.reconect: unknown field"),
        ({"input": [{"address": "x", "adress": "y"}]}, ".spec.input[0].adress: unknown field"),
        ({"resources": {"limits": {"cpu": "two"}}}, "does not match"),
        ({"tolerations": [{"key": "gpu", "tolerationSecond": 5}]}, "unknown field"),
    ],
)
def test_invalid_specs_are_refused(
    crd_schema: CRDSchema, changes: dict[str, Any], expected: str
) -> None:
    errors = crd_schema.errors(minimal_cr(**changes))
    assert any(expected in error for error in errors), errors


def test_a_missing_id_is_refused(crd_schema: CRDSchema) -> None:
    cr = minimal_cr()
    del cr["spec"]["id"]
    assert any("'id' is a required property" in e for e in crd_schema.errors(cr))


@pytest.mark.parametrize("name", ["Upper", "a:b", "-x", "x" * 53, "a.b"])
def test_names_that_cannot_prefix_a_pod_name_are_refused(crd_schema: CRDSchema, name: str) -> None:
    cr = minimal_cr()
    cr["metadata"]["name"] = name
    assert any("metadata.name must be a DNS-1123 label" in e for e in crd_schema.errors(cr))


def test_free_kubernetes_objects_keep_their_fields(crd_schema: CRDSchema) -> None:
    affinity: dict[str, Any] = {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}
    }
    template = {"metadata": {"labels": {"a": "b"}}, "spec": {"priorityClassName": "high"}}
    cr = minimal_cr(affinity=affinity, podTemplate=template)
    assert crd_schema.errors(cr) == []


def test_the_id_cannot_change(crd_schema: CRDSchema) -> None:
    old = minimal_cr()
    assert any("id is immutable" in e for e in crd_schema.errors(minimal_cr(id="other"), old))


def test_an_update_keeping_the_id_is_accepted(crd_schema: CRDSchema) -> None:
    assert crd_schema.errors(minimal_cr(reconnect=True), minimal_cr()) == []


def test_status_of_the_status_model_passes(crd_schema: CRDSchema) -> None:
    status = FFmpegProcessStatus(
        state="running",
        order="start",
        run=3,
        started_at="2025-01-02T03:04:05Z",
        running_since="2025-01-02T03:04:05Z",
        last_exit_reason="stale",
        last_exit_code=255,
        restarts=2,
        observed_generation=4,
        conditions=set_condition([], "Running", "True", "Started", "", NOW),
        progress=summarize_progress(Progress(frame=10, fps=25.0), NOW),
        command=["-i", "x", "-f", "null", "-"],
    )
    cr = minimal_cr()
    cr["status"] = status.model_dump(by_alias=True)
    assert crd_schema.errors(cr) == []


def test_a_status_with_an_unknown_state_is_refused(crd_schema: CRDSchema) -> None:
    cr = copy.deepcopy(minimal_cr())
    cr["status"] = {"state": "sleeping"}
    assert any("is not one of" in e for e in crd_schema.errors(cr))
