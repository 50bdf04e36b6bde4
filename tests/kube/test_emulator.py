"""The test API server behaves like a real one where the operator and its clients depend on it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import kopf
import kubernetes
import kubernetes_asyncio
import pytest
from emulator import FFMPEG_PROCESSES, KOPF_PEERINGS, PODS, RunningEmulator

from ffmpeg_operator.kube.crd import crd

FFP_PATH = "/apis/ffmpeg-operator.io/v1alpha1/namespaces/default/ffmpegprocesses"
PODS_PATH = "/api/v1/namespaces/default/pods"
MERGE = {"Content-Type": "application/merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}


@pytest.fixture
def http(emulator: RunningEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, timeout=5, verify=False) as client:
        yield client


def ffp(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "ffmpeg-operator.io/v1alpha1",
        "kind": "FFmpegProcess",
        "metadata": {"name": name},
        "spec": spec or {"id": name},
    }


def pod(name: str, labels: dict[str, str] | None = None, **meta: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels or {}, **meta},
        "spec": {"containers": [{"name": "main", "image": "busybox"}]},
    }


def watch_lines(http: httpx.Client, path: str, **params: str) -> list[dict[str, Any]]:
    """The events a watch with ``timeoutSeconds`` streams before the server ends it."""
    response = http.get(path, params={"watch": "true", "timeoutSeconds": "0.15", **params})
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


# --- create ---


def test_create_answers_201_with_server_set_metadata(http: httpx.Client) -> None:
    response = http.post(FFP_PATH, json=ffp("a"))

    assert response.status_code == 201
    meta = response.json()["metadata"]
    assert meta["namespace"] == "default"
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert meta["generation"] == 1
    assert int(meta["resourceVersion"]) > 0


def test_kubernetes_client_create_returns_the_created_object(
    emulator: RunningEmulator, kubeconfig: Path
) -> None:
    kubernetes.config.load_kube_config()
    api = kubernetes.client.CustomObjectsApi()

    created = api.create_namespaced_custom_object(
        "ffmpeg-operator.io", "v1alpha1", "default", "ffmpegprocesses", ffp("a")
    )

    assert (
        created["metadata"]["uid"]
        == emulator.get(FFMPEG_PROCESSES, "default", "a")["metadata"]["uid"]
    )


async def test_kubernetes_asyncio_client_lists_what_was_created(
    emulator: RunningEmulator, kubeconfig: Path
) -> None:
    emulator.create(PODS, pod("p"), "default")
    await kubernetes_asyncio.config.load_kube_config()
    async with kubernetes_asyncio.client.ApiClient() as client:
        pods = await kubernetes_asyncio.client.CoreV1Api(client).list_namespaced_pod("default")

    assert [p.metadata.name for p in pods.items] == ["p"]


def test_generate_name_gets_a_random_suffix(http: httpx.Client) -> None:
    body = ffp("")
    body["metadata"] = {"generateName": "run-"}

    first = http.post(FFP_PATH, json=body).json()["metadata"]["name"]
    second = http.post(FFP_PATH, json=body).json()["metadata"]["name"]

    assert first.startswith("run-") and len(first) == len("run-") + 5
    assert first != second


def test_create_of_an_existing_name_is_409_already_exists(http: httpx.Client) -> None:
    http.post(FFP_PATH, json=ffp("a"))

    response = http.post(FFP_PATH, json=ffp("a"))

    assert response.status_code == 409
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["reason"] == "AlreadyExists"


def test_missing_object_is_404_not_found_with_plain_json_content_type(
    http: httpx.Client,
) -> None:
    response = http.get(f"{FFP_PATH}/nope")

    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["reason"] == "NotFound"


def test_invalid_name_is_422(http: httpx.Client) -> None:
    response = http.post(FFP_PATH, json=ffp("Not_A_DNS_Name"))

    assert response.status_code == 422
    assert response.json()["reason"] == "Invalid"


def test_invalid_label_value_is_422(http: httpx.Client) -> None:
    response = http.post(PODS_PATH, json=pod("p", {"id": "a:b"}))

    assert response.status_code == 422


def test_status_in_a_create_is_dropped_given_the_status_subresource(
    http: httpx.Client,
) -> None:
    body = {**ffp("a"), "status": {"state": "running"}}

    assert "status" not in http.post(FFP_PATH, json=body).json()


# --- updates ---


def test_every_write_bumps_the_resource_version(http: httpx.Client) -> None:
    created = http.post(FFP_PATH, json=ffp("a")).json()

    patched = http.patch(f"{FFP_PATH}/a", json={"spec": {"id": "b"}}, headers=MERGE).json()

    assert int(patched["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])


def test_a_patch_that_changes_nothing_keeps_the_resource_version(http: httpx.Client) -> None:
    created = http.post(FFP_PATH, json=ffp("a", id="a")).json()

    patched = http.patch(f"{FFP_PATH}/a", json={"spec": {"id": "a"}}, headers=MERGE).json()

    assert patched["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_generation_bumps_on_a_spec_change(http: httpx.Client) -> None:
    http.post(FFP_PATH, json=ffp("a"))

    patched = http.patch(f"{FFP_PATH}/a", json={"spec": {"id": "b"}}, headers=MERGE).json()

    assert patched["metadata"]["generation"] == 2


def test_generation_stays_on_a_status_patch(http: httpx.Client) -> None:
    http.post(FFP_PATH, json=ffp("a"))

    patched = http.patch(
        f"{FFP_PATH}/a/status", json={"status": {"state": "running"}}, headers=MERGE
    ).json()

    assert patched["status"] == {"state": "running"}
    assert patched["metadata"]["generation"] == 1


def test_a_write_to_the_object_keeps_the_status(
    emulator: RunningEmulator, http: httpx.Client
) -> None:
    http.post(FFP_PATH, json=ffp("a"))
    emulator.patch_status(FFMPEG_PROCESSES, "default", "a", {"state": "running"})

    patched = http.patch(
        f"{FFP_PATH}/a", json={"status": {"state": "failed"}}, headers=MERGE
    ).json()

    assert patched["status"] == {"state": "running"}


def test_a_write_to_status_changes_only_the_status(http: httpx.Client) -> None:
    http.post(FFP_PATH, json=ffp("a", id="a"))

    patched = http.patch(
        f"{FFP_PATH}/a/status",
        headers=MERGE,
        json={"spec": {"id": "b"}, "status": {"state": "running"}},
    ).json()

    assert patched["spec"] == {"id": "a"}


def test_json_patch_with_a_failed_test_is_422(http: httpx.Client) -> None:
    http.post(FFP_PATH, json=ffp("a"))
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": "1"},
        {"op": "add", "path": "/metadata/finalizers", "value": ["x"]},
    ]

    response = http.patch(f"{FFP_PATH}/a", json=ops, headers=JSON_PATCH)

    assert response.status_code == 422
    assert "finalizers" not in http.get(f"{FFP_PATH}/a").json()["metadata"]


def test_merge_patch_with_a_stale_resource_version_is_409_conflict(http: httpx.Client) -> None:
    created = http.post(FFP_PATH, json=ffp("a")).json()
    stale = created["metadata"]["resourceVersion"]
    http.patch(f"{FFP_PATH}/a", json={"spec": {"id": "b"}}, headers=MERGE)

    response = http.patch(
        f"{FFP_PATH}/a",
        headers=MERGE,
        json={"metadata": {"resourceVersion": stale}, "spec": {"id": "c"}},
    )

    assert response.status_code == 409
    assert response.json()["reason"] == "Conflict"
    assert http.get(f"{FFP_PATH}/a").json()["spec"] == {"id": "b"}


def test_merge_patch_with_the_current_resource_version_applies(http: httpx.Client) -> None:
    created = http.post(FFP_PATH, json=ffp("a")).json()

    response = http.patch(
        f"{FFP_PATH}/a",
        headers=MERGE,
        json={
            "metadata": {"resourceVersion": created["metadata"]["resourceVersion"]},
            "spec": {"id": "c"},
        },
    )

    assert response.status_code == 200
    assert response.json()["spec"] == {"id": "c"}


def test_merge_patch_for_another_uid_is_409_conflict(http: httpx.Client) -> None:
    http.post(FFP_PATH, json=ffp("a"))

    response = http.patch(
        f"{FFP_PATH}/a/status",
        headers=MERGE,
        json={"metadata": {"uid": "an-earlier-incarnation"}, "status": {"state": "running"}},
    )

    assert response.status_code == 409


def test_replace_with_a_stale_resource_version_is_409_conflict(http: httpx.Client) -> None:
    created = http.post(FFP_PATH, json=ffp("a")).json()
    http.patch(f"{FFP_PATH}/a", json={"spec": {"id": "b"}}, headers=MERGE)

    response = http.put(f"{FFP_PATH}/a", json={**created, "spec": {"id": "c"}})

    assert response.status_code == 409


def test_replace_with_the_current_resource_version_replaces_the_spec(
    http: httpx.Client,
) -> None:
    created = http.post(FFP_PATH, json=ffp("a", id="a", extra=1)).json()

    replaced = http.put(f"{FFP_PATH}/a", json={**created, "spec": {"id": "c"}}).json()

    assert replaced["spec"] == {"id": "c"}


def test_strategic_merge_patch_merges_container_statuses_by_name(
    emulator: RunningEmulator, http: httpx.Client
) -> None:
    emulator.create(PODS, pod("p"), "default")
    emulator.patch_status(
        PODS,
        "default",
        "p",
        {"containerStatuses": [{"name": "a", "ready": False}, {"name": "b", "ready": False}]},
    )

    patched = http.patch(
        f"{PODS_PATH}/p/status",
        headers={"Content-Type": "application/strategic-merge-patch+json"},
        json={"status": {"containerStatuses": [{"name": "b", "ready": True}]}},
    )

    assert patched.json()["status"]["containerStatuses"] == [
        {"name": "a", "ready": False},
        {"name": "b", "ready": True},
    ]


# --- lists and watches ---


def test_lists_carry_kind_api_version_and_resource_version(http: httpx.Client) -> None:
    body = http.get(FFP_PATH).json()

    assert body["kind"] == "FFmpegProcessList"
    assert body["apiVersion"] == "ffmpeg-operator.io/v1alpha1"
    assert body["metadata"]["resourceVersion"].isdigit()


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("run=1", ["p1"]),
        ("run!=1", ["p2", "p3"]),
        ("run in (1,2)", ["p1", "p2"]),
        ("run notin (1,2)", ["p3"]),
        ("run", ["p1", "p2"]),
        ("!run", ["p3"]),
        ("run=2,app=x", ["p2"]),
    ],
)
def test_label_selector_filters_lists(
    emulator: RunningEmulator, http: httpx.Client, selector: str, expected: list[str]
) -> None:
    emulator.create(PODS, pod("p1", {"run": "1", "app": "x"}), "default")
    emulator.create(PODS, pod("p2", {"run": "2", "app": "x"}), "default")
    emulator.create(PODS, pod("p3", {"app": "y"}), "default")

    items = http.get(PODS_PATH, params={"labelSelector": selector}).json()["items"]

    assert sorted(i["metadata"]["name"] for i in items) == expected


def test_field_selector_filters_lists(emulator: RunningEmulator, http: httpx.Client) -> None:
    emulator.create(PODS, pod("p1"), "default")
    emulator.create(PODS, pod("p2"), "default")

    items = http.get(PODS_PATH, params={"fieldSelector": "metadata.name=p2"}).json()["items"]

    assert [i["metadata"]["name"] for i in items] == ["p2"]


def test_watch_filters_events_by_label_selector(
    emulator: RunningEmulator, http: httpx.Client
) -> None:
    emulator.create(PODS, pod("p1", {"run": "1"}), "default")
    emulator.create(PODS, pod("p2", {"run": "2"}), "default")

    events = watch_lines(http, PODS_PATH, labelSelector="run=2")

    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "p2")]


def test_watch_reports_an_object_leaving_the_selection_as_deleted(
    emulator: RunningEmulator, http: httpx.Client
) -> None:
    created = emulator.create(PODS, pod("p1", {"run": "1"}), "default")
    emulator.patch(PODS, "default", "p1", {"metadata": {"labels": {"run": "2"}}})

    events = watch_lines(
        http,
        PODS_PATH,
        labelSelector="run=1",
        resourceVersion=created["metadata"]["resourceVersion"],
    )

    assert [e["type"] for e in events] == ["DELETED"]


def test_watch_resumes_after_the_given_resource_version(
    emulator: RunningEmulator, http: httpx.Client
) -> None:
    first = emulator.create(PODS, pod("p1"), "default")
    emulator.create(PODS, pod("p2"), "default")

    events = watch_lines(http, PODS_PATH, resourceVersion=first["metadata"]["resourceVersion"])

    assert [e["object"]["metadata"]["name"] for e in events] == ["p2"]


def test_watch_from_a_forgotten_resource_version_is_410_gone(tmp_path: Path) -> None:
    with RunningEmulator(tmp_path, watch_history_limit=2) as emulator:
        first = emulator.create(PODS, pod("p1"), "default")
        for name in ("p2", "p3", "p4"):
            emulator.create(PODS, pod(name), "default")
        with httpx.Client(base_url=emulator.url, verify=False) as http:
            events = watch_lines(
                http, PODS_PATH, resourceVersion=first["metadata"]["resourceVersion"]
            )

    assert [(e["type"], e["object"]["code"]) for e in events] == [("ERROR", 410)]


def test_watch_streams_changes_while_open(emulator: RunningEmulator) -> None:
    with (
        httpx.Client(base_url=emulator.url, verify=False) as http,
        http.stream("GET", PODS_PATH, params={"watch": "true", "resourceVersion": "1"}) as response,
    ):
        emulator.wait_for(lambda: emulator.watchers(PODS) == 1)
        emulator.create(PODS, pod("p1"), "default")
        line = next(response.iter_lines())

    assert json.loads(line)["type"] == "ADDED"


def test_a_watch_whose_client_went_away_stops_counting(emulator: RunningEmulator) -> None:
    with (
        httpx.Client(base_url=emulator.url, verify=False) as http,
        http.stream("GET", PODS_PATH, params={"watch": "true"}),
    ):
        emulator.wait_for(lambda: emulator.watchers(PODS) == 1)

    emulator.wait_for(lambda: emulator.watchers(PODS) == 0)


def test_watch_with_initial_events_ends_them_with_a_bookmark(
    emulator: RunningEmulator, http: httpx.Client
) -> None:
    emulator.create(PODS, pod("p1"), "default")

    events = watch_lines(
        http, PODS_PATH, sendInitialEvents="true", resourceVersionMatch="NotOlderThan"
    )

    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_a_quiet_watch_that_allows_bookmarks_receives_one_every_bookmark_period(
    emulator: RunningEmulator, http: httpx.Client
) -> None:
    emulator.handler.bookmark_period = 0.05
    version = str(emulator.handler.resource_version)

    events = watch_lines(http, PODS_PATH, resourceVersion=version, allowWatchBookmarks="true")

    assert {e["type"] for e in events} == {"BOOKMARK"} and len(events) >= 2
    assert events[0]["object"]["metadata"]["resourceVersion"] == version


def test_a_quiet_watch_without_bookmarks_allowed_receives_none(
    emulator: RunningEmulator, http: httpx.Client
) -> None:
    emulator.handler.bookmark_period = 0.05
    version = str(emulator.handler.resource_version)

    assert watch_lines(http, PODS_PATH, resourceVersion=version) == []


# --- deletion ---


def test_delete_with_finalizers_only_marks_the_object(
    emulator: RunningEmulator, http: httpx.Client
) -> None:
    http.post(FFP_PATH, json={**ffp("a"), "metadata": {"name": "a", "finalizers": ["x"]}})

    http.delete(f"{FFP_PATH}/a")

    assert emulator.get(FFMPEG_PROCESSES, "default", "a")["metadata"]["deletionTimestamp"]


def test_object_goes_when_its_last_finalizer_is_removed(
    emulator: RunningEmulator, http: httpx.Client
) -> None:
    http.post(FFP_PATH, json={**ffp("a"), "metadata": {"name": "a", "finalizers": ["x"]}})
    http.delete(f"{FFP_PATH}/a")

    http.patch(f"{FFP_PATH}/a", json={"metadata": {"finalizers": []}}, headers=MERGE)

    assert emulator.get(FFMPEG_PROCESSES, "default", "a") is None


def test_deleting_an_owner_deletes_its_pods(emulator: RunningEmulator, http: httpx.Client) -> None:
    owner = http.post(FFP_PATH, json=ffp("a")).json()
    ref = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "controller": True,
        "name": "a",
        "uid": owner["metadata"]["uid"],
    }
    emulator.create(PODS, pod("a-1", ownerReferences=[ref]), "default")
    emulator.create(PODS, pod("other"), "default")

    http.delete(f"{FFP_PATH}/a")

    assert [p["metadata"]["name"] for p in emulator.objects(PODS)] == ["other"]


def test_orphan_propagation_keeps_the_dependents(
    emulator: RunningEmulator, http: httpx.Client
) -> None:
    owner = http.post(FFP_PATH, json=ffp("a")).json()
    ref = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": "a",
        "uid": owner["metadata"]["uid"],
    }
    emulator.create(PODS, pod("a-1", ownerReferences=[ref]), "default")

    http.delete(f"{FFP_PATH}/a", params={"propagationPolicy": "Orphan"})

    assert emulator.get(PODS, "default", "a-1") is not None


def test_graceful_pod_deletion_waits_for_a_zero_grace_delete(
    emulator: RunningEmulator, http: httpx.Client
) -> None:
    emulator.handler.graceful_pod_deletion = True
    emulator.create(PODS, pod("p"), "default")

    http.delete(f"{PODS_PATH}/p")
    terminating = emulator.get(PODS, "default", "p")
    http.delete(f"{PODS_PATH}/p", params={"gracePeriodSeconds": "0"})

    assert terminating["metadata"]["deletionGracePeriodSeconds"] == 30
    assert emulator.get(PODS, "default", "p") is None


def test_delete_collection_deletes_the_selected_objects(
    emulator: RunningEmulator, http: httpx.Client
) -> None:
    emulator.create(PODS, pod("p1", {"run": "1"}), "default")
    emulator.create(PODS, pod("p2", {"run": "2"}), "default")

    http.delete(PODS_PATH, params={"labelSelector": "run=1"})

    assert [p["metadata"]["name"] for p in emulator.objects(PODS)] == ["p2"]


# --- discovery ---


def test_core_discovery_names_group_version_v1(http: httpx.Client) -> None:
    assert http.get("/api/v1").json()["groupVersion"] == "v1"


def test_discovery_lists_ffmpegprocesses_with_short_name_and_status(http: httpx.Client) -> None:
    resources = http.get("/apis/ffmpeg-operator.io/v1alpha1").json()["resources"]

    by_name = {r["name"]: r for r in resources}
    assert by_name["ffmpegprocesses"]["shortNames"] == ["ffp"]
    assert by_name["ffmpegprocesses"]["kind"] == "FFmpegProcess"
    assert by_name["ffmpegprocesses"]["namespaced"] is True
    assert "shortNames" not in by_name["ffmpegprocesses/status"]


def test_version_answers_with_a_trailing_slash(http: httpx.Client) -> None:
    assert http.get("/version/").json()["major"] == "1"


def test_posted_crd_registers_its_resource(http: httpx.Client) -> None:
    definition = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {"name": "v1", "served": True, "storage": True, "subresources": {"status": {}}}
            ],
        },
    }

    crd_status = http.post(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=definition
    ).json()["status"]
    created = http.post(
        "/apis/example.com/v1/namespaces/default/widgets", json={"metadata": {"name": "w"}}
    )

    assert {"type": "Established", "status": "True"}.items() <= crd_status["conditions"][1].items()
    assert created.status_code == 201


def test_the_generated_crd_can_be_posted(http: httpx.Client) -> None:
    response = http.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd())

    assert response.status_code == 201


# --- the emulator itself ---


def test_request_log_stays_capped(emulator: RunningEmulator, http: httpx.Client) -> None:
    for _ in range(80):
        http.get(PODS_PATH)

    assert len(list(emulator.handler)) <= emulator.handler.request_log_limit


def test_a_user_reaction_answers_instead_and_changes_nothing(
    emulator: RunningEmulator, http: httpx.Client
) -> None:
    emulator.handler["post", PODS][:1] << 500

    failed = http.post(PODS_PATH, json=pod("p"))
    retried = http.post(PODS_PATH, json=pod("p"))

    assert (failed.status_code, retried.status_code) == (500, 201)


# --- kopf ---


def _status_registry() -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()

    @kopf.on.create("ffmpeg-operator.io", "v1alpha1", "ffmpegprocesses", registry=registry)
    def created(spec: dict[str, Any], patch: kopf.Patch, **_: Any) -> None:
        patch.status["seenId"] = spec["id"]

    @kopf.on.delete("ffmpeg-operator.io", "v1alpha1", "ffmpegprocesses", registry=registry)
    def deleted(**_: Any) -> None:
        pass

    return registry


def _status_of(emulator: RunningEmulator, name: str) -> dict[str, Any]:
    obj = emulator.get(FFMPEG_PROCESSES, "default", name)
    return (obj or {}).get("status") or {}


def test_kopf_create_handler_patches_the_status(
    emulator: RunningEmulator, kopf_runner_factory: Any
) -> None:
    kopf_runner_factory(_status_registry())

    emulator.create(FFMPEG_PROCESSES, ffp("a", id="abc"), "default")

    emulator.wait_for(lambda: _status_of(emulator, "a").get("seenId") == "abc", 10)


def test_kopf_delete_handler_releases_its_finalizer(
    emulator: RunningEmulator, kopf_runner_factory: Any
) -> None:
    kopf_runner_factory(_status_registry())
    emulator.create(FFMPEG_PROCESSES, ffp("a", id="abc"), "default")
    emulator.wait_for(lambda: _status_of(emulator, "a").get("seenId"), 10)

    emulator.delete(FFMPEG_PROCESSES, "default", "a")

    emulator.wait_for(lambda: emulator.get(FFMPEG_PROCESSES, "default", "a") is None, 10)


def test_kopf_runs_with_a_peering_object(
    emulator: RunningEmulator, kopf_runner_factory: Any
) -> None:
    kopf_runner_factory(_status_registry(), peering="ffmpeg-operator")

    emulator.create(FFMPEG_PROCESSES, ffp("a", id="abc"), "default")

    emulator.wait_for(lambda: _status_of(emulator, "a").get("seenId") == "abc", 10)
    peering = emulator.get(KOPF_PEERINGS, "default", "ffmpeg-operator")
    assert peering.get("status")  # kopf announced itself
