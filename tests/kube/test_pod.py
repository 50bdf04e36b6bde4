"""The run Pod of an FFmpegProcess (design §4)."""

from __future__ import annotations

import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import pytest
from kube_examples import EXAMPLE_FILES, all_example_crs, load_documents, minimal_cr
from manifests import assert_valid_manifest
from pss import restricted_violations

from ffmpeg_operator.core.errors import ConfigError
from ffmpeg_operator.core.models import ProcessConfig
from ffmpeg_operator.kube.names import ID_HASH_LABEL, PROCESS_LABEL, RUN_LABEL, id_hash
from ffmpeg_operator.kube.pod import (
    GENERATION_ANNOTATION,
    RESTART_REQUEST_ANNOTATION,
    OperatorSettings,
    RunPod,
    build_run_pod,
)
from ffmpeg_operator.kube.spec import config_from_cr

SETTINGS = OperatorSettings(
    node_cpus=4,
    memfs_url="http://api.media.svc:8080/memfs",
    rtmp="rtmp://mediamtx.media.svc:1935/{name}",
    diskfs_mount_path="/data",
)


def _no_refs(_pid: str) -> ProcessConfig | None:
    return None


def _build(cr: dict[str, Any], run: int = 1, settings: OperatorSettings = SETTINGS) -> RunPod:
    return build_run_pod(cr, run, settings, _no_refs)


def _pod(cr: dict[str, Any], run: int = 1, settings: OperatorSettings = SETTINGS) -> dict[str, Any]:
    return _build(cr, run, settings).manifest


def _container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    containers = pod["spec"]["containers"] + pod["spec"]["initContainers"]
    return next(c for c in containers if c["name"] == name)


OWNER_UID = "0b7a9d3e-1f2c-4d5e-8a6b-7c8d9e0f1a2b"


def _example_pods() -> list[tuple[str, dict[str, Any]]]:
    pods = []
    for path in EXAMPLE_FILES:
        crs = load_documents(path)
        configs = {config_from_cr(cr).id: config_from_cr(cr) for cr in crs}
        for cr in crs:
            owned = {**cr, "metadata": {**cr["metadata"], "uid": OWNER_UID}}
            pods.append(
                (cr["metadata"]["name"], build_run_pod(owned, 3, SETTINGS, configs.get).manifest)
            )
    return pods


EXAMPLE_PODS = _example_pods()


# --------------------------------------------------------------------------- validity


@pytest.mark.parametrize(("name", "pod"), EXAMPLE_PODS, ids=[n for n, _ in EXAMPLE_PODS])
def test_example_pods_pass_the_kubernetes_schema(name: str, pod: dict[str, Any]) -> None:
    assert_valid_manifest(pod)


@pytest.mark.parametrize(("name", "pod"), EXAMPLE_PODS, ids=[n for n, _ in EXAMPLE_PODS])
def test_example_pods_meet_the_restricted_pod_security_standard(
    name: str, pod: dict[str, Any]
) -> None:
    assert restricted_violations(pod) == []


def test_pods_with_a_diskfs_claim_stay_valid_and_restricted() -> None:
    settings = OperatorSettings(diskfs_pvc="ffmpeg-data")
    pod = _pod(minimal_cr(), settings=settings)
    assert_valid_manifest(pod)
    assert restricted_violations(pod) == []
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "diskfs")
    assert volume["persistentVolumeClaim"] == {"claimName": "ffmpeg-data"}


def test_without_a_claim_diskfs_is_an_empty_dir_per_run() -> None:
    volume = next(v for v in _pod(minimal_cr())["spec"]["volumes"] if v["name"] == "diskfs")
    assert volume == {"name": "diskfs", "emptyDir": {}}


# --------------------------------------------------------------------------- identity


def test_pod_is_named_after_the_cr_and_run() -> None:
    assert _pod(minimal_cr(), run=7)["metadata"]["name"] == "minimal-7"


def test_pod_is_labelled_for_lookup_by_id_and_run() -> None:
    metadata = _pod(minimal_cr(), run=7)["metadata"]
    assert metadata["labels"][ID_HASH_LABEL] == id_hash("minimal")
    assert metadata["labels"][PROCESS_LABEL] == "minimal"
    assert metadata["labels"][RUN_LABEL] == "7"
    assert metadata["annotations"]["ffmpeg-operator.io/id"] == "minimal"
    assert metadata["namespace"] == "media"


