"""`ffmpeg-operator crd` and `ffmpeg-operator render` (no cluster needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from kube_examples import EXAMPLE_FILES, ROOT, load_documents

from ffmpeg_operator.cli import app

runner = CliRunner()


def test_crd_prints_the_committed_crd() -> None:
    result = runner.invoke(app, ["crd"])
    assert result.exit_code == 0
    assert result.stdout == (ROOT / "crds" / "ffmpegprocesses.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_render_prints_one_pod_per_example_cr(path: Path) -> None:
    result = runner.invoke(app, ["render", "-f", str(path)])
    assert result.exit_code == 0, result.output
    pods = list(yaml.safe_load_all(result.stdout))
    crs = load_documents(path)
    assert [pod["kind"] for pod in pods] == ["Pod"] * len(crs)
    assert [pod["metadata"]["name"] for pod in pods] == [
        f"{cr['metadata']['name']}-1" for cr in crs
    ]


def test_render_resolves_references_between_documents_of_the_file() -> None:
    result = runner.invoke(app, ["render", "-f", str(ROOT / "examples/crs/reference.yaml")])
    mix = list(yaml.safe_load_all(result.stdout))[1]
    ffmpeg = next(c for c in mix["spec"]["containers"] if c["name"] == "ffmpeg")
    assert "#program-source:output=program" not in ffmpeg["args"]
    assert any(arg.startswith("rtmp://") and arg.endswith("/program") for arg in ffmpeg["args"])


def test_render_names_the_run_and_namespace() -> None:
    path = ROOT / "examples/crs/testsrc-null.yaml"
    result = runner.invoke(app, ["render", "-f", str(path), "--run", "5", "-n", "media"])
    [pod] = yaml.safe_load_all(result.stdout)
    assert pod["metadata"]["name"] == "testsrc-null-5"
    assert pod["metadata"]["namespace"] == "media"


def test_render_reads_stdin_and_skips_other_kinds() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\n" + (
        ROOT / "examples/crs/testsrc-null.yaml"
    ).read_text(encoding="utf-8")
    result = runner.invoke(app, ["render", "-f", "-"], input=text)
    assert result.exit_code == 0, result.output
    assert [pod["kind"] for pod in yaml.safe_load_all(result.stdout)] == ["Pod"]


def test_render_reports_a_config_error_and_fails() -> None:
    text = """
apiVersion: ffmpeg-operator.io/v1alpha1
kind: FFmpegProcess
metadata: {name: broken}
spec:
  id: broken
  input: [{id: in, address: "#missing:output=out"}]
  output: [{id: out, address: "-"}]
"""
    result = runner.invoke(app, ["render", "-f", "-"], input=text)
    assert result.exit_code == 1
    assert "FFmpegProcess broken" in result.stderr
    assert "unknown process 'missing'" in result.stderr


def test_render_reports_a_missing_file() -> None:
    result = runner.invoke(app, ["render", "-f", "/nonexistent/cr.yaml"])
    assert result.exit_code == 1
    assert "/nonexistent/cr.yaml" in result.stderr


def test_render_output_keeps_unicode_line_breaks_intact() -> None:
    text = """
apiVersion: ffmpeg-operator.io/v1alpha1
kind: FFmpegProcess
metadata: {name: nel}
spec:
  id: nel
  input: [{id: in, address: "testsrc", options: ["-metadata", "title=a\\x85b\\u2028c"]}]
  output: [{id: out, address: "-"}]
"""
    result = runner.invoke(app, ["render", "-f", "-"], input=text)
    [pod] = yaml.safe_load_all(result.stdout)
    args = next(c for c in pod["spec"]["containers"] if c["name"] == "ffmpeg")["args"]
    assert "title=a\x85b\u2028c" in args
