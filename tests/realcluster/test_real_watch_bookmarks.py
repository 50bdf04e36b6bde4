"""Bookmarks on the real apiserver: what the API's watch liveness rests on.

The API counts a watch of FFmpegProcess objects as dead after 70 s without an event
(``kubeclient.WATCH_INACTIVITY``, kopf's ``inactivity_timeout`` is the same) because kube-apiserver
sends a BOOKMARK every minute to a watch that asks for them, also when nothing changes. If a
release stopped doing so, every quiet watch of the API would be replaced every 70 s: this test
says so first.
"""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest
from realkit import Kube, cluster

from ffmpeg_operator.api.backends.kubeclient import WATCH_INACTIVITY
from ffmpeg_operator.kube.names import GROUP
from ffmpeg_operator.kube.spec import PLURAL, VERSION

pytestmark = [pytest.mark.realcluster, pytest.mark.timeout(180)]

#: A namespace nothing writes to: the watch below stays quiet.
NAMESPACE = "ffmpeg-rc-bookmarks"
PROCESSES = f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{PLURAL}"


def _get(url: str, timeout: float) -> Any:
    lay = cluster.layout()
    return urllib.request.urlopen(
        f"{lay.server}{url}", context=cluster._ssl_context(lay), timeout=timeout
    )


def test_a_quiet_watch_that_allows_bookmarks_gets_one_within_the_api_s_inactivity_limit(
    kube: Kube, crd: None
) -> None:
    with _get(PROCESSES, timeout=30) as listed:
        version = json.load(listed)["metadata"]["resourceVersion"]
    query = f"?watch=1&allowWatchBookmarks=true&resourceVersion={version}&timeoutSeconds=150"

    started = time.monotonic()
    with _get(PROCESSES + query, timeout=WATCH_INACTIVITY) as stream:
        event = json.loads(stream.readline())
    waited = time.monotonic() - started

    assert event["type"] == "BOOKMARK", event
    assert waited < WATCH_INACTIVITY
    assert int(event["object"]["metadata"]["resourceVersion"]) >= int(version)
