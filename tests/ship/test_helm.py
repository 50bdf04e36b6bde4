"""The Helm chart, rendered and linted offline with helm-python-sdk (Helm v4, no binary).

Every value set below is rendered once per module; every rendered object of a built-in kind is
validated against the Kubernetes 1.33 OpenAPI schema (``kubernetes-validate``, strict: unknown
fields fail), custom objects are checked structurally.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml
from helm_python import _native

from ffmpeg_operator.core.models import ProcessConfig
from ffmpeg_operator.kube.pod import OperatorSettings, build_run_pod
from ffmpeg_operator.kube.settings import settings_from_env
from ffmpeg_operator.kube.spec import cr_from_config

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "ffmpeg-operator"
RELEASE = "media"
NAMESPACE = "streaming"
KUBE_VERSION = "1.33"
FULLNAME = f"{RELEASE}-ffmpeg-operator"
API = f"{FULLNAME}-api"
OPERATOR = f"{FULLNAME}-operator"
#: Cluster-scoped names carry the release namespace (shared by every release of the cluster).
CLUSTER_OPERATOR_ROLE = f"{NAMESPACE}-{OPERATOR}"
SECRET_HOOK = f"{FULLNAME}-secret-hook"
DRAIN_HOOK = f"{FULLNAME}-drain"

VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "existing-claim": {"diskfs": {"existingClaim": "shared-media"}},
    "shared-claim": {"diskfs": {"type": "claim"}},
    "ingress": {
        "api": {
            "ingress": {
                "enabled": True,
                "className": "nginx",
                "hosts": [
                    {"host": "ffmpeg.example.org", "paths": [{"path": "/", "pathType": "Prefix"}]}
                ],
                "tls": [{"secretName": "ffmpeg-tls", "hosts": ["ffmpeg.example.org"]}],
            }
        }
    },
    "monitoring": {
        "metrics": {
            "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
            "podMonitor": {"enabled": True},
        }
    },
    "existing-secret": {"auth": {"existingSecret": "ffmpeg-credentials"}},
    "cluster-wide": {
        "operator": {"clusterWide": True},
        "metrics": {"podMonitor": {"enabled": True}},
    },
    "customized": {
        "imagePullSecrets": [{"name": "registry"}],
        "fullnameOverride": "ffo",
        "operator": {
            "replicas": 1,
            "peering": {"name": "ffmpeg", "priority": 100},
            "serviceAccount": {"annotations": {"iam.example.org/role": "ffmpeg"}},
            "podAnnotations": {"example.org/team": "video"},
            "podLabels": {"team": "video"},
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "video", "operator": "Exists", "effect": "NoSchedule"}],
            "affinity": {
                "nodeAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {
                            "weight": 1,
                            "preference": {
                                "matchExpressions": [
                                    {"key": "video", "operator": "In", "values": ["yes"]}
                                ]
                            },
                        }
                    ]
                }
            },
            "extraArgs": ["--verbose"],
            "extraEnv": [{"name": "TZ", "value": "UTC"}],
        },
        "api": {
            "service": {
                "type": "LoadBalancer",
                "port": 80,
                "annotations": {"a.example.org/x": "y"},
            },
            "serviceAccount": {"create": False, "name": "shared"},
            "extraEnv": [
                {"name": "LOG", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}
            ],
            "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": 1, "memory": "1Gi"}},
        },
    },
    "media-server": {
        "mediaServer": {
            "rtmp": "rtmp://mediamtx.media.svc:1935",
            "srt": "srt://mediamtx.media.svc:8890",
        },
        "auth": {"enabled": False},
        "runPods": {"image": "registry.example.org/ffmpeg-gpu:7.1"},
        "diskfs": {"type": "claim", "storageClass": "cephfs", "size": "50Gi"},
    },
}

#: Kinds kubernetes-validate has no schema for, and what a cluster must serve for them.
CUSTOM_KINDS = {
    "ServiceMonitor": ("monitoring.coreos.com/v1", True),
    "PodMonitor": ("monitoring.coreos.com/v1", True),
    "KopfPeering": ("kopf.dev/v1", True),
    "ClusterKopfPeering": ("kopf.dev/v1", False),
}
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


# --------------------------------------------------------------------------- rendering


@pytest.fixture(scope="module")
def chart() -> Iterator[helm_python.Chart]:
    with helm_python.Chart.load(CHART) as loaded:
        yield loaded


#: What a cluster with the Prometheus Operator serves beyond the built-in APIs.
PROMETHEUS_OPERATOR = (
    "monitoring.coreos.com/v1/ServiceMonitor",
    "monitoring.coreos.com/v1/PodMonitor",
)


@functools.cache
def _render_text(
    values_json: str, release: str, api_versions: tuple[str, ...] = PROMETHEUS_OPERATOR
) -> dict[str, str]:
    # Chart.render has no api_versions argument, the native call it wraps has: it is what
    # `helm template --api-versions` and Argo CD (the cluster's API versions) pass to
    # .Capabilities.APIVersions.
    options = {"name": release, "namespace": NAMESPACE, "api_versions": list(api_versions)}
    with helm_python.Chart.load(CHART) as loaded:
        loaded.validate_schema(json.loads(values_json))
        text = _native.call_string("helm_render", loaded._raw(), values_json, json.dumps(options))
    manifests: dict[str, str] = json.loads(text)
    return manifests


def render(
    values: dict[str, Any],
    release: str = RELEASE,
    api_versions: tuple[str, ...] = PROMETHEUS_OPERATOR,
) -> list[dict[str, Any]]:
    """Every object the chart renders with ``values`` for a cluster serving ``api_versions``
    (by default one with the Prometheus Operator), in template order."""
    manifests = _render_text(json.dumps(values, sort_keys=True), release, api_versions)
    return [
        document
        for path, text in sorted(manifests.items())
        if not path.endswith("NOTES.txt")
        for document in yaml.safe_load_all(text)
        if document
    ]


def notes(values: dict[str, Any]) -> str:
    manifests = _render_text(json.dumps(values, sort_keys=True), RELEASE)
    return next(text for path, text in manifests.items() if path.endswith("NOTES.txt"))


def objects(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [doc for doc in objects(docs, kind) if name is None or doc["metadata"]["name"] == name]
    assert len(found) == 1, f"{len(found)} {kind} objects named {name}"
    return found[0]


def container(docs: list[dict[str, Any]], deployment: str) -> dict[str, Any]:
    pod = one(docs, "Deployment", deployment)["spec"]["template"]["spec"]
    (only,) = pod["containers"]
    return only


def env(docs: list[dict[str, Any]], deployment: str) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container(docs, deployment).get("env", [])}


def env_values(docs: list[dict[str, Any]], deployment: str) -> dict[str, str]:
    return {name: item["value"] for name, item in env(docs, deployment).items() if "value" in item}


def rules(role: dict[str, Any]) -> set[tuple[str, str, tuple[str, ...]]]:
    """A Role's rules as (apiGroup, resource, sorted verbs), one per group and resource."""
    flat = set()
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                flat.add((group, resource, tuple(sorted(rule["verbs"]))))
    return flat


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


