"""The Pod of one run of an FFmpegProcess (design §4).

One Pod per run, named ``<cr-name>-<run>``, owned by the CR, ``restartPolicy: Never`` (the
operator creates the next run's Pod, honouring ``reconnectDelaySeconds`` exactly). Two
containers share the process namespace:

- ``agent``, a native sidecar (an init container with ``restartPolicy: Always``) that starts
  first: it receives ffmpeg's ``-progress`` stream on ``127.0.0.1:<progress port>``, enforces
  ``staleTimeoutSeconds`` and datarhei's limit rule, and serves ``/state`` and ``/metrics`` on
  the agent port. Its startup probe asks ``/healthz``, which answers only once the progress
  listener is open (ffmpeg refuses to start when the progress URL cannot be opened);
- ``ffmpeg``, running the compiled argv in exec form — no shell: ``command: [ffmpegBinary]``,
  ``args: ["-nostdin", "-progress", "tcp://127.0.0.1:<port>", "-vstats_file", <fifo>, *argv]``.
  Its report (``FFREPORT``, the stream dump at every log level) and ``-vstats_file`` (live
  per-stream counters of encoded video) go to FIFOs in the shared ``/tmp`` that the agent
  makes and reads (:data:`REPORT_FIFO`, :data:`STATS_FIFO`). ``-vstats_file`` rather than
  ``-stats_mux_pre`` (video *and* audio counters, ffmpeg ≥ 6.1 only): the operator cannot
  probe an image's ffmpeg, so it uses the latter only when told the version of the default
  image (:attr:`OperatorSettings.ffmpeg_version`) and the spec names no image of its own.

The Pod meets the Pod Security Standard "restricted": non-root user, no privilege escalation,
all capabilities dropped, RuntimeDefault seccomp, read-only root filesystem with an emptyDir on
``/tmp`` (``HOME`` points there too). ``{diskfs}`` is a volume (a PVC when
:attr:`OperatorSettings.diskfs_pvc` is set, else an emptyDir that lives as long as the run) at
:attr:`OperatorSettings.diskfs_mount_path`, which is also ffmpeg's working directory.

Resources of the ffmpeg container (:func:`ffmpeg_resources`), in this order, later wins:

1. :attr:`OperatorSettings.default_resources`;
2. ``limits.cpuUsage`` > 0 (percent of the *node*, as datarhei means the whole machine), with
   ``cores = cpuUsage / 100 * node_cpus``: ``requests.cpu = ceil(cores * 1000)m`` and
   ``limits.cpu = ceil(cores * cpu_limit_headroom * 1000)m``;
3. ``limits.memoryMbytes`` > 0: ``requests.memory = <memoryMbytes>Mi`` and
   ``limits.memory = ceil(memoryMbytes * memory_limit_headroom)Mi``;
4. ``spec.resources.requests`` / ``spec.resources.limits``, key by key;
5. a request above its limit is lowered to the limit (the API server refuses the Pod otherwise).

The Kubernetes limits sit above datarhei's (headroom, default 1.25) so that the node is
protected while the agent still sees ffmpeg exceed datarhei's limit and applies datarhei's exact
rule (over the limit for ``waitforSeconds`` -> killed, reason recorded); with equal limits CFS
throttling would hide CPU excess and the OOM killer would act before the agent.

Overrides of the spec, in order: ``podTemplate`` (metadata labels/annotations; ``spec`` merged:
objects key by key, ``containers``/``initContainers``/``volumes``/``env`` by name,
``volumeMounts`` by mount path, other lists replaced), then ``nodeSelector`` (merged key by
key), ``tolerations``, ``affinity`` (replaced) and ``resources``. The operator's labels and
annotations, ``restartPolicy``, ``shareProcessNamespace``, the containers' commands and
arguments always stay as generated.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ffmpeg_operator import __version__
from ffmpeg_operator.core.argv import instrumented_argv, report_env, supervisor_flags
from ffmpeg_operator.core.ffmpeg.streamstats import supports_mux_stats
from ffmpeg_operator.core.models import Limits, ProcessConfig
from ffmpeg_operator.core.placeholders import PlaceholderSettings, rtmp_template, srt_template
from ffmpeg_operator.core.prepare import PreparedProcess, prepare_process
from ffmpeg_operator.core.references import ConfigLookup
from ffmpeg_operator.core.validation import AddressPolicy
from ffmpeg_operator.kube.names import (
    GROUP,
    ID_ANNOTATION,
    ID_HASH_LABEL,
    PROCESS_LABEL,
    RUN_LABEL,
    id_hash,
    pod_name,
)
from ffmpeg_operator.kube.quantity import parse_quantity
from ffmpeg_operator.kube.spec import (
    API_VERSION,
    KIND,
    FFmpegProcessSpec,
    KubernetesFields,
    config_from_cr,
    spec_of,
    stable_io_ids,
)

__all__ = [
    "AGENT_CONTAINER",
    "AGENT_HTTP_HOST",
    "DEFAULT_IMAGE",
    "FFMPEG_CONTAINER",
    "GENERATION_ANNOTATION",
    "MEMFS_PASSWORD_ENV",
    "PROGRESS_HOST",
    "RESTART_REQUEST_ANNOTATION",
    "TERMINATION_MESSAGE_PATH",
    "OperatorSettings",
    "RunPod",
    "address_policy",
    "agent_args",
    "build_run_pod",
    "ffmpeg_resources",
    "placeholder_settings",
    "prepare_run",
    "progress_url",
]

DEFAULT_IMAGE = f"ghcr.io/ffmpeg-operator/ffmpeg-operator:{__version__}"
FFMPEG_CONTAINER = "ffmpeg"
AGENT_CONTAINER = "agent"
#: Annotation of run Pods: the CR's metadata.generation the Pod was built from.
GENERATION_ANNOTATION = f"{GROUP}/generation"
#: Annotation of run Pods: the CR's spec.restartRequest the Pod was built with.
RESTART_REQUEST_ANNOTATION = f"{GROUP}/restart-request"

#: The agent's progress listener: the Pod's loopback, which ffmpeg shares and nothing outside
#: the Pod reaches. Spelled out in the arguments (not left to defaults) so that a test kubelet
#: giving every Pod its own loopback address can rewrite them.
PROGRESS_HOST = "127.0.0.1"
#: The agent's HTTP server: every interface, the API shim and the operator ask the Pod IP.
AGENT_HTTP_HOST = "0.0.0.0"
#: kubelet's default termination message file, passed explicitly for the same reason.
TERMINATION_MESSAGE_PATH = "/dev/termination-log"

#: FIFOs in the shared /tmp volume: ffmpeg's report and its -vstats_file (see the docstring).
REPORT_FIFO = "/tmp/ffmpeg-report.fifo"
STATS_FIFO = "/tmp/ffmpeg-stats.fifo"

#: Variable of ffmpeg's container holding the memfs password (from a Secret), named in
#: ``{memfs}`` as ``$(...)`` for kubelet to expand.
MEMFS_PASSWORD_ENV = "FFMPEG_OPERATOR_MEMFS_PASSWORD"
_MEMFS_PASSWORD_REFERENCE = f"$({MEMFS_PASSWORD_ENV})"

_TMP_VOLUME = "tmp"
_DISKFS_VOLUME = "diskfs"


def _default_resources() -> dict[str, dict[str, str]]:
    return {"requests": {"cpu": "100m", "memory": "64Mi"}}


def _agent_resources() -> dict[str, dict[str, str]]:
    return {"requests": {"cpu": "10m", "memory": "48Mi"}, "limits": {"memory": "128Mi"}}


@dataclass(frozen=True)
class OperatorSettings:
    """Operator-wide settings of run Pods; per process, the spec overrides some of them."""

    #: Image of the ffmpeg container (``spec.image`` overrides).
    ffmpeg_image: str = DEFAULT_IMAGE
    #: ffmpeg binary in that image (``spec.ffmpegBinary`` overrides).
    ffmpeg_binary: str = "ffmpeg"
    #: Release of the ffmpeg in ``ffmpeg_image`` (``"7.1"``); "" = unknown. From 6.1 on, run
    #: Pods of that image write per-stream statistics with ``-stats_mux_pre``.
    ffmpeg_version: str = ""
    #: Image of the agent sidecar (holds ``ffmpeg-operator``).
    agent_image: str = DEFAULT_IMAGE
    agent_command: tuple[str, ...] = ("ffmpeg-operator", "agent")
    image_pull_policy: str = "IfNotPresent"
    #: Loopback port the agent receives ffmpeg's -progress stream on.
    progress_port: int = 9555
    #: Port of the agent's HTTP server (/state, /metrics).
    agent_port: int = 9556
    #: CPUs of a node: datarhei's cpu_usage is a percentage of the whole machine.
    node_cpus: float = 1.0
    cpu_limit_headroom: float = 1.25
    memory_limit_headroom: float = 1.25
    default_resources: Mapping[str, Mapping[str, str]] = field(default_factory=_default_resources)
    agent_resources: Mapping[str, Mapping[str, str]] = field(default_factory=_agent_resources)
    run_as_user: int = 10001
    run_as_group: int = 10001
    fs_group: int = 10001
    read_only_root_filesystem: bool = True
    #: PVC holding {diskfs}; ``None``: an emptyDir per run.
    diskfs_pvc: str | None = None
    #: Where {diskfs} is mounted (and what it resolves to).
    diskfs_mount_path: str = "/data"
    #: {memfs}: the memfs URL of the API Service.
    memfs_url: str = "http://ffmpeg-operator-api:8080/memfs"
    #: (Secret name, key) of the memfs password: ffmpeg's container gets it as
    #: :data:`MEMFS_PASSWORD_ENV`, which ``memfs_url`` then names as ``$(...)``.
    memfs_password_secret: tuple[str, str] | None = None
    #: {rtmp,name=...} template (see core.placeholders.rtmp_template).
    rtmp: str = field(default_factory=lambda: rtmp_template("ffmpeg-operator-rtmp:1935"))
    #: {srt,name=...} template (see core.placeholders.srt_template).
    srt: str = field(default_factory=lambda: srt_template("ffmpeg-operator-srt:6000"))
    input_allow: tuple[str, ...] = ()
    input_block: tuple[str, ...] = ()
    output_allow: tuple[str, ...] = ()
    output_block: tuple[str, ...] = ()
    service_account_name: str | None = None
    termination_grace_period_seconds: int = 10


@dataclass(frozen=True)
class RunPod:
    """The manifest of a run Pod and the prepared config it runs."""

    manifest: dict[str, Any]
    prepared: PreparedProcess

    @property
    def name(self) -> str:
        name: str = self.manifest["metadata"]["name"]
        return name


# --------------------------------------------------------------------------- config


def placeholder_settings(settings: OperatorSettings) -> PlaceholderSettings:
    """{diskfs} = the volume's mount path, {memfs} = the API Service, rtmp/srt from settings."""
    return PlaceholderSettings(
        diskfs=settings.diskfs_mount_path.rstrip("/") or "/",
        memfs=settings.memfs_url,
        rtmp=settings.rtmp,
        srt=settings.srt,
    )


