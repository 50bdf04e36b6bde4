"""``ffmpeg-operator operator``: kopf with the operator's handlers, as the Helm chart runs it.

The chart passes ``--liveness=http://0.0.0.0:<port>/healthz --peering=<name> [--priority=N]
--namespace=<ns> | --all-namespaces`` and the environment of
:mod:`ffmpeg_operator.kube.settings`. Without ``--priority``, each replica derives a distinct
peering priority from ``FFMPEG_OPERATOR_POD_NAME`` (kopf pauses every peer when two share the
highest priority). Without ``--peering`` the operator runs standalone.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

import kopf

from ffmpeg_operator.kube.settings import ENV_PREFIX, peering_priority
from ffmpeg_operator.operator.config import OperatorConfig
from ffmpeg_operator.operator.context import login
from ffmpeg_operator.operator.handlers import build_registry
from ffmpeg_operator.operator.kubeclient import KubeClient
from ffmpeg_operator.operator.startup import required_resources, wait_for_crds

__all__ = ["DEFAULT_PRIORITY", "OperatorOptions", "run_operator"]

#: kopf's own default priority, for an operator with neither --priority nor a Pod name.
DEFAULT_PRIORITY = 100


@dataclass(frozen=True)
class OperatorOptions:
    """The command line of ``ffmpeg-operator operator``."""

    namespaces: tuple[str, ...] = ()
    all_namespaces: bool = False
    peering: str | None = None
    priority: int | None = None
    liveness: str | None = None
    verbose: bool = False

    def effective_namespaces(self, env: Mapping[str, str]) -> tuple[str, ...]:
        """The namespaces to watch: the flags, else ``FFMPEG_OPERATOR_NAMESPACE``."""
        if self.namespaces:
            return self.namespaces
        namespace = env.get(ENV_PREFIX + "NAMESPACE", "").strip()
        return (namespace,) if namespace else ()

    def effective_priority(self, env: Mapping[str, str]) -> int:
        if self.priority is not None:
            return self.priority
        pod = env.get(ENV_PREFIX + "POD_NAME", "").strip()
        return peering_priority(pod) if pod else DEFAULT_PRIORITY


async def _wait_for_crds(options: OperatorOptions) -> None:
    client = KubeClient(login)
    try:
        wanted = required_resources(options.peering, options.all_namespaces)
        await wait_for_crds(client, wanted, options.liveness)
    finally:
        await client.close()


def run_operator(options: OperatorOptions, env: Mapping[str, str] | None = None) -> None:
    """Run until SIGTERM/SIGINT. Raises ValueError when no namespace is chosen."""
    env = os.environ if env is None else env
    namespaces = options.effective_namespaces(env)
    if options.all_namespaces and options.namespaces:
        raise ValueError("--namespace and --all-namespaces exclude each other")
    if not options.all_namespaces and not namespaces:
        raise ValueError(f"choose --namespace (or {ENV_PREFIX}NAMESPACE) or --all-namespaces")
    registry, _context = build_registry(
        OperatorConfig.from_env(env),
        watched_namespaces=1 if options.all_namespaces else len(namespaces),
    )
    kopf.configure(verbose=options.verbose)
    asyncio.run(_wait_for_crds(options))
    if not options.verbose:
        # kopf logs every handler call of every object ("Handler ... succeeded") at INFO:
        # with a thousand objects that is most of the operator's CPU. Problems still show.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    settings = kopf.OperatorSettings()
    # A namespaced operator (the chart's Role) may not list CRDs and namespaces: say so, rather
    # than have kopf try, warn and fall back to the same.
    settings.scanning.disabled = not options.all_namespaces
    kopf.run(
        registry=registry,
        settings=settings,
        standalone=options.peering is None,
        peering_name=options.peering,
        priority=options.effective_priority(env),
        clusterwide=options.all_namespaces,
        namespaces=() if options.all_namespaces else namespaces,
        liveness_endpoint=options.liveness,
    )