# --------------------------------------------------------------------------- lint and schema


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_chart_passes_strict_lint(value_set: str) -> None:
    report = helm_python.lint(
        CHART, VALUE_SETS[value_set], strict=True, namespace=NAMESPACE,
        kube_version=f"v{KUBE_VERSION}.0",
    )  # fmt: skip
    # The one finding left is Helm's INFO "icon is recommended": the project hosts no icon.
    findings = [m for m in report["messages"] if m["error"] != "icon is recommended"]
    assert findings == [], findings
    assert report["errors"] == []


def test_values_schema_accepts_the_defaults(chart: helm_python.Chart) -> None:
    chart.validate_schema(chart.values)


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"operatr": {"replicas": 2}}, id="unknown-top-level-key"),
        pytest.param({"operator": {"replica": 2}}, id="misspelt-nested-key"),
        pytest.param({"operator": {"replicas": "two"}}, id="replicas-not-a-number"),
        pytest.param({"image": {"pullPolicy": "Sometimes"}}, id="pull-policy-not-an-enum"),
        pytest.param({"nodeCpus": 0}, id="node-cpus-zero"),
        pytest.param({"memfs": {"url": "api:8080/memfs"}}, id="memfs-url-without-scheme"),
        pytest.param({"mediaServer": {"srt": "rtmp://x:1935"}}, id="srt-with-rtmp-scheme"),
        pytest.param({"diskfs": {"accessModes": []}}, id="no-access-mode"),
        pytest.param({"diskfs": {"size": "lots"}}, id="size-not-a-quantity"),
        pytest.param({"api": {"service": {"port": 70000}}}, id="port-out-of-range"),
        pytest.param({"metrics": {"serviceMonitor": {"interval": "often"}}}, id="bad-interval"),
        # Peers of equal priority all pause: a fixed priority only suits a single replica.
        pytest.param({"operator": {"peering": {"priority": 100}}}, id="fixed-priority-2-replicas"),
    ],
)
def test_values_schema_rejects_bad_values(chart: helm_python.Chart, values: dict) -> None:
    with pytest.raises(helm_python.HelmValuesError):
        chart.validate_schema(values)
    # An install renders with the same check, so a bad value never reaches the cluster.
    with pytest.raises(helm_python.HelmValuesError):
        chart.render(values, name=RELEASE, namespace=NAMESPACE)


# --------------------------------------------------------------------------- validity


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_every_built_in_object_validates_against_kubernetes(value_set: str) -> None:
    for doc in render(VALUE_SETS[value_set]):
        if doc["kind"] in CUSTOM_KINDS:
            continue
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_custom_objects_are_well_formed(value_set: str) -> None:
    for doc in render(VALUE_SETS[value_set]):
        if doc["kind"] not in CUSTOM_KINDS:
            continue
        api_version, namespaced = CUSTOM_KINDS[doc["kind"]]
        assert doc["apiVersion"] == api_version
        assert DNS_SUBDOMAIN.match(doc["metadata"]["name"])
        assert ("namespace" in doc["metadata"]) == namespaced
        assert set(doc) <= {"apiVersion", "kind", "metadata", "spec"}