def address_policy(settings: OperatorSettings) -> AddressPolicy:
    """File outputs must lie in the diskfs volume, ffmpeg's working directory."""
    return AddressPolicy(
        disk_dir=settings.diskfs_mount_path,
        cwd=settings.diskfs_mount_path,
        input_allow=settings.input_allow,
        input_block=settings.input_block,
        output_allow=settings.output_allow,
        output_block=settings.output_block,
    )


def prepare_run(
    config: ProcessConfig, settings: OperatorSettings, lookup: ConfigLookup
) -> PreparedProcess:
    """:func:`~ffmpeg_operator.core.prepare.prepare_process` with Kubernetes settings.

    Empty IO ids (of this config and of referenced ones) get stable ids, so the same CR always
    yields the same Pod. Raises :class:`~ffmpeg_operator.core.errors.ConfigError`.
    """

    def stable_lookup(pid: str) -> ProcessConfig | None:
        other = lookup(pid)
        return None if other is None else stable_io_ids(other)

    return prepare_process(
        stable_io_ids(config), placeholder_settings(settings), address_policy(settings),
        stable_lookup,
    )  # fmt: skip


def progress_url(settings: OperatorSettings) -> str:
    return f"tcp://{PROGRESS_HOST}:{settings.progress_port}"


def agent_args(
    prepared: PreparedProcess, ffmpeg_binary: str, settings: OperatorSettings
) -> list[str]:
    """Arguments of ``ffmpeg-operator agent`` for a run (see ``cli.agent``).

    ``--cpu-capacity`` is the node's CPU count: datarhei's cpu_usage is a percentage of the
    whole machine, as in :func:`ffmpeg_resources`.
    """
    limits = prepared.config.limits
    return [
        "--process-id", prepared.config.id,
        "--progress-host", PROGRESS_HOST,
        "--progress-port", str(settings.progress_port),
        "--http-host", AGENT_HTTP_HOST,
        "--http-port", str(settings.agent_port),
        "--termination-message-path", TERMINATION_MESSAGE_PATH,
        "--ffmpeg", ffmpeg_binary,
        "--stale-timeout-seconds", str(prepared.config.stale_timeout_seconds),
        "--limit-cpu-usage", f"{limits.cpu_usage:g}",
        "--limit-memory-mbytes", str(limits.memory_mbytes),
        "--limit-waitfor-seconds", str(limits.waitfor_seconds),
        "--cpu-capacity", f"{settings.node_cpus:g}",
        "--command-json", json.dumps(prepared.command, ensure_ascii=False),
        "--report-fifo", REPORT_FIFO,
        "--stats-fifo", STATS_FIFO,
    ]  # fmt: skip


