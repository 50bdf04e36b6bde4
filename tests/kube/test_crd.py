"""The generated FFmpegProcess CRD (design §2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from manifests import assert_valid_manifest

from ffmpeg_operator.kube.crd import crd, crd_yaml, openapi_schema, structural_schema

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "crds" / "ffmpegprocesses.yaml"


def _version() -> dict[str, Any]:
    version: dict[str, Any] = crd()["spec"]["versions"][0]
    return version


def _nodes(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from _nodes(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from _nodes(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from _nodes(node["additionalProperties"], f"{path}.*")


def test_committed_crd_matches_the_generator() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == crd_yaml(), (
        "crds/ffmpegprocesses.yaml is stale: run `ffmpeg-operator crd > crds/ffmpegprocesses.yaml`"
    )


def test_crd_yaml_loads_back_to_the_crd() -> None:
    assert yaml.safe_load(crd_yaml()) == crd()


def test_crd_passes_the_kubernetes_schema() -> None:
    assert_valid_manifest(crd())


def test_crd_names_the_kind_as_designed() -> None:
    spec = crd()["spec"]
    assert spec["group"] == "ffmpeg-operator.io"
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": "FFmpegProcess",
        "listKind": "FFmpegProcessList",
        "plural": "ffmpegprocesses",
        "singular": "ffmpegprocess",
        "shortNames": ["ffp"],
        "categories": ["ffmpeg"],
    }
    assert crd()["metadata"]["name"] == "ffmpegprocesses.ffmpeg-operator.io"


def test_one_served_storage_version_with_a_status_subresource() -> None:
    versions = crd()["spec"]["versions"]
    assert [(v["name"], v["served"], v["storage"]) for v in versions] == [("v1alpha1", True, True)]
    assert versions[0]["subresources"] == {"status": {}}


def test_printer_columns_are_state_order_fps_bitrate_uptime_restarts_age() -> None:
    columns = [c["name"].upper() for c in _version()["additionalPrinterColumns"]]
    assert columns[:7] == ["STATE", "ORDER", "FPS", "BITRATE", "UPTIME", "RESTARTS", "AGE"]


def test_printer_columns_point_at_fields_of_the_schema() -> None:
    paths = {path for path, _node in _nodes(openapi_schema())}
    for column in _version()["additionalPrinterColumns"]:
        if column["jsonPath"] != ".metadata.creationTimestamp":
            assert column["jsonPath"] in paths, column


def test_schema_is_structural() -> None:
    for path, node in _nodes(openapi_schema()):
        assert "$ref" not in node and "$defs" not in node, path
        assert "title" not in node, path
        int_or_string = node.get("x-kubernetes-int-or-string")
        assert "anyOf" not in node or int_or_string, path
        assert (
            "type" in node or int_or_string or node.get("x-kubernetes-preserve-unknown-fields")
        ), path
        assert node.get("additionalProperties") is not False, path
        assert not ("properties" in node and "additionalProperties" in node), path
        assert node.get("type") != "null", path


def test_root_metadata_schema_is_only_type_object() -> None:
    # kube-apiserver's structural-schema rule for ObjectMeta at the root (found on the real
    # apiserver, tests/realcluster): nothing but type object (plus name/generateName).
    assert openapi_schema()["properties"]["metadata"] == {"type": "object"}


def test_every_property_is_described_for_kubectl_explain() -> None:
    for path, node in _nodes(openapi_schema()):
        for name, child in node.get("properties", {}).items():
            if path == "" and name == "metadata":
                continue  # ObjectMeta: kubectl explain describes it from its own schema
            assert child.get("description"), f"{path}.{name}"


def test_descriptions_do_not_cite_the_datarhei_spec_sections() -> None:
    assert "§" not in crd_yaml()


def test_cleanup_rules_are_documented_under_output() -> None:
    cleanup = openapi_schema()["properties"]["spec"]["properties"]["output"]["items"]["properties"][
        "cleanup"
    ]
    assert set(cleanup["items"]["properties"]) == {
        "pattern", "maxFiles", "maxFileAgeSeconds", "purgeOnDelete"
    }  # fmt: skip


def test_only_kubernetes_types_preserve_unknown_fields() -> None:
    preserving = {
        path
        for path, node in _nodes(openapi_schema())
        if node.get("x-kubernetes-preserve-unknown-fields")
    }
    assert preserving == {".spec.affinity", ".spec.podTemplate.spec"}


def test_optional_kubernetes_fields_are_nullable_not_unions() -> None:
    spec = openapi_schema()["properties"]["spec"]["properties"]
    assert spec["image"] == {
        "description": spec["image"]["description"],
        "type": "string",
        "nullable": True,
    }


def test_schema_uses_crd_spelling() -> None:
    spec = openapi_schema()["properties"]["spec"]["properties"]
    assert {"reconnectDelaySeconds", "staleTimeoutSeconds", "desiredState"} <= set(spec)
    assert set(spec["limits"]["properties"]) == {"cpuUsage", "memoryMbytes", "waitforSeconds"}


def test_conditions_are_a_map_keyed_by_type() -> None:
    conditions = openapi_schema()["properties"]["status"]["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert "type" in conditions["items"]["required"]


def test_a_union_that_is_not_optional_is_refused() -> None:
    with pytest.raises(ValueError, match="anyOf"):
        structural_schema(
            {
                "type": "object",
                "properties": {"x": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            }
        )