@pytest.mark.parametrize("value_set", ["defaults", "cluster-wide"])
def test_peering_object_is_served_by_a_chart_crd_of_its_scope(value_set: str) -> None:
    served = {
        (f"{doc['spec']['group']}/{version['name']}", doc["spec"]["names"]["kind"]): doc
        for doc in _crd_documents()
        for version in doc["spec"]["versions"]
        if version["served"]
    }
    (peering,) = [d for d in render(VALUE_SETS[value_set]) if d["kind"].endswith("KopfPeering")]
    crd = served[(peering["apiVersion"], peering["kind"])]
    assert ("namespace" in peering["metadata"]) == (crd["spec"]["scope"] == "Namespaced")
    # kopf writes only the status; the object carries nothing else.
    assert set(peering) == {"apiVersion", "kind", "metadata"}


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_every_object_lives_in_the_release_namespace(value_set: str) -> None:
    for doc in render(VALUE_SETS[value_set]):
        scoped = doc["kind"] in CLUSTER_SCOPED or doc["kind"] == "ClusterKopfPeering"
        assert doc["metadata"].get("namespace") == (None if scoped else NAMESPACE), doc["kind"]


def test_names_fit_kubernetes_limits_with_the_longest_release_name() -> None:
    docs = render(VALUE_SETS["monitoring"], release="r" * 53)
    for doc in docs:
        name = doc["metadata"]["name"]
        assert len(name) <= 63 and DNS_LABEL.match(name), name


# --------------------------------------------------------------------------- CRDs


