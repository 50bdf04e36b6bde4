"""A Kubernetes stand-in for API tests and benchmarks (design §7).

``kube_environment(directory)`` starts, each in its own thread (or process):

- the API server emulator (:mod:`kube.emulator`, kmock with the gaps filled) and its kubeconfig;
- a pod runner playing kubelet (:mod:`kube.podrunner`), every Pod on its own loopback address
  so that several run Pods can all listen on the agent's port;
- the operator (:func:`ffmpeg_operator.operator.handlers.build_registry` in a
  :class:`kopf.testing.KopfRunner`) when it can be imported; ``{diskfs}`` is a PVC that the
  pod runner and the operator (cleanup) see as one host directory;
- ``ffmpeg-operator serve --backend kubernetes`` against that kubeconfig, listening on every
  interface so run Pods reach its memfs on ``127.0.0.2`` (the pod runner rewrites
  ``127.0.0.1`` to the Pod's own address, but not other loopback addresses).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import importlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from livesrv import LiveServer, free_port

KUBE_TESTS = Path(__file__).resolve().parent / "kube"
if str(KUBE_TESTS) not in sys.path:
    sys.path.insert(0, str(KUBE_TESTS))

from emulator import CRDS, FFMPEG_PROCESSES, RunningEmulator  # noqa: E402
from podrunner import PodRunner  # noqa: E402

from ffmpeg_operator.kube.crd import crd  # noqa: E402

NAMESPACE = "default"
MEMFS_PASSWORD = "memfspw"  # LiveServer's FFMPEG_OPERATOR_MEMFS_PASSWORD
#: The Secret run Pods read the memfs password from (as the chart's), and its key.
MEMFS_SECRET = "ffmpeg-operator-auth"
MEMFS_SECRET_KEY = "memfs-password"
#: Where run Pods reach the API's memfs (see the module docstring).
MEMFS_HOST = "127.0.0.2"
#: {diskfs} in run Pods: a PVC (a host directory here) mounted at the operator's default path.
DISKFS_CLAIM = "diskfs"
DISKFS_PATH = "/data"


@dataclass
class KubeEnvironment:
    emulator: RunningEmulator
    pod_runner: PodRunner | None
    operator: Any | None
    server: LiveServer
    memfs_url: str
    disk_dir: str
    #: Where the files of ``{diskfs}`` land on this machine.
    disk_files: Path

    @property
    def has_operator(self) -> bool:
        return self.operator is not None

    def objects(self) -> list[dict[str, Any]]:
        return self.emulator.objects(FFMPEG_PROCESSES, NAMESPACE)


#: Set to 0 to run the kubernetes side without the operator (the backend against the emulator).
OPERATOR_SWITCH = "FFMPEG_OPERATOR_TEST_OPERATOR"


def operator_available() -> bool:
    if os.environ.get(OPERATOR_SWITCH, "1") == "0":
        return False
    try:
        importlib.import_module("ffmpeg_operator.operator.handlers")
    except ImportError:
        return False
    return True


@contextlib.contextmanager
def _operator(
    emulator: RunningEmulator, env: dict[str, str], disk_files: Path
) -> Iterator[Any | None]:
    """The operator in a KopfRunner (its own thread and loop), or None without one."""
    if not operator_available():
        yield None
        return
    import kopf
    import kubernetes
    from kopf.testing import KopfRunner

    from ffmpeg_operator.kube.settings import settings_from_env
    from ffmpeg_operator.operator.config import OperatorConfig
    from ffmpeg_operator.operator.handlers import build_registry

    config = OperatorConfig(
        # A short grace: a test's stop should not wait kubelet's default 30 s.
        pods=dataclasses.replace(settings_from_env(env), termination_grace_period_seconds=5),
        diskfs_root=disk_files,
        memfs_url=env["FFMPEG_OPERATOR_MEMFS_URL"],
        memfs_password=MEMFS_PASSWORD,
    )
    registry, _context = build_registry(config)
    settings = kopf.OperatorSettings()
    settings.watching.server_timeout = 60
    settings.queueing.exit_timeout = 1.0
    # kopf logs in through the kubernetes client, which read $KUBECONFIG at import.
    location = kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION
    kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION = str(emulator.kubeconfig)
    argv = ["run", "--standalone", f"--namespace={NAMESPACE}"]
    try:
        with KopfRunner(argv, registry=registry, settings=settings, timeout=30) as runner:
            emulator.wait_for(
                lambda: emulator.watchers(FFMPEG_PROCESSES) > 0,
                15,
                "the operator does not watch FFmpegProcess objects",
            )
            yield runner
    finally:
        kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION = location


def _pod_addresses() -> Iterator[str]:
    """Pod addresses of a block of 127.0.0.0/8 of this process's own.

    The pod runner counts from 127.0.1.1; two sessions doing so at once (two test runs, a test
    run and a benchmark) would give two Pods one address, and one agent would answer for the
    other's. The second octet follows the process ID instead.
    """
    block = 20 + os.getpid() % 200
    return (f"127.{block}.{n // 254 + 1}.{n % 254 + 1}" for n in range(254 * 254))


@contextlib.contextmanager
def kube_environment(
    directory: Path, *, pods: bool = True, operator: bool = True
) -> Iterator[KubeEnvironment]:
    """Everything of the module docstring, stopped in reverse order at the end."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    memfs_url = f"http://{MEMFS_HOST}:{port}/memfs"
    disk_files = directory / "diskfs"
    disk_files.mkdir(exist_ok=True)
    with contextlib.ExitStack() as stack:
        (directory / "emulator").mkdir(exist_ok=True)
        # Pods stay terminating until the pod runner has stopped their containers, as kubelet.
        emulator = stack.enter_context(
            RunningEmulator(directory / "emulator", graceful_pod_deletion=True)
        )
        emulator.create(CRDS, crd())
        emulator.create(
            "v1/secrets",
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": MEMFS_SECRET, "namespace": NAMESPACE},
                "data": {MEMFS_SECRET_KEY: base64.b64encode(MEMFS_PASSWORD.encode()).decode()},
            },
        )
        env = {
            "KUBECONFIG": str(emulator.kubeconfig),
            "FFMPEG_OPERATOR_MEMFS_URL": memfs_url,
            "FFMPEG_OPERATOR_MEMFS_PASSWORD": MEMFS_PASSWORD,
            "FFMPEG_OPERATOR_MEMFS_SECRET": MEMFS_SECRET,
            "FFMPEG_OPERATOR_MEMFS_SECRET_KEY": MEMFS_SECRET_KEY,
            "FFMPEG_OPERATOR_DISKFS_CLAIM": DISKFS_CLAIM,
            "FFMPEG_OPERATOR_DISKFS_PATH": DISKFS_PATH,
        }
        runner = None
        if pods:
            runner = PodRunner(
                emulator,
                directory / "pods",
                pvc_paths={DISKFS_CLAIM: disk_files},
                isolate_loopback=True,
                max_grace_s=5.0,
            )
            runner._ips = _pod_addresses()
            stack.enter_context(runner)
        kopf_runner = (
            stack.enter_context(_operator(emulator, env, disk_files)) if operator else None
        )
        server = LiveServer(
            data_dir=directory / "api",
            port=port,
            env=env,
            # The API serves {diskfs} (/ and /api/v3/fs/disk) from the PVC, as the chart mounts it.
            args=(
                "--backend",
                "kubernetes",
                "--namespace",
                NAMESPACE,
                "--host",
                "0.0.0.0",
                "--disk-dir",
                str(disk_files),
            ),
        )
        server.start()
        stack.callback(server.stop)
        credentials = f"admin:{MEMFS_PASSWORD}@"
        yield KubeEnvironment(
            emulator=emulator,
            pod_runner=runner,
            operator=kopf_runner,
            server=server,
            memfs_url=memfs_url.replace("http://", f"http://{credentials}"),
            disk_dir=DISKFS_PATH,
            disk_files=disk_files,
        )
