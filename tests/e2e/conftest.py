"""The kind end-to-end suite (``make e2e-kind``, ``make e2e-local``): a tier of its own.

Collected only when those targets run it (``FFMPEG_OPERATOR_E2E=1``), as tests/realcluster:
the unit tier's ``pytest`` does not collect it, so no run of ``make test`` passes by skipping
it. Its cluster unreachable, it skips, and fails under ``CI=true`` (tests/tiers.py).

Runs against the kubeconfig context ``E2E_KUBE_CONTEXT`` (default ``kind-ffmpeg-operator-e2e``,
the cluster ``make e2e-kind`` creates) and nothing else, with the Helm release of the chart in
``E2E_NAMESPACE``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
from e2ekit import Kubectl, Settings, api_client, port_forward

from tiers import unavailable

if os.environ.get("FFMPEG_OPERATOR_E2E") != "1":
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_environment()


@pytest.fixture(scope="session")
def kubectl(settings: Settings) -> Kubectl:
    client = Kubectl(settings)
    why_not = client.reachable()
    if why_not is not None:
        unavailable(f"no kind cluster for the e2e suite ({why_not}); run `make e2e-kind`")
    return client


@pytest.fixture(scope="session")
def api(kubectl: Kubectl, settings: Settings) -> Iterator[httpx.Client]:
    """The v3 API of the Helm release, through a port-forward of its Service."""
    with port_forward(kubectl, settings.api_service, 8080) as base_url:
        client = api_client(base_url, settings)
        try:
            yield client
        finally:
            client.close()
