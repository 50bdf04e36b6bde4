"""kopf's API session: the operator's login handler gives it a bounded connection pool."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import kopf
import pytest

from ffmpeg_operator.operator.context import (
    KOPF_REQUEST_CONNECTIONS,
    WATCHES_PER_NAMESPACE,
    kopf_login,
)

pytestmark = pytest.mark.timeout(30)


async def _logged_in(namespaces: int) -> kopf.AiohttpSession:
    login = kopf_login(namespaces)
    info = await login(logger=logging.getLogger(__name__), settings=kopf.OperatorSettings())
    assert isinstance(info, kopf.AiohttpSession)
    return info


async def test_kopf_session_pool_holds_every_watch_and_a_bounded_number_of_requests(
    kubeconfig: Path,
) -> None:
    info = await _logged_in(namespaces=3)
    try:
        connector = info.aiohttp_session.connector
        assert isinstance(connector, aiohttp.TCPConnector)
        assert connector.limit == KOPF_REQUEST_CONNECTIONS + 3 * WATCHES_PER_NAMESPACE
    finally:
        await info.aiohttp_session.close()


async def test_kopf_session_reaches_the_api_server_with_kopfs_credentials(
    kubeconfig: Path,
) -> None:
    plain = kopf.login_via_client(
        logger=logging.getLogger(__name__), settings=kopf.OperatorSettings()
    )
    assert plain is not None
    info = await _logged_in(namespaces=1)
    try:
        assert info.server == plain.server
        # Preferred over kopf's own login of the same credentials, should both be registered.
        assert info.priority > plain.priority
        async with info.aiohttp_session.get(info.server.rstrip("/") + "/api/v1") as response:
            assert response.status == 200
            assert any(r["name"] == "pods" for r in (await response.json())["resources"])
    finally:
        await info.aiohttp_session.close()
