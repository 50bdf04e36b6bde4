"""Fixtures of the kube tests.

- ``crd_schema``: the generated CRD's schema (validate custom objects offline).
- ``emulator``: a fresh :class:`emulator.RunningEmulator` per test (starting one takes a few
  ms): a Kubernetes API over real HTTP at ``emulator.url``, objects through ``emulator.get/
  objects/create/patch/patch_status/delete``, kmock's DSL on ``emulator.handler``. The test
  fails at teardown when the emulator answered any request with a 500.
- ``kubeconfig``: ``emulator.kubeconfig``, made the default of ``kubernetes``,
  ``kubernetes_asyncio``, kopf's ``login_via_client`` and subprocesses (``$KUBECONFIG``).
- ``kopf_runner_factory``: ``start(registry, ...)`` runs a kopf operator against the emulator
  in a thread (``kopf.testing.KopfRunner``) and stops it at teardown (re-raising its failures).
  While it runs, ``sys.stdout`` is kopf's capture: print debugging to ``sys.__stdout__``.
- ``pod_runner``: a :class:`podrunner.PodRunner` playing kubelet for the emulator's Pods.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kopf
import kubernetes
import kubernetes_asyncio
import pytest
from crdschema import CRDSchema
from emulator import FFMPEG_PROCESSES, RunningEmulator, as_resource
from kopf.testing import KopfRunner
from podrunner import PodRunner

from ffmpeg_operator.kube.crd import crd


@pytest.fixture(scope="session")
def crd_schema() -> CRDSchema:
    return CRDSchema(crd())


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[RunningEmulator]:
    with RunningEmulator(tmp_path) as running:
        yield running
    if running.errors:  # a 500 from the emulator is a bug there or a request it cannot take
        pytest.fail(f"the emulator failed on requests: {running.errors!r}")


@pytest.fixture
def kubeconfig(emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = str(emulator.kubeconfig)
    monkeypatch.setenv("KUBECONFIG", path)
    # Both clients read $KUBECONFIG once, at import.
    monkeypatch.setattr(kubernetes.config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", path)
    monkeypatch.setattr(kubernetes_asyncio.config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", path)
    # In-cluster login comes first in kopf's login_via_client: make sure it fails.
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return emulator.kubeconfig


class OperatorRunner(KopfRunner):
    """A :class:`KopfRunner` that knows its emulator (to wait until the operator watches)."""

    def __init__(self, emulator: RunningEmulator, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.emulator = emulator

    def wait_watching(self, resource: Any = FFMPEG_PROCESSES, timeout: float = 10.0) -> None:
        """Block until the operator has a watch stream open on ``resource``."""
        self.emulator.wait_for(
            lambda: (
                self.emulator.watchers(as_resource(resource)) > 0
                or self._thread.is_alive() is False
            ),
            timeout,
            f"the operator did not start watching {resource}",
        )
        if not self._thread.is_alive():
            raise RuntimeError(f"the operator exited: {self.future.result().output}")


@pytest.fixture
def kopf_runner_factory(
    emulator: RunningEmulator, kubeconfig: Path
) -> Iterator[Callable[..., OperatorRunner]]:
    """``start(registry=None, *, modules=(), paths=(), namespaces=("default",),
    clusterwide=False, peering=None, settings=None, args=(), wait=FFMPEG_PROCESSES)``.

    ``registry``: a ``kopf.OperatorRegistry`` (``kopf.login_via_client`` is added to it);
    ``modules``/``paths`` are imported by kopf into it (a module imported before is not
    re-imported, so prefer registries built by a function). ``peering=None`` runs standalone;
    a name creates that ``KopfPeering`` and runs with it. ``settings`` is a
    ``kopf.OperatorSettings`` or a callable tweaking the default one. ``wait`` is a resource to
    wait for a watch on before returning (None: return at once).
    """
    started: list[OperatorRunner] = []

    def start(
        registry: kopf.OperatorRegistry | None = None,
        *,
        modules: tuple[str, ...] = (),
        paths: tuple[str, ...] = (),
        namespaces: tuple[str, ...] = ("default",),
        clusterwide: bool = False,
        peering: str | None = None,
        settings: kopf.OperatorSettings | Callable[[kopf.OperatorSettings], None] | None = None,
        args: tuple[str, ...] = (),
        wait: Any = FFMPEG_PROCESSES,
    ) -> OperatorRunner:
        registry = registry if registry is not None else kopf.OperatorRegistry()
        kopf.on.login(registry=registry)(kopf.login_via_client)  # deduplicated by its id
        if not isinstance(settings, kopf.OperatorSettings):
            tweak, settings = settings, _fast_settings()
            if tweak is not None:
                tweak(settings)
        argv = ["run", "--verbose", *args]
        argv += ["--all-namespaces"] if clusterwide else [f"--namespace={ns}" for ns in namespaces]
        if peering is None:
            argv.append("--standalone")
        else:
            emulator.call(emulator.handler.register_kopf_peering)
            peering_namespace = None if clusterwide else namespaces[0]
            kind = "clusterkopfpeerings" if clusterwide else "kopfpeerings"
            if emulator.get(f"kopf.dev/v1/{kind}", peering_namespace, peering) is None:
                emulator.create(
                    f"kopf.dev/v1/{kind}", {"metadata": {"name": peering}}, peering_namespace
                )
            argv.append(f"--peering={peering}")
        argv += [arg for module in modules for arg in ("-m", module)]
        argv += list(paths)
        runner = OperatorRunner(emulator, argv, registry=registry, settings=settings, timeout=30)
        runner.__enter__()
        started.append(runner)
        if wait is not None:
            runner.wait_watching(wait)
        return runner

    yield start
    for runner in reversed(started):
        runner.__exit__(None, None, None)


def _fast_settings() -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    settings.watching.server_timeout = 60
    settings.queueing.exit_timeout = 1.0  # a stopping test operator does not linger
    return settings


@pytest.fixture
def pod_runner(emulator: RunningEmulator, tmp_path: Path) -> Iterator[PodRunner]:
    with PodRunner(emulator, tmp_path / "pods") as runner:
        yield runner