# --------------------------------------------------------------------------- resources


def _derived_resources(limits: Limits, settings: OperatorSettings) -> dict[str, dict[str, str]]:
    derived: dict[str, dict[str, str]] = {"requests": {}, "limits": {}}
    if limits.cpu_usage > 0:
        cores = limits.cpu_usage / 100 * settings.node_cpus
        derived["requests"]["cpu"] = f"{math.ceil(cores * 1000)}m"
        derived["limits"]["cpu"] = f"{math.ceil(cores * settings.cpu_limit_headroom * 1000)}m"
    if limits.memory_mbytes > 0:
        derived["requests"]["memory"] = f"{limits.memory_mbytes}Mi"
        headroom = math.ceil(limits.memory_mbytes * settings.memory_limit_headroom)
        derived["limits"]["memory"] = f"{headroom}Mi"
    return derived


def ffmpeg_resources(
    limits: Limits, kube: KubernetesFields, settings: OperatorSettings
) -> dict[str, dict[str, int | str]]:
    """Resources of the ffmpeg container (steps 1-5 of the module docstring)."""
    merged: dict[str, dict[str, int | str]] = {"requests": {}, "limits": {}}
    overrides = kube.resources
    layers: list[Mapping[str, Mapping[str, int | str] | None]] = [
        settings.default_resources,
        _derived_resources(limits, settings),
    ]
    if overrides is not None:
        layers.append({"requests": overrides.requests, "limits": overrides.limits})
    for layer in layers:
        for kind in ("requests", "limits"):
            merged[kind].update(layer.get(kind) or {})
    for name, request in list(merged["requests"].items()):
        limit = merged["limits"].get(name)
        if limit is not None and parse_quantity(request) > parse_quantity(limit):
            merged["requests"][name] = limit
    return {kind: values for kind, values in merged.items() if values}