def test_pod_is_owned_by_the_cr() -> None:
    cr = minimal_cr()
    [owner] = _pod(cr)["metadata"]["ownerReferences"]
    assert owner == {
        "apiVersion": "ffmpeg-operator.io/v1alpha1",
        "kind": "FFmpegProcess",
        "name": "minimal",
        "uid": cr["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def test_a_cr_without_uid_gives_a_pod_without_owner() -> None:
    cr = minimal_cr()
    del cr["metadata"]["uid"]
    assert "ownerReferences" not in _pod(cr)["metadata"]


def test_generation_and_restart_request_are_recorded_on_the_pod() -> None:
    cr = minimal_cr(restartRequest="2025-01-02T03:04:05Z")
    cr["metadata"]["generation"] = 4
    annotations = _pod(cr)["metadata"]["annotations"]
    assert annotations[GENERATION_ANNOTATION] == "4"
    assert annotations[RESTART_REQUEST_ANNOTATION] == "2025-01-02T03:04:05Z"


def test_the_same_cr_always_gives_the_same_pod() -> None:
    cr = minimal_cr(input=[{"address": "testsrc", "options": ["-f", "lavfi"]}])
    cr["spec"]["output"] = [{"address": "{diskfs}/{outputid}.ts"}]
    assert _pod(cr) == _pod(cr)


# --------------------------------------------------------------------------- run model


def test_each_run_is_a_pod_that_is_never_restarted_in_place() -> None:
    spec = _pod(minimal_cr())["spec"]
    assert spec["restartPolicy"] == "Never"
    assert spec["shareProcessNamespace"] is True


def test_ffmpeg_runs_the_compiled_argv_in_exec_form_with_progress_to_the_agent() -> None:
    run_pod = _build(minimal_cr())
    ffmpeg = _container(run_pod.manifest, "ffmpeg")
    assert ffmpeg["command"] == ["ffmpeg"]
    assert ffmpeg["args"] == [
        "-nostdin", "-progress", "tcp://127.0.0.1:9555",
        "-vstats_file", "/tmp/ffmpeg-stats.fifo",
        "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-f", "null", "-",
    ]  # fmt: skip
    assert ffmpeg["args"][5:] == run_pod.prepared.command


def test_ffmpeg_reports_to_the_fifos_the_agent_makes_in_the_shared_tmp() -> None:
    pod = _pod(minimal_cr())
    ffmpeg, agent = _container(pod, "ffmpeg"), _container(pod, "agent")
    options = dict(zip(agent["args"][::2], agent["args"][1::2], strict=True))
    env = {var["name"]: var["value"] for var in ffmpeg["env"]}

    assert env["FFREPORT"] == f"file={options['--report-fifo']}:level=32"
    assert ffmpeg["args"][ffmpeg["args"].index("-vstats_file") + 1] == options["--stats-fifo"]
    for path in (options["--report-fifo"], options["--stats-fifo"]):
        assert path.startswith("/tmp/")
    assert {"name": "tmp", "mountPath": "/tmp"} in agent["volumeMounts"]
    assert {"name": "tmp", "mountPath": "/tmp"} in ffmpeg["volumeMounts"]


def test_the_agent_is_a_native_sidecar_started_before_ffmpeg() -> None:
    spec = _pod(minimal_cr())["spec"]
    [agent] = spec["initContainers"]
    assert agent["name"] == "agent"
    assert agent["restartPolicy"] == "Always"
    assert agent["command"] == ["ffmpeg-operator", "agent"]
    assert agent["startupProbe"]["httpGet"] == {"path": "/healthz", "port": 9556}


def test_the_agent_gets_the_id_stale_timeout_limits_and_ports() -> None:
    cr = minimal_cr(
        id="minimal",
        staleTimeoutSeconds=20,
        limits={"cpuUsage": 12.5, "memoryMbytes": 256, "waitforSeconds": 10},
    )
    args = _container(_pod(cr), "agent")["args"]
    options = dict(zip(args[::2], args[1::2], strict=True))
    assert options["--process-id"] == "minimal"
    assert options["--stale-timeout-seconds"] == "20"
    assert options["--limit-cpu-usage"] == "12.5"
    assert options["--limit-memory-mbytes"] == "256"
    assert options["--limit-waitfor-seconds"] == "10"
    assert options["--cpu-capacity"] == "4"
    assert options["--progress-port"] == "9555"
    assert options["--http-port"] == "9556"
    assert options["--ffmpeg"] == "ffmpeg"


def test_ffmpeg_accepts_the_progress_url_the_pod_gives_it(tmp_path: Path) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    settings = OperatorSettings(progress_port=port)
    cr = minimal_cr(
        input=[{"address": "testsrc=size=160x120:rate=10", "options": ["-f", "lavfi", "-t", "0.5"]}]
    )
    args = _container(_pod(cr, settings=settings), "ffmpeg")["args"]
    received: list[bytes] = []

    def receive() -> None:
        connection, _ = listener.accept()
        with connection:
            while chunk := connection.recv(4096):
                received.append(chunk)

    receiver = threading.Thread(target=receive, daemon=True)
    receiver.start()
    done = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), *args],
        cwd=tmp_path,
        capture_output=True,
        timeout=30,
        check=False,
    )
    receiver.join(timeout=10)
    listener.close()
    assert done.returncode == 0, done.stderr[-500:]
    assert b"progress=end" in b"".join(received)


