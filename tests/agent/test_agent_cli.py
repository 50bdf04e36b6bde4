"""The ``ffmpeg-operator agent`` command line, as the Pod builder writes it."""

from __future__ import annotations

import json

from ffmpeg_operator.cli import app
from ffmpeg_operator.core.models import Limits, ProcessConfig
from ffmpeg_operator.core.prepare import PreparedProcess
from ffmpeg_operator.kube.pod import OperatorSettings, agent_args


def test_the_pod_builders_agent_arguments_parse_into_the_run_settings() -> None:
    config = ProcessConfig(
        id="cam1",
        stale_timeout_seconds=7,
        limits=Limits(cpu_usage=50, memory_mbytes=256, waitfor_seconds=3),
    )
    command = ["-i", "in", "-f", "null", "-"]
    prepared = PreparedProcess(config=config, resolved=config, command=command)
    settings = OperatorSettings(node_cpus=4)

    context = app.commands["agent"].make_context("agent", agent_args(prepared, "ffmpeg", settings))

    params = context.params
    assert params["process_id"] == "cam1"
    assert params["progress_port"] == settings.progress_port
    assert params["http_port"] == settings.agent_port
    assert params["ffmpeg"] == "ffmpeg"
    assert params["stale_timeout_seconds"] == 7
    assert params["limit_cpu_usage"] == 50
    assert params["limit_memory_mbytes"] == 256
    assert params["limit_waitfor_seconds"] == 3
    assert params["cpu_capacity"] == 4
    assert json.loads(params["command_json"]) == command
