"""The least a kopf operator can do per FFmpegProcess: a daemon that POSTs its run Pod.

Run by ``bench/operator.py`` (``python -m kopf run --standalone -n bench bench/kopf_floor.py``)
and ``bench/realoperator.py`` as the floor of the framework on the same path: kopf's watch,
per-object workers, the finalizer every daemon needs, and one request per object. The Pod is
the operator's own run Pod (``build_run_pod``, settings from the same environment), so all
three paths of the bench create the same objects. Not an operator of this project.
"""

from __future__ import annotations

import logging
import os
import ssl
from typing import Any

import aiohttp
import kopf

from ffmpeg_operator.core.models import ProcessConfig
from ffmpeg_operator.kube.pod import build_run_pod
from ffmpeg_operator.kube.settings import settings_from_env


def _no_refs(_pid: str) -> ProcessConfig | None:
    return None


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.posting.enabled = False
    info = kopf.login_via_client(logger=logging.getLogger(__name__), settings=settings)
    assert info is not None
    memo.server = info.server.rstrip("/")
    memo.pods = settings_from_env(os.environ)
    memo.session = aiohttp.ClientSession(
        headers=info.as_http_headers(), connector=aiohttp.TCPConnector(ssl=_tls(info))
    )


def _tls(info: kopf.ConnectionInfo) -> ssl.SSLContext | bool:
    """The kubeconfig's CA and client certificate (files, as the local cluster's are)."""
    if not info.server.startswith("https"):
        return True
    context = ssl.create_default_context(cafile=info.ca_path)
    if info.certificate_path and info.private_key_path:
        context.load_cert_chain(info.certificate_path, info.private_key_path)
    return context


@kopf.daemon("ffmpeg-operator.io", "v1alpha1", "ffmpegprocesses")
async def run_pod(
    *, body: kopf.Body, namespace: str | None, memo: kopf.Memo, stopped: kopf.DaemonStopped,
    **_: Any,
) -> None:  # fmt: skip
    pod = build_run_pod(body, 1, memo.pods, _no_refs).manifest
    url = f"{memo.server}/api/v1/namespaces/{namespace}/pods"
    async with memo.session.post(url, json=pod) as response:
        await response.read()
    await stopped.wait()