# --------------------------------------------------------------------------- placeholders


def test_placeholders_resolve_to_kubernetes_settings() -> None:
    cr = minimal_cr(
        input=[{"id": "in", "address": "{rtmp,name=cam}"}],
        output=[
            {"id": "hls", "address": "{memfs}/{processid}.m3u8"},
            {"id": "file", "address": "{diskfs}/{processid}.mp4"},
        ],
    )
    args = _container(_pod(cr), "ffmpeg")["args"]
    assert "rtmp://mediamtx.media.svc:1935/cam" in args
    assert "http://api.media.svc:8080/memfs/minimal.m3u8" in args
    assert "/data/minimal.mp4" in args


def test_ffmpeg_works_in_the_diskfs_volume() -> None:
    ffmpeg = _container(_pod(minimal_cr()), "ffmpeg")
    assert ffmpeg["workingDir"] == "/data"
    assert {"name": "diskfs", "mountPath": "/data"} in ffmpeg["volumeMounts"]


def test_a_file_output_outside_diskfs_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not inside of /data"):
        _build(minimal_cr(output=[{"id": "o", "address": "/etc/passwd"}]))


def test_references_resolve_to_the_other_process_output() -> None:
    source = ProcessConfig.model_validate(
        {"id": "src", "output": [{"id": "out", "address": "{rtmp,name=program}"}]}
    )
    cr = minimal_cr(input=[{"id": "in", "address": "#src:output=out"}])
    run_pod = build_run_pod(cr, 1, SETTINGS, {"src": source}.get)
    assert (
        "rtmp://mediamtx.media.svc:1935/program" in _container(run_pod.manifest, "ffmpeg")["args"]
    )


def test_an_unknown_reference_is_a_config_error() -> None:
    cr = minimal_cr(input=[{"id": "in", "address": "#nowhere:output=out"}])
    with pytest.raises(ConfigError, match="unknown process 'nowhere'"):
        _build(cr)


# --------------------------------------------------------------------------- resources


def _resources(cr: dict[str, Any], settings: OperatorSettings = SETTINGS) -> dict[str, Any]:
    resources: dict[str, Any] = _container(_pod(cr, settings=settings), "ffmpeg")["resources"]
    return resources


def test_cpu_usage_is_a_share_of_the_node_with_headroom_for_the_limit() -> None:
    resources = _resources(minimal_cr(limits={"cpuUsage": 50}))
    assert resources["requests"]["cpu"] == "2000m"  # 50 % of 4 CPUs
    assert resources["limits"]["cpu"] == "2500m"  # x 1.25


def test_memory_mbytes_is_the_request_with_headroom_for_the_limit() -> None:
    resources = _resources(minimal_cr(limits={"memoryMbytes": 100}))
    assert resources["requests"]["memory"] == "100Mi"
    assert resources["limits"]["memory"] == "125Mi"


def test_without_limits_the_default_requests_apply() -> None:
    assert _resources(minimal_cr()) == {"requests": {"cpu": "100m", "memory": "64Mi"}}


def test_resources_override_key_by_key() -> None:
    cr = minimal_cr(
        limits={"cpuUsage": 50, "memoryMbytes": 100},
        resources={"limits": {"memory": "1Gi", "nvidia.com/gpu": 1}},
    )
    resources = _resources(cr)
    assert resources["limits"] == {"cpu": "2500m", "memory": "1Gi", "nvidia.com/gpu": 1}
    assert resources["requests"] == {"cpu": "2000m", "memory": "100Mi"}


def test_a_request_above_an_overridden_limit_is_lowered_to_it() -> None:
    resources = _resources(minimal_cr(resources={"limits": {"cpu": "50m"}}))
    assert resources["requests"]["cpu"] == "50m"


# --------------------------------------------------------------------------- overrides


def test_image_and_binary_come_from_the_spec_before_the_settings() -> None:
    ffmpeg = _container(_pod(minimal_cr(image="ffmpeg:nvidia", ffmpegBinary="/opt/ff")), "ffmpeg")
    assert (ffmpeg["image"], ffmpeg["command"]) == ("ffmpeg:nvidia", ["/opt/ff"])
    settings = OperatorSettings(ffmpeg_image="ffmpeg:7", ffmpeg_binary="/usr/bin/ffmpeg")
    ffmpeg = _container(_pod(minimal_cr(), settings=settings), "ffmpeg")
    assert (ffmpeg["image"], ffmpeg["command"]) == ("ffmpeg:7", ["/usr/bin/ffmpeg"])