def _crd_documents() -> list[dict[str, Any]]:
    return [
        document
        for path in sorted((CHART / "crds").glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]


def test_chart_crd_is_identical_to_the_generated_crd() -> None:
    generated = ROOT / "crds" / "ffmpegprocesses.yaml"
    copy = CHART / "crds" / "ffmpegprocesses.yaml"
    assert copy.read_bytes() == generated.read_bytes(), (
        "helm/ffmpeg-operator/crds/ffmpegprocesses.yaml is stale: "
        "cp crds/ffmpegprocesses.yaml helm/ffmpeg-operator/crds/"
    )


def test_kustomize_crds_are_the_charts() -> None:
    # crds/ is what deploy/base includes; the chart's crds/ what Helm installs.
    for path in sorted((CHART / "crds").glob("*.yaml")):
        assert (ROOT / "crds" / path.name).read_bytes() == path.read_bytes(), (
            f"crds/{path.name} is stale: cp {path.relative_to(ROOT)} crds/"
        )


def test_chart_crds_validate_against_kubernetes() -> None:
    documents = _crd_documents()
    assert {doc["metadata"]["name"] for doc in documents} == {
        "ffmpegprocesses.ffmpeg-operator.io",
        "kopfpeerings.kopf.dev",
        "clusterkopfpeerings.kopf.dev",
    }
    for document in documents:
        kubernetes_validate.validate(document, KUBE_VERSION, strict=True)


def test_peering_crds_serve_what_kopf_looks_for() -> None:
    from kopf._cogs.structs import references

    served = [
        (references.Resource(
            group=doc["spec"]["group"], version=version["name"],
            plural=doc["spec"]["names"]["plural"], kind=doc["spec"]["names"]["kind"],
            singular=doc["spec"]["names"]["singular"],
            namespaced=doc["spec"]["scope"] == "Namespaced",
        ), version)
        for doc in _crd_documents()
        for version in doc["spec"]["versions"]
        if version["served"]
    ]  # fmt: skip
    for selector, namespaced in [
        (references.NAMESPACED_PEERINGS_K, True),
        (references.CLUSTER_PEERINGS_K, False),
    ]:
        ((resource, version),) = [(r, v) for r, v in served if selector.check(r)]
        assert resource.namespaced is namespaced
        # kopf patches the status of the object itself: a status subresource would drop it.
        assert "subresources" not in version
        status = version["schema"]["openAPIV3Schema"]["properties"]["status"]
        assert status["x-kubernetes-preserve-unknown-fields"] is True


# --------------------------------------------------------------------------- Pods


@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_every_deployment_pod_meets_pod_security_restricted(
    value_set: str, restricted_violations: Callable[[dict[str, Any]], list[str]]
) -> None:
    deployments = objects(render(VALUE_SETS[value_set]), "Deployment")
    assert len(deployments) == 2
    for deployment in deployments:
        pod = deployment["spec"]["template"]
        assert restricted_violations(pod) == [], deployment["metadata"]["name"]
        for item in pod["spec"]["containers"]:
            assert item["securityContext"]["readOnlyRootFilesystem"] is True


def test_every_container_has_liveness_and_readiness_probes_on_its_own_ports() -> None:
    # The image declares HEALTHCHECK NONE and leaves probes to the chart.
    for deployment in objects(render({}), "Deployment"):
        for item in deployment["spec"]["template"]["spec"]["containers"]:
            ports = {port["name"] for port in item["ports"]}
            for probe in ("livenessProbe", "readinessProbe"):
                assert item[probe]["httpGet"]["port"] in ports, (item["name"], probe)


def test_deployment_selectors_match_their_own_pods_only() -> None:
    deployments = objects(render({}), "Deployment")
    for deployment in deployments:
        selector = deployment["spec"]["selector"]["matchLabels"]
        for other in deployments:
            labels = other["spec"]["template"]["metadata"]["labels"]
            assert selects(selector, labels) == (other is deployment)


def test_api_service_routes_to_the_api_pods_http_port() -> None:
    docs = render({})
    service = one(docs, "Service", API)
    pod = one(docs, "Deployment", API)["spec"]["template"]
    assert selects(service["spec"]["selector"], pod["metadata"]["labels"])
    (port,) = service["spec"]["ports"]
    assert port["targetPort"] in {p["name"] for p in pod["spec"]["containers"][0]["ports"]}


# --------------------------------------------------------------------------- operator


def test_operator_runs_two_peering_replicas_with_kopf_liveness() -> None:
    docs = render({})
    deployment = one(docs, "Deployment", OPERATOR)
    assert deployment["spec"]["replicas"] == 2
    args = container(docs, OPERATOR)["args"]
    assert args[0] == "operator"
    assert "--liveness=http://0.0.0.0:8080/healthz" in args
    peering = one(docs, "KopfPeering")
    assert f"--peering={peering['metadata']['name']}" in args
    assert f"--namespace={NAMESPACE}" in args
    assert not any(arg.startswith("--priority") for arg in args)
    assert "--standalone" not in args
    probe = container(docs, OPERATOR)["livenessProbe"]["httpGet"]
    assert probe["path"] == "/healthz"
    # Not ready while the operator waits for its CRDs (operator.startup), alive meanwhile.
    ready = container(docs, OPERATOR)["readinessProbe"]["httpGet"]
    assert (ready["path"], ready["port"]) == ("/healthz?ready", probe["port"])
    assert container(docs, OPERATOR)["ports"] == [
        {"name": probe["port"], "containerPort": 8080, "protocol": "TCP"}
    ]


def test_operator_replicas_get_their_pod_name_for_distinct_peering_priorities() -> None:
    pod_name = env(render({}), OPERATOR)["FFMPEG_OPERATOR_POD_NAME"]
    assert pod_name["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def test_operator_role_grants_exactly_what_kopf_and_run_pods_need() -> None:
    role = one(render({}), "Role", OPERATOR)
    assert rules(role) == {
        ("ffmpeg-operator.io", "ffmpegprocesses", ("get", "list", "patch", "update", "watch")),
        ("ffmpeg-operator.io", "ffmpegprocesses/status", ("get", "patch", "update")),
        ("ffmpeg-operator.io", "ffmpegprocesses/finalizers", ("update",)),
        ("", "pods", ("create", "delete", "get", "list", "patch", "watch")),
        ("", "pods/log", ("get",)),
        ("", "events", ("create", "patch")),
        ("kopf.dev", "kopfpeerings", ("get", "list", "patch", "watch")),
    }


@pytest.mark.parametrize("value_set", ["defaults", "cluster-wide"])
def test_operator_may_set_block_owner_deletion_on_the_run_pods_it_creates(value_set: str) -> None:
    # OwnerReferencesPermissionEnforcement: an ownerReference with blockOwnerDeletion needs
    # `update` on the owner's finalizers subresource, or the Pod creation is refused (403).
    config = ProcessConfig.model_validate(
        {
            "id": "cam1",
            "input": [{"id": "in", "address": "testsrc", "options": ["-f", "lavfi"]}],
            "output": [{"id": "out", "address": "-", "options": ["-f", "null"]}],
        }
    )
    cr = cr_from_config(config, NAMESPACE)
    cr["metadata"]["uid"] = "0b7e3c1e-5f4c-4c1e-9d55-1f6d0f1a2b3c"
    pod = build_run_pod(cr, 1, OperatorSettings(), lambda _: None).manifest
    docs = render(VALUE_SETS[value_set])
    role = (
        one(docs, "ClusterRole", CLUSTER_OPERATOR_ROLE)
        if value_set == "cluster-wide"
        else one(docs, "Role", OPERATOR)
    )
    granted = rules(role)
    blocking = [ref for ref in pod["metadata"]["ownerReferences"] if ref.get("blockOwnerDeletion")]
    assert blocking
    for reference in blocking:
        group = reference["apiVersion"].split("/")[0]
        assert any(
            g == group and r == "ffmpegprocesses/finalizers" and "update" in verbs
            for g, r, verbs in granted
        ), reference


def test_default_install_has_no_cluster_scoped_rbac() -> None:
    kinds = {doc["kind"] for doc in render({})}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding", "ClusterKopfPeering"}


def test_cluster_wide_operator_watches_every_namespace_through_a_cluster_role() -> None:
    docs = render(VALUE_SETS["cluster-wide"])
    args = container(docs, OPERATOR)["args"]
    assert "--all-namespaces" in args
    assert not any(arg.startswith("--namespace") for arg in args)
    assert "FFMPEG_OPERATOR_NAMESPACE" not in env(docs, OPERATOR)
    role = one(docs, "ClusterRole", CLUSTER_OPERATOR_ROLE)
    granted = {(group, resource) for group, resource, _ in rules(role)}
    assert ("kopf.dev", "clusterkopfpeerings") in granted
    assert ("kopf.dev", "kopfpeerings") not in granted
    assert ("ffmpeg-operator.io", "ffmpegprocesses") in granted
    binding = one(docs, "ClusterRoleBinding", CLUSTER_OPERATOR_ROLE)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }  # fmt: skip
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": OPERATOR, "namespace": NAMESPACE}
    ]
    peering = one(docs, "ClusterKopfPeering")
    assert f"--peering={peering['metadata']['name']}" in args
    assert objects(docs, "KopfPeering") == []


