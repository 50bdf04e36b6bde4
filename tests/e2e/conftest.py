"""The kind end-to-end suite (``make e2e-kind``): skipped unless its cluster answers.

Runs against the kubeconfig context ``E2E_KUBE_CONTEXT`` (default ``kind-ffmpeg-operator-e2e``,
the cluster ``make e2e-kind`` creates) and nothing else, with the Helm release of the chart in
``E2E_NAMESPACE``.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from e2ekit import Kubectl, Settings, api_client, port_forward


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings.from_environment()


@pytest.fixture(scope="session")
def kubectl(settings: Settings) -> Kubectl:
    client = Kubectl(settings)
    why_not = client.reachable()
    if why_not is not None:
        pytest.skip(f"no kind cluster for the e2e suite ({why_not}); run `make e2e-kind`")
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
