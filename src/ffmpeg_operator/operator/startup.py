"""Before kopf starts: wait until the API server serves the resources the operator needs.

kopf resolves its resources once at start: a namespaced operator (no permission to watch CRDs)
whose FFmpegProcess CRD or peering CRD is not installed yet (a fresh cluster, a one-shot GitOps
apply) would serve nothing until restarted, its health check green. So the operator first
waits for both, with a clear log line, answering the chart's probes meanwhile: ``/healthz``
(liveness) 200, ``/healthz?ready`` (readiness) 503. kopf's own endpoint takes the port over once
it starts, and answers both.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from urllib.parse import urlsplit

import aiohttp.web

from ffmpeg_operator.kube.names import GROUP
from ffmpeg_operator.kube.spec import PLURAL, VERSION
from ffmpeg_operator.operator.kubeclient import KubeClient

__all__ = ["CRD_POLL_S", "Resource", "missing_resources", "required_resources", "wait_for_crds"]

log = logging.getLogger(__name__)

#: Seconds between two looks for missing CRDs.
CRD_POLL_S = 2.0

Resource = tuple[str, str, str]  # (group, version, plural)


def required_resources(peering: str | None, cluster_wide: bool) -> list[Resource]:
    """FFmpegProcess, and kopf's (cluster) peering when the operator runs with one."""
    resources: list[Resource] = [(GROUP, VERSION, PLURAL)]
    if peering is not None:
        resources.append(
            ("kopf.dev", "v1", "clusterkopfpeerings" if cluster_wide else "kopfpeerings")
        )
    return resources


async def missing_resources(client: KubeClient, wanted: Sequence[Resource]) -> list[Resource]:
    """Those of ``wanted`` the API server's discovery does not list."""
    missing = []
    for group, version, plural in wanted:
        status, body = await client.request("GET", f"/apis/{group}/{version}")
        served = {r.get("name") for r in body.get("resources", [])} if status == 200 else set()
        if plural not in served:
            missing.append((group, version, plural))
    return missing


def _describe(resources: Sequence[Resource]) -> str:
    return ", ".join(f"{plural}.{group}" for group, _, plural in resources)


async def _probe_server(liveness: str) -> aiohttp.web.AppRunner:
    url = urlsplit(liveness)

    async def health(request: aiohttp.web.Request) -> aiohttp.web.Response:
        if "ready" in request.query:
            return aiohttp.web.Response(status=503, text="waiting for CRDs")
        return aiohttp.web.Response(text="alive, waiting for CRDs")

    app = aiohttp.web.Application()
    app.router.add_get(url.path or "/", health)
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    await aiohttp.web.TCPSite(runner, url.hostname or "0.0.0.0", url.port or 80).start()
    return runner


async def wait_for_crds(
    client: KubeClient, wanted: Sequence[Resource], liveness: str | None, poll: float = CRD_POLL_S
) -> None:
    """Return once every resource of ``wanted`` is served (at once when they are)."""
    missing = await missing_resources(client, wanted)
    if not missing:
        return
    log.warning(
        "waiting for the CRDs of %s to be installed; not ready until then (checking every %g s)",
        _describe(missing), poll,
    )  # fmt: skip
    runner = await _probe_server(liveness) if liveness else None
    try:
        while missing:
            await asyncio.sleep(poll)
            missing = await missing_resources(client, wanted)
    finally:
        if runner is not None:
            await runner.cleanup()
    log.info("the CRDs are installed: starting")