def test_cluster_wide_operator_leaves_the_api_namespaced() -> None:
    docs = render(VALUE_SETS["cluster-wide"])
    assert rules(one(docs, "Role", API)) == rules(one(render({}), "Role", API))
    assert one(docs, "ClusterRoleBinding", CLUSTER_OPERATOR_ROLE)["subjects"][0]["name"] != API


# --------------------------------------------------------------------------- API


def test_api_is_ready_only_once_it_serves_processes() -> None:
    api = container(render({}), API)
    assert api["livenessProbe"]["httpGet"]["path"] == "/ping"
    assert api["readinessProbe"]["httpGet"]["path"] == "/ready"


def test_api_role_grants_exactly_process_crud_and_pod_reads() -> None:
    role = one(render({}), "Role", API)
    assert rules(role) == {
        (
            "ffmpeg-operator.io",
            "ffmpegprocesses",
            ("create", "delete", "get", "list", "patch", "update", "watch"),
        ),
        ("", "pods", ("get", "list")),
        ("", "pods/log", ("get",)),
        ("", "secrets", ("create",)),
        ("", "secrets", ("get", "patch", "update")),
    }


def test_api_may_create_secrets_and_read_or_change_only_its_settings_secret() -> None:
    docs = render({})
    name = f"{FULLNAME}-settings"
    secret_rules = [r for r in one(docs, "Role", API)["rules"] if "secrets" in r["resources"]]
    # create cannot be limited to a name (RBAC); every other verb is limited to that one Secret.
    assert [r for r in secret_rules if "resourceNames" not in r] == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]}
    ]
    named = [r for r in secret_rules if "resourceNames" in r]
    assert [(r["resourceNames"], r["verbs"]) for r in named] == [
        ([name], ["get", "patch", "update"])
    ]
    assert env_values(docs, API)["FFMPEG_OPERATOR_SETTINGS_SECRET"] == name


def test_renders_leave_the_settings_secret_to_the_api() -> None:
    # helm template (Argo CD self-heal) has no lookup: a rendered settings Secret would reset
    # what the API wrote at the UI's registration. The chart renders none, every time.
    name = f"{FULLNAME}-settings"
    values = {"api": {"settingsSecret": ""}}  # a distinct cache key: rendered afresh
    renders = [render({}), render(values)]
    assert json.dumps(renders[0], sort_keys=True) == json.dumps(renders[1], sort_keys=True)
    for docs in renders:
        assert [o for o in docs if o["metadata"]["name"] == name and o["kind"] == "Secret"] == []
        assert not any("config.json" in (o.get("data") or {}) for o in docs)


def test_api_serves_diskfs_from_the_claim_the_run_pods_use() -> None:
    docs = render({"diskfs": {"type": "claim"}})
    pod = one(docs, "Deployment", API)["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if "persistentVolumeClaim" in v)
    assert volume["persistentVolumeClaim"]["claimName"] == f"{FULLNAME}-diskfs"
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == volume["name"])
    assert env_values(docs, API)["FFMPEG_OPERATOR_API_DISK_DIR"] == mount["mountPath"]
    assert env_values(docs, OPERATOR)["FFMPEG_OPERATOR_DISKFS_PATH"] == mount["mountPath"]


