"""Watch expiry on the real apiserver: 410 Gone (Expired) from a compacted resourceVersion, and
the operator's kopf relisting after it.

Compacting etcd alone does not expire a watch: kube-apiserver serves watches (and exact lists)
from its watch cache, which still holds the compacted revisions (on this cluster a watch and an
``Exact`` list from a revision just compacted were both answered 200). A resourceVersion expires
once it is older than the cache's window, which starts over when the apiserver starts: so the
test compacts etcd, restarts kube-apiserver once, and then asks from the old resourceVersion
itself. The operator runs as a local process with ``--verbose`` (the chart's image runs the same
code, without a way to turn on kopf's debug log, where kopf reports the 410).

Restarting the apiserver ends every watch of the shared cluster: one restart, one test.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from realkit import Kube, cluster, etcd_compact, eventually, local_operator, unschedulable_process

from ffmpeg_operator.kube.names import GROUP, PROCESS_LABEL
from ffmpeg_operator.kube.spec import PLURAL, VERSION

pytestmark = [pytest.mark.realcluster, pytest.mark.timeout(300)]

NAMESPACE = "ffmpeg-rc-expiry"
PROCESSES = f"/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/{PLURAL}"
#: What kopf logs (debug) when a watch answers 410: it ends the stream and lists again.
RESTARTED = f"Restarting the watch-stream for {PLURAL}.{VERSION}.{GROUP} in '{NAMESPACE}'"


@pytest.fixture
def operator_log(kube: Kube, crd: None, tmp_path: Path) -> Iterator[Path]:
    """``ffmpeg-operator operator --verbose`` on the namespace, its log file; all gone after."""
    log = tmp_path / "operator.log"
    with local_operator(kube, NAMESPACE, log, "--verbose"):
        yield log


def _run_pods(kube: Kube, name: str) -> list[dict[str, Any]]:
    return kube.items("pods", "-l", f"{PROCESS_LABEL}={name}", namespace=NAMESPACE)


def _first_watch_event(path: str, version: str) -> dict[str, Any]:
    lay = cluster.layout()
    url = f"{lay.server}{path}?watch=1&resourceVersion={version}&timeoutSeconds=10"
    context = cluster._ssl_context(lay)
    with urllib.request.urlopen(url, context=context, timeout=30) as stream:
        event: dict[str, Any] = json.loads(stream.readline())
    return event


def test_a_watch_from_a_compacted_version_is_410_and_the_operator_relists_and_goes_on(
    kube: Kube, operator_log: Path
) -> None:
    lay = cluster.layout()
    before = unschedulable_process("rc-expiry-before", NAMESPACE)
    kube.apply([before])
    before_name = before["metadata"]["name"]
    eventually(lambda: _run_pods(kube, before_name), 60, "the first run Pod")
    status, listed = cluster.api(lay, "GET", PROCESSES)
    assert status == 200 and isinstance(listed, dict)
    old = listed["metadata"]["resourceVersion"]  # where a watch of the objects stands now
    # One write after it: etcd keeps the revision it is compacted to, and drops those before.
    kube.apply([{"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": "after-the-list", "namespace": NAMESPACE}}])  # fmt: skip
    assert int(etcd_compact()) > int(old)
    cluster.restart("kube-apiserver")

    event = _first_watch_event(PROCESSES, old)
    assert event["type"] == "ERROR", event
    assert (event["object"]["code"], event["object"]["reason"]) == (410, "Expired"), event
    status, answer = cluster.api(
        lay, "GET", f"{PROCESSES}?resourceVersion={old}&resourceVersionMatch=Exact"
    )
    assert status == 410 and isinstance(answer, dict) and answer["reason"] == "Expired", answer

    # kopf resumed from its own (now expired) resourceVersion, was answered 410, listed anew.
    eventually(lambda: RESTARTED in operator_log.read_text(), 120,
               f"'{RESTARTED}' in the operator's log")  # fmt: skip
    after = unschedulable_process("rc-expiry-after", NAMESPACE)
    kube.apply([after])
    after_name = after["metadata"]["name"]
    eventually(lambda: _run_pods(kube, after_name), 120, "the run Pod of the object made after")
    time.sleep(3)  # a duplicate from a replayed list would be there by now
    assert len(_run_pods(kube, after_name)) == 1
    assert len(_run_pods(kube, before_name)) == 1
