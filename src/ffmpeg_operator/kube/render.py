"""``ffmpeg-operator render``: the run Pods of FFmpegProcess documents, without a cluster.

References between processes are resolved against the other FFmpegProcess documents of the
same input. Every process is rendered, whatever its ``desiredState`` (what its Pod would be).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from ffmpeg_operator.core.errors import ConfigError
from ffmpeg_operator.core.models import ProcessConfig
from ffmpeg_operator.kube.names import cr_name
from ffmpeg_operator.kube.pod import OperatorSettings, build_run_pod
from ffmpeg_operator.kube.spec import KIND, config_from_cr
from ffmpeg_operator.kube.yamltext import dump_documents

__all__ = ["RenderError", "dump_yaml", "load_custom_resources", "render_pods"]


class RenderError(ValueError):
    """A document cannot be rendered; the text names the document."""


def dump_yaml(documents: Iterable[Mapping[str, Any]]) -> str:
    """Documents as one multi-document YAML text, keys in their order."""
    return dump_documents(documents)


def load_custom_resources(text: str) -> list[dict[str, Any]]:
    """The FFmpegProcess objects of a (multi-document) YAML text; other kinds are skipped."""
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as error:
        raise RenderError(f"invalid YAML: {error}") from None
    return [
        document
        for document in documents
        if isinstance(document, dict) and document.get("kind") == KIND
    ]


def render_pods(
    objects: list[dict[str, Any]],
    run: int,
    settings: OperatorSettings,
    namespace: str | None = None,
) -> list[dict[str, Any]]:
    """The Pod of run ``run`` of every object; ``namespace`` fills a missing one."""
    configs: dict[str, ProcessConfig] = {}
    for obj in objects:
        config = _config(obj)
        configs[config.id] = config
    pods = []
    for obj in objects:
        metadata = dict(obj.get("metadata") or {})
        if namespace and not metadata.get("namespace"):
            metadata["namespace"] = namespace
        metadata.setdefault("name", cr_name(_config(obj).id))
        named = {**obj, "metadata": metadata}
        try:
            pods.append(build_run_pod(named, run, settings, configs.get).manifest)
        except ConfigError as error:
            raise RenderError(f"{_name(obj)}: {error}") from None
    return pods


def _config(obj: Mapping[str, Any]) -> ProcessConfig:
    try:
        return config_from_cr(obj)
    except ValueError as error:
        raise RenderError(f"{_name(obj)}: invalid spec: {error}") from None


def _name(obj: Mapping[str, Any]) -> str:
    name = (obj.get("metadata") or {}).get("name", "<unnamed>")
    return f"{KIND} {name}"