def test_every_claim_a_deployment_mounts_is_rendered_by_default() -> None:
    # A default install referenced a claim it did not create (diskfs an emptyDir per run, the
    # API still mounting the claim): the API Pod stayed Pending on a real cluster.
    docs = render({})
    claims = {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
    for deployment in (d for d in docs if d["kind"] == "Deployment"):
        for volume in deployment["spec"]["template"]["spec"].get("volumes", []):
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, volume


def test_api_without_a_diskfs_claim_mounts_none() -> None:
    docs = render({})
    pod = one(docs, "Deployment", API)["spec"]["template"]["spec"]
    assert not any("persistentVolumeClaim" in v for v in pod["volumes"])
    assert "FFMPEG_OPERATOR_API_DISK_DIR" not in env_values(docs, API)


def test_api_without_diskfs_mounts_no_claim() -> None:
    docs = render({"api": {"mountDiskfs": False}})
    pod = one(docs, "Deployment", API)["spec"]["template"]["spec"]
    assert not any("persistentVolumeClaim" in v for v in pod["volumes"])
    assert "FFMPEG_OPERATOR_API_DISK_DIR" not in env_values(docs, API)


def test_host_names_are_the_ingress_hosts_unless_given() -> None:
    assert "FFMPEG_OPERATOR_HOST_NAMES" not in env_values(render({}), API)
    ingress = env_values(render(VALUE_SETS["ingress"]), API)
    assert ingress["FFMPEG_OPERATOR_HOST_NAMES"] == "ffmpeg.example.org"
    given = render({"api": {"hostNames": ["a.example", "b.example"]}})
    assert env_values(given, API)["FFMPEG_OPERATOR_HOST_NAMES"] == "a.example,b.example"


def test_ui_dir_value_serves_a_ui_build() -> None:
    assert "FFMPEG_OPERATOR_UI_DIR" not in env_values(render({}), API)
    docs = render({"api": {"uiDir": "/srv/restreamer-ui"}})
    assert env_values(docs, API)["FFMPEG_OPERATOR_UI_DIR"] == "/srv/restreamer-ui"


def test_api_serves_the_kubernetes_backend_of_its_namespace() -> None:
    args = container(render({}), API)["args"]
    assert args[0] == "serve"
    assert "--backend=kubernetes" in args
    assert f"--namespace={NAMESPACE}" in args
    assert "--host=0.0.0.0" in args


@pytest.mark.parametrize("value_set", ["defaults", "cluster-wide"])
def test_each_component_is_bound_to_its_own_role(value_set: str) -> None:
    docs = render(VALUE_SETS[value_set])
    bindings = objects(docs, "RoleBinding") + objects(docs, "ClusterRoleBinding")
    roles = {(doc["kind"], doc["metadata"]["name"]) for doc in docs if "rules" in doc}
    accounts = {doc["metadata"]["name"] for doc in objects(docs, "ServiceAccount")}
    bound = set()
    for binding in bindings:
        assert (binding["roleRef"]["kind"], binding["roleRef"]["name"]) in roles
        for subject in binding["subjects"]:
            assert subject["name"] in accounts
            bound.add(subject["name"])
    for deployment in objects(docs, "Deployment"):
        account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
        assert account == deployment["metadata"]["name"]
        assert account in bound


# --------------------------------------------------------------------------- environment


def test_memfs_url_is_the_api_service_for_api_and_operator() -> None:
    docs = render({})
    service = one(docs, "Service", API)
    expected = f"http://{API}.{NAMESPACE}.svc:{service['spec']['ports'][0]['port']}/memfs"
    for deployment in (API, OPERATOR):
        assert env_values(docs, deployment)["FFMPEG_OPERATOR_MEMFS_URL"] == expected


def test_memfs_url_override_wins() -> None:
    docs = render({"memfs": {"url": "http://memfs.example.org/memfs"}})
    for deployment in (API, OPERATOR):
        url = env_values(docs, deployment)["FFMPEG_OPERATOR_MEMFS_URL"]
        assert url == "http://memfs.example.org/memfs"


def test_media_server_addresses_reach_api_and_operator() -> None:
    docs = render(VALUE_SETS["media-server"])
    for deployment in (API, OPERATOR):
        values = env_values(docs, deployment)
        assert values["FFMPEG_OPERATOR_RTMP_URL"] == "rtmp://mediamtx.media.svc:1935"
        assert values["FFMPEG_OPERATOR_SRT_URL"] == "srt://mediamtx.media.svc:8890"


def test_media_server_addresses_are_unset_without_a_media_server() -> None:
    docs = render({})
    for deployment in (API, OPERATOR):
        assert not {"FFMPEG_OPERATOR_RTMP_URL", "FFMPEG_OPERATOR_SRT_URL"} & set(
            env(docs, deployment)
        )


def test_run_pods_use_the_chart_image_unless_told_otherwise() -> None:
    default = render({})
    operator_image = container(default, OPERATOR)["image"]
    assert operator_image == "ghcr.io/ffmpeg-operator/ffmpeg-operator:0.1.0"
    assert env_values(default, OPERATOR)["FFMPEG_OPERATOR_IMAGE"] == operator_image
    custom = env_values(render(VALUE_SETS["media-server"]), OPERATOR)
    assert custom["FFMPEG_OPERATOR_IMAGE"] == "registry.example.org/ffmpeg-gpu:7.1"


def test_node_cpus_reach_api_and_operator() -> None:
    docs = render({"nodeCpus": 8})
    for deployment in (API, OPERATOR):
        assert env_values(docs, deployment)["FFMPEG_OPERATOR_NODE_CPUS"] == "8"


def test_namespace_reaches_api_and_namespaced_operator() -> None:
    docs = render({})
    for deployment in (API, OPERATOR):
        assert env_values(docs, deployment)["FFMPEG_OPERATOR_NAMESPACE"] == NAMESPACE


def test_every_environment_variable_is_documented_in_values() -> None:
    documented = set(re.findall(r"FFMPEG_OPERATOR_[A-Z_]+", (CHART / "values.yaml").read_text()))
    used = {
        item["name"]
        for value_set in VALUE_SETS.values()
        for deployment in objects(render(value_set), "Deployment")
        for item in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        if item["name"].startswith("FFMPEG_OPERATOR_")
    }
    assert used <= documented, used - documented


# --------------------------------------------------------------------------- storage


def test_default_install_needs_no_storage_class_diskfs_is_an_empty_dir_per_run() -> None:
    # A stock cluster (kind, a cloud's default class) has no ReadWriteMany: no claim at all,
    # so nothing stays Pending; run Pods get an emptyDir of their own (FFMPEG_OPERATOR_DISKFS_CLAIM
    # unset, see kube.settings), the operator mounts nothing.
    docs = render({})
    assert objects(docs, "PersistentVolumeClaim") == []
    assert "FFMPEG_OPERATOR_DISKFS_CLAIM" not in env(docs, OPERATOR)
    pod = one(docs, "Deployment", OPERATOR)["spec"]["template"]["spec"]
    assert not any("persistentVolumeClaim" in volume for volume in pod["volumes"])
    settings = settings_from_env(env_values(docs, OPERATOR))
    assert settings.diskfs_pvc is None


def test_claim_type_creates_the_diskfs_claim_and_keeps_it_on_uninstall() -> None:
    docs = render(VALUE_SETS["shared-claim"])
    claim = one(docs, "PersistentVolumeClaim")
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert "storageClassName" not in claim["spec"]
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert env_values(docs, OPERATOR)["FFMPEG_OPERATOR_DISKFS_CLAIM"] == claim["metadata"]["name"]


def test_diskfs_claim_takes_size_and_storage_class() -> None:
    claim = one(render(VALUE_SETS["media-server"]), "PersistentVolumeClaim")
    assert claim["spec"]["resources"]["requests"]["storage"] == "50Gi"
    assert claim["spec"]["storageClassName"] == "cephfs"


def test_storage_class_dash_asks_for_no_class() -> None:
    claim = one(render({"diskfs": {"type": "claim", "storageClass": "-"}}), "PersistentVolumeClaim")
    assert claim["spec"]["storageClassName"] == ""


def test_existing_claim_is_mounted_and_none_is_created() -> None:
    docs = render(VALUE_SETS["existing-claim"])
    assert objects(docs, "PersistentVolumeClaim") == []
    pod = one(docs, "Deployment", OPERATOR)["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if "persistentVolumeClaim" in v)
    assert volume["persistentVolumeClaim"]["claimName"] == "shared-media"
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == volume["name"])
    values = env_values(docs, OPERATOR)
    assert values["FFMPEG_OPERATOR_DISKFS_CLAIM"] == "shared-media"
    assert values["FFMPEG_OPERATOR_DISKFS_PATH"] == mount["mountPath"]


# --------------------------------------------------------------------------- credentials


def _secret_refs(docs: list[dict[str, Any]], deployment: str) -> dict[str, tuple[str, str]]:
    refs = {}
    for name, item in env(docs, deployment).items():
        ref = item.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            refs[name] = (ref["name"], ref["key"])
    return refs


def _hook_args(docs: list[dict[str, Any]], job: str) -> list[str]:
    (only,) = one(docs, "Job", job)["spec"]["template"]["spec"]["containers"]
    args: list[str] = only["args"]
    return args


def test_default_render_is_the_same_every_time_no_generated_password_in_it() -> None:
    # helm template (Argo CD) renders without lookup: a generated value would drift each sync.
    values = {"auth": {"password": ""}}  # a distinct cache key: rendered afresh
    first = json.dumps(render({}), sort_keys=True)
    assert json.dumps(render(values), sort_keys=True) == first
    assert objects(render({}), "Secret") == []


def test_default_secret_is_made_once_by_a_hook_with_random_values_for_the_passwords() -> None:
    docs = render({})
    name = f"{FULLNAME}-auth"
    job = one(docs, "Job", SECRET_HOOK)
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    args = _hook_args(docs, SECRET_HOOK)
    assert args[:3] == ["ensure-secret", f"--name={name}", f"--namespace={NAMESPACE}"]
    # username from the values, both passwords random (no =VARIABLE)
    assert {"--key=username=AUTH_USERNAME", "--key=password", "--key=memfs-password"} <= set(args)
    role = one(docs, "Role", SECRET_HOOK)
    named = next(rule for rule in role["rules"] if "resourceNames" in rule)
    assert named["resourceNames"] == [name]
    # patch: to add missing keys, and to mark a Secret an earlier chart rendered
    # helm.sh/resource-policy: keep before helm upgrade would delete it.
    assert named["verbs"] == ["get", "patch"]
    for kind in ("ServiceAccount", "Role", "RoleBinding"):
        hooked = one(docs, kind, SECRET_HOOK)["metadata"]["annotations"]
        assert int(hooked["helm.sh/hook-weight"]) < int(annotations["helm.sh/hook-weight"])
    assert _secret_refs(docs, API) == {
        "FFMPEG_OPERATOR_AUTH_USER": (name, "username"),
        "FFMPEG_OPERATOR_AUTH_PASSWORD": (name, "password"),
        "FFMPEG_OPERATOR_MEMFS_PASSWORD": (name, "memfs-password"),
    }
    # The operator builds {memfs} URLs for run Pods but never logs in to the API.
    assert _secret_refs(docs, OPERATOR) == {
        "FFMPEG_OPERATOR_MEMFS_PASSWORD": (name, "memfs-password")
    }


def test_given_passwords_are_stored_verbatim() -> None:
    docs = render({"auth": {"password": "s3cret", "memfsPassword": "m3mfs"}})
    assert objects(docs, "Job") == [one(docs, "Job", DRAIN_HOOK)]  # no secret hook
    secret = one(docs, "Secret", f"{FULLNAME}-auth")
    assert base64.b64decode(secret["data"]["password"]) == b"s3cret"
    assert base64.b64decode(secret["data"]["memfs-password"]) == b"m3mfs"


def test_uninstall_drains_the_processes_before_the_operator_goes() -> None:
    docs = render({})
    job = one(docs, "Job", DRAIN_HOOK)
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-delete"
    assert _hook_args(docs, DRAIN_HOOK) == ["drain", f"--namespace={NAMESPACE}", "--timeout=60"]
    assert rules(one(docs, "Role", DRAIN_HOOK)) == {
        ("ffmpeg-operator.io", "ffmpegprocesses", ("delete", "list", "patch"))
    }
    cluster_wide = render(VALUE_SETS["cluster-wide"])
    assert _hook_args(cluster_wide, DRAIN_HOOK)[1] == "--all-namespaces"
    assert one(cluster_wide, "ClusterRole", f"{NAMESPACE}-{DRAIN_HOOK}")
    assert objects(render({"uninstall": {"drain": False}}), "Job") == [
        one(docs, "Job", SECRET_HOOK)
    ]


def test_existing_secret_is_referenced_and_none_is_rendered() -> None:
    docs = render(VALUE_SETS["existing-secret"])
    assert objects(docs, "Secret") == []
    refs = _secret_refs(docs, API) | _secret_refs(docs, OPERATOR)
    assert {name for name, _ in refs.values()} == {"ffmpeg-credentials"}


def test_existing_secret_keys_are_configurable() -> None:
    keys = {"username": "user", "password": "pass", "memfsPassword": "memfs"}
    docs = render({"auth": {"existingSecret": "vault-synced", "secretKeys": keys}})
    assert {key for _, key in _secret_refs(docs, API).values()} == set(keys.values())


def test_disabled_auth_drops_the_login_but_keeps_the_memfs_password() -> None:
    refs = _secret_refs(render(VALUE_SETS["media-server"]), API)
    assert set(refs) == {"FFMPEG_OPERATOR_MEMFS_PASSWORD"}


# --------------------------------------------------------------------------- exposure


def test_ingress_routes_its_hosts_to_the_api_service() -> None:
    docs = render(VALUE_SETS["ingress"])
    ingress = one(docs, "Ingress")
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"secretName": "ffmpeg-tls", "hosts": ["ffmpeg.example.org"]}]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "ffmpeg.example.org"
    (path,) = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": API, "port": {"name": "http"}}
    assert "ffmpeg.example.org" in notes(VALUE_SETS["ingress"])