def test_scheduling_fields_are_passed_to_the_pod() -> None:
    affinity: dict[str, Any] = {
        "nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": []}
    }
    cr = minimal_cr(
        nodeSelector={"gpu": "true"},
        tolerations=[{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
        affinity=affinity,
    )
    spec = _pod(cr)["spec"]
    assert spec["nodeSelector"] == {"gpu": "true"}
    assert spec["tolerations"] == [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert spec["affinity"] == affinity


def test_pod_template_metadata_is_added_but_the_operators_labels_win() -> None:
    template = {"metadata": {"labels": {"team": "video", RUN_LABEL: "99"}}}
    labels = _pod(minimal_cr(podTemplate=template))["metadata"]["labels"]
    assert labels["team"] == "video"
    assert labels[RUN_LABEL] == "1"


def test_pod_template_spec_merges_containers_by_name() -> None:
    template = {
        "spec": {
            "priorityClassName": "media-high",
            "containers": [{"name": "ffmpeg", "env": [{"name": "TZ", "value": "UTC"}]}],
            "volumes": [{"name": "fonts", "configMap": {"name": "fonts"}}],
        }
    }
    pod = _pod(minimal_cr(podTemplate=template))
    ffmpeg = _container(pod, "ffmpeg")
    assert pod["spec"]["priorityClassName"] == "media-high"
    assert {"name": "TZ", "value": "UTC"} in ffmpeg["env"]
    assert {"name": "HOME", "value": "/tmp"} in ffmpeg["env"]
    assert [v["name"] for v in pod["spec"]["volumes"]] == ["tmp", "diskfs", "fonts"]
    assert_valid_manifest(pod)


def test_pod_template_cannot_change_the_run_model_or_the_command() -> None:
    template = {
        "spec": {
            "restartPolicy": "Always",
            "shareProcessNamespace": False,
            "containers": [{"name": "ffmpeg", "args": ["-version"]}],
            "initContainers": [{"name": "agent", "restartPolicy": "OnFailure"}],
        }
    }
    pod = _pod(minimal_cr(podTemplate=template))
    assert pod["spec"]["restartPolicy"] == "Never"
    assert pod["spec"]["shareProcessNamespace"] is True
    assert _container(pod, "ffmpeg")["args"][-1] == "-"
    assert _container(pod, "agent")["restartPolicy"] == "Always"


def test_explicit_node_selector_wins_over_the_template() -> None:
    template = {"spec": {"nodeSelector": {"zone": "a", "gpu": "false"}}}
    spec = _pod(minimal_cr(podTemplate=template, nodeSelector={"gpu": "true"}))["spec"]
    assert spec["nodeSelector"] == {"zone": "a", "gpu": "true"}


def test_example_crs_all_build() -> None:
    assert len(EXAMPLE_PODS) == len(all_example_crs())


def test_the_agent_listens_where_ffmpeg_sends_its_progress() -> None:
    pod = _pod(minimal_cr())
    agent_args = _container(pod, "agent")["args"]
    options = dict(zip(agent_args[::2], agent_args[1::2], strict=True))
    ffmpeg_args = _container(pod, "ffmpeg")["args"]

    url = ffmpeg_args[ffmpeg_args.index("-progress") + 1]
    assert url == f"tcp://{options['--progress-host']}:{options['--progress-port']}"
    # Spelled out, so that a test kubelet can give each Pod its own loopback address.
    assert options["--progress-host"] == "127.0.0.1"
    assert options["--http-host"] == "0.0.0.0"
    assert options["--termination-message-path"] == "/dev/termination-log"


def test_an_image_of_ffmpeg_6_1_or_later_writes_stats_of_every_encoded_stream() -> None:
    settings = OperatorSettings(ffmpeg_version="7.1")
    args = _container(_pod(minimal_cr(), settings=settings), "ffmpeg")["args"]

    assert "-vstats_file" not in args
    at = args.index("-stats_mux_pre")
    assert args[at : at + 3] == ["-stats_mux_pre", "/tmp/ffmpeg-stats.fifo", "-stats_mux_pre_fmt"]
    assert args[at + 4 :] == ["-f", "null", "-"]  # the output's own options and address


def test_a_process_with_its_own_image_gets_the_stats_every_ffmpeg_has() -> None:
    settings = OperatorSettings(ffmpeg_version="7.1")
    args = _container(_pod(minimal_cr(image="example/ffmpeg:4.4"), settings=settings), "ffmpeg")[
        "args"
    ]

    assert "-stats_mux_pre" not in args
    assert args[args.index("-vstats_file") + 1] == "/tmp/ffmpeg-stats.fifo"
