"""The CRD on a real kube-apiserver: what offline schema checks and the emulator cannot prove."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from realkit import Kube

pytestmark = [pytest.mark.realcluster, pytest.mark.timeout(120)]

CRD = "crd/ffmpegprocesses.ffmpeg-operator.io"
SCRATCH = "ffmpeg-rc-crd"


def _process(name: str, **spec: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "ffmpeg-operator.io/v1alpha1",
        "kind": "FFmpegProcess",
        "metadata": {"name": name, "namespace": SCRATCH},
        "spec": {
            "id": name,
            "input": [{"id": "in", "address": "testsrc", "options": ["-f", "lavfi"]}],
            "output": [{"id": "out", "address": "-", "options": ["-f", "null"]}],
            "desiredState": "stopped",
            **spec,
        },
    }
    # None: leave the field out (the apiserver defaults it).
    obj["spec"] = {k: v for k, v in obj["spec"].items() if v is not None}
    return obj


@pytest.fixture(scope="module")
def scratch(kube: Kube, crd: None) -> Any:
    """A namespace without an operator: objects here are only stored, never reconciled."""
    kube.run("create", "namespace", SCRATCH, check=False)
    yield
    kube.run("delete", "namespace", SCRATCH, "--wait=false", check=False)


def _version(kube: Kube) -> str:
    served = kube.json("get", CRD)["spec"]["versions"]
    return str(next(v["name"] for v in served if v["storage"]))


def _create(kube: Kube, obj: dict[str, Any], *extra: str) -> Any:
    obj = {**obj, "apiVersion": f"ffmpeg-operator.io/{_version(kube)}"}
    return kube.apply([obj], *extra)


def test_crd_is_accepted_established_and_structural(kube: Kube, crd: None) -> None:
    conditions = {c["type"]: c["status"] for c in kube.json("get", CRD)["status"]["conditions"]}
    assert conditions["Established"] == "True"
    assert conditions["NamesAccepted"] == "True"
    assert "NonStructuralSchema" not in conditions


def test_apiserver_fills_in_the_schema_defaults(kube: Kube, scratch: None) -> None:
    _create(kube, _process("defaults", desiredState=None))
    spec = kube.json("get", "ffp", "defaults", "-n", SCRATCH)["spec"]
    assert spec["type"] == "ffmpeg"
    assert spec["reference"] == ""
    assert spec["desiredState"] == "running"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"input": [{"id": "a", "address": "src1"}, {"id": "a", "address": "src2"}]},
         "input ids must be unique"),
        ({"output": [{"id": "o", "address": "   "}]}, "address must not be blank"),
        ({"id": "  "}, "id must not be blank"),
        ({"output": [{"id": "o", "address": "x" * 65537}]}, "Too long"),
    ],
)  # fmt: skip
def test_cel_and_bounds_refuse_what_the_schema_forbids(
    kube: Kube, scratch: None, spec: dict[str, Any], message: str
) -> None:
    obj = _process("refused", **spec)
    obj = {**obj, "apiVersion": f"ffmpeg-operator.io/{_version(kube)}"}
    result = kube.run("create", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(obj),
                      check=False)  # fmt: skip
    assert result.returncode != 0
    assert message in result.stderr


def test_id_is_immutable(kube: Kube, scratch: None) -> None:
    _create(kube, _process("immutable"))
    result = kube.run("patch", "ffp", "immutable", "-n", SCRATCH, "--type=merge",
                      "-p", '{"spec":{"id":"other"}}', check=False)  # fmt: skip
    assert result.returncode != 0
    assert "id is immutable" in result.stderr


def test_status_is_a_subresource(kube: Kube, scratch: None) -> None:
    _create(kube, _process("status"))
    # Through the main resource, status is ignored ...
    kube.run("patch", "ffp", "status", "-n", SCRATCH, "--type=merge",
             "-p", '{"status":{"order":"start"}}')  # fmt: skip
    assert "status" not in kube.json("get", "ffp", "status", "-n", SCRATCH) or (
        kube.json("get", "ffp", "status", "-n", SCRATCH)["status"].get("order") != "start"
    )
    # ... and only the status subresource writes it.
    kube.run("patch", "ffp", "status", "-n", SCRATCH, "--subresource=status", "--type=merge",
             "-p", '{"status":{"order":"start"}}')  # fmt: skip
    assert kube.json("get", "ffp", "status", "-n", SCRATCH)["status"]["order"] == "start"


def test_printer_columns_show_in_kubectl_get(kube: Kube, scratch: None) -> None:
    _create(kube, _process("columns"))
    kube.run("patch", "ffp", "columns", "-n", SCRATCH, "--subresource=status", "--type=merge",
             "-p", '{"status":{"state":"running","order":"start"}}')  # fmt: skip
    header, row = kube.run("get", "ffp", "columns", "-n", SCRATCH).stdout.splitlines()[:2]
    assert header.split() == [
        "NAME", "STATE", "ORDER", "FPS", "BITRATE", "UPTIME", "RESTARTS", "AGE",
    ]  # fmt: skip
    assert row.split()[:3] == ["columns", "running", "start"]


def test_kubectl_explain_describes_the_spec(kube: Kube, crd: None) -> None:
    text = kube.run("explain", "ffp.spec").stdout
    assert "KIND:       FFmpegProcess" in text
    assert "Desired state: a datarhei process config" in text
    assert "desiredState" in text
    output = kube.run("explain", "ffp.spec.output.cleanup").stdout
    assert "DESCRIPTION" in output