def test_no_ingress_by_default_and_notes_show_a_port_forward() -> None:
    assert objects(render({}), "Ingress") == []
    assert f"port-forward service/{API}" in notes({})


def test_service_monitor_scrapes_the_api_metrics() -> None:
    docs = render(VALUE_SETS["monitoring"])
    monitor = one(docs, "ServiceMonitor")
    service = one(docs, "Service", API)
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert selects(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["port"] in {port["name"] for port in service["spec"]["ports"]}


def test_pod_monitor_scrapes_the_agents_of_the_run_pods_the_operator_builds() -> None:
    from ffmpeg_operator.kube.pod import OperatorSettings
    from ffmpeg_operator.kube.render import render_pods

    monitor = one(render(VALUE_SETS["monitoring"]), "PodMonitor")
    process = {
        "apiVersion": "ffmpeg-operator.io/v1alpha1",
        "kind": "FFmpegProcess",
        "metadata": {"name": "testsrc", "namespace": NAMESPACE},
        "spec": {
            "id": "testsrc",
            "input": [{"id": "in", "address": "testsrc", "options": ["-f", "lavfi"]}],
            "output": [{"id": "out", "address": "-", "options": ["-f", "null"]}],
        },
    }
    (pod,) = render_pods([process], 1, OperatorSettings())
    assert selects(monitor["spec"]["selector"]["matchLabels"], pod["metadata"]["labels"])
    ports = {
        port["name"]
        for item in pod["spec"]["initContainers"] + pod["spec"]["containers"]
        for port in item.get("ports", [])
    }
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] in ports
    assert endpoint["path"] == "/metrics"


