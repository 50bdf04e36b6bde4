"""The FFmpegProcess spec: datarhei config <-> custom resource (design §2)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from crdschema import CRDSchema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ffmpeg_operator.core.models import ProcessConfig
from ffmpeg_operator.kube.names import ID_HASH_LABEL, cr_name, id_hash
from ffmpeg_operator.kube.spec import (
    API_VERSION,
    KIND,
    KubernetesFields,
    Toleration,
    config_from_cr,
    cr_from_config,
    spec_of,
    stable_io_ids,
)

API_JSON: dict[str, Any] = {
    "id": "restreamer-ui:ingest:abc",
    "type": "ffmpeg",
    "reference": "abc",
    "input": [{"id": "in", "address": "{rtmp,name=abc}", "options": ["-re"]}],
    "output": [
        {
            "id": "hls",
            "address": "{memfs}/abc.m3u8",
            "options": ["-f", "hls"],
            "cleanup": [{"pattern": "memfs:/abc_*.ts", "max_files": 10}],
        }
    ],
    "options": ["-loglevel", "info"],
    "reconnect": True,
    "reconnect_delay_seconds": 15,
    "autostart": False,
    "stale_timeout_seconds": 30,
    "limits": {"cpu_usage": 12.5, "memory_mbytes": 256, "waitfor_seconds": 5},
}


def test_cr_carries_the_config_in_crd_spelling() -> None:
    cr = cr_from_config(ProcessConfig.model_validate(API_JSON), "media")
    spec = cr["spec"]
    assert spec["id"] == API_JSON["id"]
    assert spec["reconnectDelaySeconds"] == 15
    assert spec["staleTimeoutSeconds"] == 30
    assert spec["limits"] == {"cpuUsage": 12.5, "memoryMbytes": 256, "waitforSeconds": 5}
    assert spec["output"][0]["cleanup"][0]["maxFiles"] == 10


def test_cr_is_named_and_labelled_after_the_id() -> None:
    cr = cr_from_config(ProcessConfig.model_validate(API_JSON), "media")
    assert cr["apiVersion"] == API_VERSION
    assert cr["kind"] == KIND
    assert cr["metadata"]["name"] == cr_name(API_JSON["id"])
    assert cr["metadata"]["namespace"] == "media"
    assert cr["metadata"]["labels"][ID_HASH_LABEL] == id_hash(API_JSON["id"])


def test_cr_without_namespace_leaves_it_to_kubectl() -> None:
    cr = cr_from_config(ProcessConfig.model_validate(API_JSON), None)
    assert "namespace" not in cr["metadata"]


@pytest.mark.parametrize(("autostart", "state"), [(True, "running"), (False, "stopped")])
def test_desired_state_defaults_to_autostart(autostart: bool, state: str) -> None:
    config = ProcessConfig.model_validate({**API_JSON, "autostart": autostart})
    assert cr_from_config(config, "media")["spec"]["desiredState"] == state


def test_explicit_desired_state_wins_over_autostart() -> None:
    config = ProcessConfig.model_validate({**API_JSON, "autostart": False})
    assert cr_from_config(config, "media", "running")["spec"]["desiredState"] == "running"


def test_kubernetes_fields_are_added_and_unset_ones_left_out() -> None:
    kube = KubernetesFields(
        desired_state="stopped",
        image="ffmpeg:nvidia",
        node_selector={"gpu": "yes"},
        tolerations=[Toleration(key="gpu", operator="Exists")],
    )
    spec = cr_from_config(ProcessConfig.model_validate(API_JSON), "media", kube=kube)["spec"]
    assert spec["desiredState"] == "stopped"
    assert spec["image"] == "ffmpeg:nvidia"
    assert spec["nodeSelector"] == {"gpu": "yes"}
    assert spec["tolerations"] == [{"key": "gpu", "operator": "Exists"}]
    assert not {"affinity", "resources", "podTemplate", "ffmpegBinary"} & set(spec)


def test_config_from_cr_ignores_the_kubernetes_fields() -> None:
    config = ProcessConfig.model_validate(API_JSON)
    kube = KubernetesFields(image="x", restart_request="1", affinity={"nodeAffinity": {}})
    assert config_from_cr(cr_from_config(config, "media", kube=kube)) == config


def test_spec_of_reads_the_kubernetes_fields() -> None:
    cr = cr_from_config(
        ProcessConfig.model_validate(API_JSON),
        "media",
        kube=KubernetesFields(ffmpeg_binary="/opt/ffmpeg", restart_request="r1"),
    )
    spec = spec_of(cr)
    assert spec.ffmpeg_binary == "/opt/ffmpeg"
    assert spec.restart_request == "r1"


def test_a_process_without_id_cannot_become_a_cr() -> None:
    with pytest.raises(ValueError):
        cr_from_config(ProcessConfig.model_validate({**API_JSON, "id": ""}), "media")


# --------------------------------------------------------------------------- round trip

_text = st.text(max_size=12)
_uint = st.integers(min_value=0, max_value=2**31)
_cleanups = st.fixed_dictionaries(
    {
        "pattern": _text,
        "max_files": _uint,
        "max_file_age_seconds": _uint,
        "purge_on_delete": st.booleans(),
    }
)
_ios = st.fixed_dictionaries(
    {
        "id": _text,
        "address": _text,
        "options": st.lists(_text, max_size=3),
        "cleanup": st.lists(_cleanups, max_size=2),
    }
)
_api_json = st.fixed_dictionaries(
    {
        "id": st.text(min_size=1, max_size=40),
        "type": st.just("ffmpeg"),
        "reference": _text,
        "input": st.lists(_ios, max_size=3),
        "output": st.lists(_ios, max_size=3),
        "options": st.lists(_text, max_size=3),
        "reconnect": st.booleans(),
        "reconnect_delay_seconds": _uint,
        "autostart": st.booleans(),
        "stale_timeout_seconds": _uint,
        "limits": st.fixed_dictionaries(
            {
                "cpu_usage": st.floats(min_value=0, max_value=1000, allow_nan=False),
                "memory_mbytes": _uint,
                "waitfor_seconds": _uint,
            }
        ),
    }
)


def _api_view(config: ProcessConfig) -> Any:
    # What GET /process/{id}/config shows, as JSON text would carry it.
    return json.loads(json.dumps(config.model_dump()))


@given(_api_json)
def test_api_json_to_cr_to_api_json_is_the_identity(api_json: dict[str, Any]) -> None:
    config = ProcessConfig.model_validate(api_json)
    cr = cr_from_config(config, "media")
    stored = json.loads(json.dumps(cr))  # as the API server keeps it
    assert _api_view(config_from_cr(stored)) == _api_view(config)


def _valid_ios(draw: st.DrawFn, with_cleanup: bool) -> list[dict[str, Any]]:
    ids = draw(st.lists(st.text(max_size=8).filter(bool), max_size=3, unique=True))
    count = draw(st.integers(min_value=max(1, len(ids)), max_value=max(1, len(ids)) + 1))
    ios = []
    for index in range(count):
        ios.append(
            {
                "id": ids[index] if index < len(ids) else "",
                "address": draw(st.text(min_size=1, max_size=12).filter(str.strip)),
                "options": draw(st.lists(_text, max_size=2)),
                "cleanup": draw(st.lists(_cleanups, max_size=2)) if with_cleanup else [],
            }
        )
    return ios


@st.composite
def _valid_api_json(draw: st.DrawFn) -> dict[str, Any]:
    api_json = draw(_api_json)
    api_json["id"] = draw(st.text(min_size=1, max_size=40).filter(str.strip))
    api_json["input"] = _valid_ios(draw, with_cleanup=False)
    api_json["output"] = _valid_ios(draw, with_cleanup=True)
    return api_json


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(_valid_api_json())
def test_cr_of_a_valid_config_passes_the_crd_and_its_defaults_change_nothing(
    crd_schema: CRDSchema, api_json: dict[str, Any]
) -> None:
    config = ProcessConfig.model_validate(api_json)
    cr = cr_from_config(config, "media")
    assert crd_schema.errors(cr) == []
    assert config_from_cr(crd_schema.default(cr)) == config


# --------------------------------------------------------------------------- stable IO ids


def _config(**changes: Any) -> ProcessConfig:
    return ProcessConfig.model_validate({**API_JSON, **changes})


def test_stable_io_ids_fill_empty_ids_the_same_way_every_time() -> None:
    config = _config(input=[{"address": "a"}, {"address": "b"}], output=[{"address": "-"}])
    first, second = stable_io_ids(config), stable_io_ids(config)
    assert first == second
    ids = [io.id for io in first.input]
    assert all(len(io_id) == 22 for io_id in ids)
    assert len(set(ids)) == 2


def test_stable_io_ids_keep_given_ids() -> None:
    config = _config(input=[{"id": "cam", "address": "a"}, {"address": "b"}])
    assert stable_io_ids(config).input[0].id == "cam"


def test_stable_io_ids_differ_between_processes() -> None:
    ios = [{"address": "a"}]
    assert (
        stable_io_ids(_config(id="one", input=ios)).input[0].id
        != stable_io_ids(_config(id="two", input=ios)).input[0].id
    )
