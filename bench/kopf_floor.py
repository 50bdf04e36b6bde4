"""The least a kopf operator can do per FFmpegProcess: a daemon that POSTs one Pod.

Run by ``bench/operator.py`` (``python -m kopf run --standalone -n bench bench/kopf_floor.py``)
as the floor of the framework on the same emulator: kopf's watch, per-object workers, the
finalizer every daemon needs, and one request per object. Not an operator of this project.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import kopf


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    settings.posting.enabled = False
    info = kopf.login_via_client(logger=logging.getLogger(__name__), settings=settings)
    assert info is not None
    memo.server = info.server.rstrip("/")
    memo.session = aiohttp.ClientSession(headers=info.as_http_headers())


@kopf.daemon("ffmpeg-operator.io", "v1alpha1", "ffmpegprocesses")
async def run_pod(
    *, name: str, namespace: str | None, memo: kopf.Memo, stopped: kopf.DaemonStopped, **_: Any
) -> None:
    pod = {
        "metadata": {"name": f"{name}-1"},
        "spec": {"containers": [{"name": "ffmpeg", "image": "ffmpeg"}]},
    }
    url = f"{memo.server}/api/v1/namespaces/{namespace}/pods"
    async with memo.session.post(url, json=pod) as response:
        await response.read()
    await stopped.wait()