def test_pod_monitor_looks_in_every_namespace_for_a_cluster_wide_operator() -> None:
    namespaced = one(render(VALUE_SETS["monitoring"]), "PodMonitor")
    assert namespaced["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    cluster_wide = one(render(VALUE_SETS["cluster-wide"]), "PodMonitor")
    assert cluster_wide["spec"]["namespaceSelector"] == {"any": True}


def test_no_prometheus_objects_by_default() -> None:
    kinds = {doc["kind"] for doc in render({})}
    assert not kinds & {"ServiceMonitor", "PodMonitor"}


def test_monitors_are_left_out_where_the_prometheus_operator_is_not_installed() -> None:
    # Enabled, but the cluster does not serve the kinds: an install must not fail on them.
    docs = render(VALUE_SETS["monitoring"], api_versions=())
    assert not {doc["kind"] for doc in docs} & {"ServiceMonitor", "PodMonitor"}
    assert objects(docs, "Deployment")


def test_each_monitor_needs_its_own_kind_served() -> None:
    only_service_monitors = render(VALUE_SETS["monitoring"], api_versions=PROMETHEUS_OPERATOR[:1])
    assert objects(only_service_monitors, "ServiceMonitor")
    assert objects(only_service_monitors, "PodMonitor") == []


def test_notes_tell_where_the_secret_is_and_what_uninstall_does() -> None:
    default = notes({})
    assert f'"{FULLNAME}-auth" was generated once by a hook Job' in default
    assert "helm uninstall first deletes every FFmpegProcess" in default
    assert "{diskfs} is an emptyDir per run Pod" in default
    manual = notes({"uninstall": {"drain": False}, "auth": {"existingSecret": "vault"}})
    assert 'your Secret "vault"' in manual
    assert "delete every FFmpegProcess BEFORE helm uninstall" in manual
