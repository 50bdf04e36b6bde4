"""Run Pod settings from the chart's environment (kube/settings.py)."""

from __future__ import annotations

import pytest

from ffmpeg_operator.kube.pod import OperatorSettings
from ffmpeg_operator.kube.settings import (
    peering_priority,
    rtmp_base_template,
    settings_from_env,
    srt_base_template,
)


def test_the_charts_variables_become_settings() -> None:
    env = {
        "FFMPEG_OPERATOR_IMAGE": "registry.example/ffmpeg-operator:1.2",
        "FFMPEG_OPERATOR_DISKFS_CLAIM": "media-disk",
        "FFMPEG_OPERATOR_DISKFS_PATH": "/diskfs",
        "FFMPEG_OPERATOR_MEMFS_URL": "http://api.media.svc:8080/memfs/",
        "FFMPEG_OPERATOR_RTMP_URL": "rtmp://mediamtx.media.svc:1935",
        "FFMPEG_OPERATOR_SRT_URL": "srt://mediamtx.media.svc:8890",
        "FFMPEG_OPERATOR_NODE_CPUS": "8",
        "FFMPEG_OPERATOR_FFMPEG_VERSION": "7.1",
    }

    settings = settings_from_env(env)

    assert settings.ffmpeg_image == settings.agent_image == "registry.example/ffmpeg-operator:1.2"
    assert (settings.diskfs_pvc, settings.diskfs_mount_path) == ("media-disk", "/diskfs")
    assert settings.memfs_url == "http://api.media.svc:8080/memfs"
    assert settings.rtmp == "rtmp://mediamtx.media.svc:1935/{name}"
    assert settings.srt.startswith("srt://mediamtx.media.svc:8890?mode=caller")
    assert settings.node_cpus == 8
    assert settings.ffmpeg_version == "7.1"


def test_unset_variables_keep_the_defaults() -> None:
    assert settings_from_env({}) == OperatorSettings()


def test_a_node_cpu_count_that_is_no_number_is_refused() -> None:
    with pytest.raises(ValueError, match="NODE_CPUS"):
        settings_from_env({"FFMPEG_OPERATOR_NODE_CPUS": "many"})


@pytest.mark.parametrize(
    ("url", "template"),
    [
        ("rtmp://h:1935", "rtmp://h:1935/{name}"),
        ("rtmp://h:1935/live/", "rtmp://h:1935/live/{name}"),
        ("rtmp://h:1935/live?token=t", "rtmp://h:1935/live/{name}?token=t"),
        ("rtmp://h/app/{name}.stream", "rtmp://h/app/{name}.stream"),
    ],
)
def test_rtmp_urls_become_templates(url: str, template: str) -> None:
    assert rtmp_base_template(url) == template


def test_an_srt_template_is_kept_as_given() -> None:
    assert srt_base_template("srt://h:1?streamid={name}") == "srt://h:1?streamid={name}"


def test_peering_priorities_differ_per_pod_and_stay_the_same() -> None:
    names = [f"ffmpeg-operator-operator-5d8f7c9b4-{suffix}" for suffix in ("x2k4p", "q9z7m")]

    first, second = (peering_priority(name) for name in names)

    assert first != second
    assert peering_priority(names[0]) == first
    assert first > 0
