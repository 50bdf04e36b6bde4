"""Spec §12 acceptance, authentication on a live server (case 43; §10).

One server with ``--auth-user admin --auth-password secret`` for the module; the token
machinery itself is unit-tested in ``test_auth.py``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from acceptance_helpers import error_body, fixture

from livesrv import LiveServer, live_server

USER, PASSWORD = "admin", "secret"
INVALID_TOKEN = error_body(401, "Unauthorized", "Missing or invalid JWT token")


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir: Path = tmp_path_factory.mktemp("auth-server") / "data"
    with live_server(data_dir, args=("--auth-user", USER, "--auth-password", PASSWORD)) as server:
        yield server


@pytest.fixture
def client(auth_server: LiveServer) -> Iterator[httpx.Client]:
    with auth_server.client() as api:
        yield api


@pytest.fixture(scope="module")
def tokens(auth_server: LiveServer) -> dict[str, str]:
    with auth_server.client() as api:
        response = api.post("/api/login", json={"username": USER, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_process_list_without_token_is_401(client: httpx.Client) -> None:
    response = client.get("/api/v3/process")
    assert response.status_code == 401
    assert response.json() == INVALID_TOKEN


def test_process_post_without_token_is_401_and_creates_nothing(
    client: httpx.Client, tokens: dict[str, str]
) -> None:
    config = fixture()
    response = client.post("/api/v3/process", json=config)
    assert response.status_code == 401
    assert response.json() == INVALID_TOKEN
    listed = client.get(
        "/api/v3/process", params={"id": config["id"]}, headers=bearer(tokens["access_token"])
    )
    assert listed.json() == []


def test_single_process_read_without_token_is_401(
    client: httpx.Client, tokens: dict[str, str]
) -> None:
    config = fixture()
    headers = bearer(tokens["access_token"])
    assert client.post("/api/v3/process", json=config, headers=headers).status_code == 200
    try:
        for wrong in ({}, bearer("not-a-token"), bearer(tokens["refresh_token"])):
            response = client.get(f"/api/v3/process/{config['id']}", headers=wrong)
            assert (response.status_code, response.json()) == (401, INVALID_TOKEN)
    finally:
        client.delete(f"/api/v3/process/{config['id']}", headers=headers)


def test_about_without_token_is_200_minimal(client: httpx.Client) -> None:
    response = client.get("/api")
    assert response.status_code == 200
    assert response.json() == {
        "app": "datarhei-core",
        "auths": ["localjwt"],
        "version": {"number": "16.0.0"},
    }


def test_about_with_access_token_is_the_full_about(
    client: httpx.Client, tokens: dict[str, str]
) -> None:
    about = client.get("/api", headers=bearer(tokens["access_token"])).json()
    assert about["auths"] == ["localjwt"]
    assert about["version"]["number"] == "16.16.0"
    assert "uptime_seconds" in about


def test_ping_needs_no_token(client: httpx.Client) -> None:
    assert client.get("/ping").text == "pong"


def test_login_with_wrong_password_is_401_after_five_seconds(client: httpx.Client) -> None:
    started = time.monotonic()
    response = client.post("/api/login", json={"username": USER, "password": "wrong"})
    elapsed = time.monotonic() - started
    assert response.status_code == 401
    assert response.json() == error_body(
        401, "Unauthorized", "Invalid authorization credentials: invalid username or password"
    )
    assert elapsed >= 5.0


def test_login_returns_access_and_refresh_tokens(tokens: dict[str, str]) -> None:
    assert list(tokens) == ["access_token", "refresh_token"]
    access = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    refresh = jwt.decode(tokens["refresh_token"], options={"verify_signature": False})
    assert (access["usefor"], access["exi"], access["sub"]) == ("access", 600, USER)
    assert (refresh["usefor"], refresh["exi"]) == ("refresh", 86400)


def test_access_token_opens_the_process_api(client: httpx.Client, tokens: dict[str, str]) -> None:
    headers = bearer(tokens["access_token"])
    config = fixture()
    assert client.post("/api/v3/process", json=config, headers=headers).status_code == 200
    assert client.get(f"/api/v3/process/{config['id']}", headers=headers).status_code == 200
    assert client.delete(f"/api/v3/process/{config['id']}", headers=headers).json() == "OK"


def test_refresh_token_gives_a_new_access_token(
    client: httpx.Client, tokens: dict[str, str]
) -> None:
    response = client.get("/api/login/refresh", headers=bearer(tokens["refresh_token"]))
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["access_token"]
    opened = client.get("/api/v3/process", headers=bearer(body["access_token"]))
    assert opened.status_code == 200


def test_refresh_token_does_not_open_the_process_api(
    client: httpx.Client, tokens: dict[str, str]
) -> None:
    response = client.get("/api/v3/process", headers=bearer(tokens["refresh_token"]))
    assert response.status_code == 401
    assert response.json() == INVALID_TOKEN


def test_access_token_cannot_refresh(client: httpx.Client, tokens: dict[str, str]) -> None:
    response = client.get("/api/login/refresh", headers=bearer(tokens["access_token"]))
    assert response.status_code == 401
    assert response.json() == INVALID_TOKEN