# --------------------------------------------------------------------------- the Pod


def _container_security(settings: OperatorSettings) -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": settings.read_only_root_filesystem,
        "runAsNonRoot": True,
    }


def _agent_container(
    prepared: PreparedProcess, spec: FFmpegProcessSpec, settings: OperatorSettings
) -> dict[str, Any]:
    ffmpeg_binary = spec.ffmpeg_binary or settings.ffmpeg_binary
    return {
        "name": AGENT_CONTAINER,
        "image": settings.agent_image,
        "imagePullPolicy": settings.image_pull_policy,
        # A native sidecar: started before ffmpeg, stopped after it.
        "restartPolicy": "Always",
        "command": list(settings.agent_command),
        "args": agent_args(prepared, ffmpeg_binary, settings),
        "env": [
            {"name": "HOME", "value": "/tmp"},
            {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
        ],
        "ports": [{"name": "agent", "containerPort": settings.agent_port, "protocol": "TCP"}],
        # The agent listens for progress before /healthz answers; ffmpeg starts after this.
        "startupProbe": {
            "httpGet": {"path": "/healthz", "port": settings.agent_port},
            "periodSeconds": 1,
            "failureThreshold": 60,
        },
        "resources": copy.deepcopy({k: dict(v) for k, v in settings.agent_resources.items()}),
        "securityContext": _container_security(settings),
        "terminationMessagePolicy": "File",
        "volumeMounts": [{"name": _TMP_VOLUME, "mountPath": "/tmp"}],
    }


def _mux_stats(spec: FFmpegProcessSpec, settings: OperatorSettings) -> bool:
    """Whether the run's ffmpeg is known to have ``-stats_mux_pre`` (module docstring)."""
    version = settings.ffmpeg_version
    return bool(version) and spec.image is None and supports_mux_stats(version)


def _ffmpeg_container(
    prepared: PreparedProcess, spec: FFmpegProcessSpec, settings: OperatorSettings
) -> dict[str, Any]:
    return {
        "name": FFMPEG_CONTAINER,
        "image": spec.image or settings.ffmpeg_image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": [spec.ffmpeg_binary or settings.ffmpeg_binary],
        "args": kubelet_args(
            [
                *supervisor_flags(progress_url(settings)),
                *instrumented_argv(
                    prepared.resolved, STATS_FIFO, mux_stats=_mux_stats(spec, settings)
                ),
            ]
        ),
        "workingDir": settings.diskfs_mount_path,
        "env": [
            {"name": "HOME", "value": "/tmp"},
            *({"name": name, "value": value} for name, value in report_env(REPORT_FIFO).items()),
            *_secret_env(settings),
        ],
        "resources": ffmpeg_resources(prepared.config.limits, spec, settings),
        "securityContext": _container_security(settings),
        # ffmpeg's last stderr lines become the run's message when it fails; not with the
        # memfs password from a Secret: kubelet would copy lines naming the URLs ffmpeg opened,
        # password and all, into the Pod's status (the report still has them, redacted).
        "terminationMessagePolicy": (
            "File" if settings.memfs_password_secret is not None else "FallbackToLogsOnError"
        ),
        "volumeMounts": [
            {"name": _TMP_VOLUME, "mountPath": "/tmp"},
            {"name": _DISKFS_VOLUME, "mountPath": settings.diskfs_mount_path},
        ],
    }


def kubelet_args(args: list[str]) -> list[str]:
    """``args`` as kubelet must get them to pass them on unchanged: every ``$`` doubled (kubelet
    expands ``$(VAR)`` and turns ``$$`` into ``$``), but for the memfs password reference,
    which kubelet is to expand."""
    escaped = "$" + _MEMFS_PASSWORD_REFERENCE
    return [
        arg.replace("$", "$$").replace(escaped, _MEMFS_PASSWORD_REFERENCE) if "$" in arg else arg
        for arg in args
    ]


def _secret_env(settings: OperatorSettings) -> list[dict[str, Any]]:
    if settings.memfs_password_secret is None:
        return []
    name, key = settings.memfs_password_secret
    return [
        {
            "name": MEMFS_PASSWORD_ENV,
            "valueFrom": {"secretKeyRef": {"name": name, "key": key}},
        }
    ]


def _volumes(settings: OperatorSettings) -> list[dict[str, Any]]:
    diskfs: dict[str, Any] = (
        {"persistentVolumeClaim": {"claimName": settings.diskfs_pvc}}
        if settings.diskfs_pvc
        else {"emptyDir": {}}
    )
    return [{"name": _TMP_VOLUME, "emptyDir": {}}, {"name": _DISKFS_VOLUME, **diskfs}]


def _metadata(
    cr: Mapping[str, Any], spec: FFmpegProcessSpec, run: int
) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    cr_meta = cr.get("metadata") or {}
    name = cr_meta["name"]
    labels = {
        "app.kubernetes.io/name": "ffmpeg-operator",
        "app.kubernetes.io/component": "ffmpeg-run",
        "app.kubernetes.io/managed-by": "ffmpeg-operator",
        ID_HASH_LABEL: id_hash(spec.id),
        PROCESS_LABEL: name,
        RUN_LABEL: str(run),
    }
    annotations = {ID_ANNOTATION: spec.id}
    if cr_meta.get("generation") is not None:
        annotations[GENERATION_ANNOTATION] = str(cr_meta["generation"])
    if spec.restart_request is not None:
        annotations[RESTART_REQUEST_ANNOTATION] = spec.restart_request
    metadata: dict[str, Any] = {"name": pod_name(name, run)}
    if cr_meta.get("namespace"):
        metadata["namespace"] = cr_meta["namespace"]
    if cr_meta.get("uid"):
        metadata["ownerReferences"] = [
            {
                "apiVersion": cr.get("apiVersion", API_VERSION),
                "kind": KIND,
                "name": name,
                "uid": cr_meta["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
    return metadata, labels, annotations


def build_run_pod(
    cr: Mapping[str, Any], run: int, settings: OperatorSettings, lookup: ConfigLookup
) -> RunPod:
    """The Pod of run ``run`` of the FFmpegProcess ``cr``.

    ``lookup(id)`` returns the stored config of another process, for references. Raises
    :class:`~ffmpeg_operator.core.errors.ConfigError` when the config cannot run.
    """
    spec = spec_of(cr)
    config = config_from_cr(cr)
    prepared = prepare_run(config, settings, lookup)
    metadata, labels, annotations = _metadata(cr, spec, run)

    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "shareProcessNamespace": True,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "terminationGracePeriodSeconds": settings.termination_grace_period_seconds,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": settings.run_as_user,
            "runAsGroup": settings.run_as_group,
            "fsGroup": settings.fs_group,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "initContainers": [_agent_container(prepared, spec, settings)],
        "containers": [_ffmpeg_container(prepared, spec, settings)],
        "volumes": _volumes(settings),
    }
    if settings.service_account_name:
        pod_spec["serviceAccountName"] = settings.service_account_name

    template = spec.pod_template
    if template is not None and template.spec:
        pod_spec = _merge(pod_spec, template.spec)
    if template is not None and template.metadata is not None:
        labels = {**(template.metadata.labels or {}), **labels}
        annotations = {**(template.metadata.annotations or {}), **annotations}
    if spec.node_selector:
        pod_spec["nodeSelector"] = {**pod_spec.get("nodeSelector", {}), **spec.node_selector}
    if spec.tolerations is not None:
        pod_spec["tolerations"] = [
            t.model_dump(by_alias=True, exclude_none=True) for t in spec.tolerations
        ]
    if spec.affinity is not None:
        pod_spec["affinity"] = copy.deepcopy(spec.affinity)
    _restore_invariants(pod_spec, prepared, spec, settings)

    manifest = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {**metadata, "labels": labels, "annotations": annotations},
        "spec": pod_spec,
    }
    return RunPod(manifest=manifest, prepared=prepared)


def _restore_invariants(
    pod_spec: dict[str, Any],
    prepared: PreparedProcess,
    spec: FFmpegProcessSpec,
    settings: OperatorSettings,
) -> None:
    """What an override must not change: the run model and the commands."""
    pod_spec["restartPolicy"] = "Never"
    pod_spec["shareProcessNamespace"] = True
    generated_agent = _agent_container(prepared, spec, settings)
    generated_ffmpeg = _ffmpeg_container(prepared, spec, settings)
    for container in pod_spec["initContainers"]:
        if container.get("name") == AGENT_CONTAINER:
            for key in ("command", "args", "restartPolicy"):
                container[key] = generated_agent[key]
    for container in pod_spec["containers"]:
        if container.get("name") == FFMPEG_CONTAINER:
            for key in ("command", "args"):
                container[key] = generated_ffmpeg[key]


# --------------------------------------------------------------------------- merging

#: Lists merged element by element, matched by this key; other lists are replaced.
_KEYED_LISTS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "imagePullSecrets": "name",
    "volumeMounts": "mountPath",
}


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = _merge(current, value)
        elif key in _KEYED_LISTS and isinstance(current, list) and isinstance(value, list):
            merged[key] = _merge_keyed(current, value, _KEYED_LISTS[key])
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _merge_keyed(base: list[Any], override: list[Any], key: str) -> list[Any]:
    merged = copy.deepcopy(base)
    for item in override:
        match = next(
            (
                index
                for index, existing in enumerate(merged)
                if isinstance(item, dict)
                and isinstance(existing, dict)
                and existing.get(key) == item.get(key)
            ),
            None,
        )
        if match is None:
            merged.append(copy.deepcopy(item))
        else:
            merged[match] = _merge(merged[match], item)
    return merged
