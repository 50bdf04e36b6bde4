"""The Restreamer UI's first-run registration (``PUT /api/v3/config`` in no-auth mode, then
``GET /api/v3/config/reload``): stored, enforced after the reload and after a restart, on the
embedded server (a file) and on the Kubernetes backend (a Secret)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backends import BackendServer
from livesrv import LiveServer, live_server

#: What the UI's "User registration" dialog sends (RestreamerUI.js, handlePasswordReset).
REGISTRATION = {
    "api": {"auth": {"enable": True, "username": "admin", "password": "s3cret-pw"}},
    "version": 3,
}
SECRET_NAME = "ui-settings"


def _login(client: httpx.Client, password: str = "s3cret-pw") -> str:
    response = client.post("/api/login", json={"username": "admin", "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def _register_and_reload(client: httpx.Client) -> None:
    """The UI's steps, checking what it checks at each one."""
    about = client.get("/api").json()
    assert about["auths"] == []
    assert about["id"]  # a full about without a token: the UI needs no login
    config = client.get("/api/v3/config").json()
    assert "api.auth.enable" not in config["overrides"]  # the UI offers registration
    assert client.post("/api/login", json={"username": "a", "password": "b"}).status_code == 404

    stored = client.put("/api/v3/config", json=REGISTRATION)
    assert stored.status_code == 200
    assert stored.json() == "OK"
    shown = client.get("/api/v3/config").json()["config"]["api"]["auth"]
    assert shown == {**shown, "enable": True, "username": "admin", "password": "s3cret-pw"}
    # Stored, not yet running: as in Core, the reload applies it.
    assert client.get("/api/v3/process").status_code == 200

    assert client.get("/api/v3/config/reload").json() == "OK"
    # The UI waits until GET /api changes; without a token it now gets the minimal about.
    assert client.get("/api").json() == {
        "app": "datarhei-core",
        "auths": ["localjwt"],
        "version": {"number": "16.0.0"},
    }
    assert client.get("/api/v3/process").status_code == 401


def _assert_enforced(client: httpx.Client) -> None:
    assert client.get("/api/v3/process").status_code == 401
    token = _login(client)
    authorized = client.get("/api/v3/process", headers={"Authorization": f"Bearer {token}"})
    assert authorized.status_code == 200
    about = client.get("/api", headers={"Authorization": f"Bearer {token}"}).json()
    assert about["auths"] == ["localjwt"]
    assert about["created_at"]


def test_registration_is_enforced_after_reload_and_restart(tmp_path: Path) -> None:
    with live_server(tmp_path / "data") as server, server.client() as client:
        before = client.get("/api").json()["created_at"]
        _register_and_reload(client)
        token = _login(client)
        after = client.get("/api", headers={"Authorization": f"Bearer {token}"}).json()
        assert after["created_at"] >= before
        server.restart()
        _assert_enforced(client)
        stored = tmp_path / "data" / "config.json"
        assert stored.stat().st_mode & 0o777 == 0o600


def test_changing_the_password_ends_the_old_tokens(tmp_path: Path) -> None:
    with live_server(tmp_path / "data") as server, server.client() as client:
        _register_and_reload(client)
        old = {"Authorization": f"Bearer {_login(client)}"}
        change = {"version": 3, "api": {"auth": {"password": "other-pw"}}}
        assert client.put("/api/v3/config", json=change, headers=old).status_code == 200
        assert client.get("/api/v3/config/reload", headers=old).status_code == 200
        assert client.get("/api/v3/process", headers=old).status_code == 401
        new = {"Authorization": f"Bearer {_login(client, 'other-pw')}"}
        assert client.get("/api/v3/process", headers=new).status_code == 200


def test_auth_from_the_command_line_is_an_override_the_api_cannot_change(
    tmp_path: Path,
) -> None:
    args = ("--auth-user", "admin", "--auth-password", "s3cret-pw")
    with live_server(tmp_path / "data", args=args) as server, server.client() as client:
        headers = {"Authorization": f"Bearer {_login(client)}"}
        config = client.get("/api/v3/config", headers=headers).json()
        assert {"api.auth.enable", "api.auth.username", "api.auth.password"} <= set(
            config["overrides"]
        )
        auth = config["config"]["api"]["auth"]
        assert (auth["enable"], auth["username"], auth["password"]) == (True, "admin", "s3cret-pw")
        change = {"version": 3, "api": {"auth": {"password": "other"}}}
        refused = client.put("/api/v3/config", json=change, headers=headers)
        assert refused.status_code == 409
        assert list(refused.json()) == ["api.auth.password"]
        assert not (tmp_path / "data" / "config.json").exists()


# --- Kubernetes: the settings live in a Secret ---------------------------------------------------


@pytest.fixture
def kube_api_with_secret(
    kube_backend_server: BackendServer, tmp_path: Path
) -> Iterator[LiveServer]:
    """A second API server on the session's emulator, keeping its settings in a Secret."""
    env = kube_backend_server.kube
    server = LiveServer(
        data_dir=tmp_path / "api",
        env={"KUBECONFIG": str(env.emulator.kubeconfig)},
        args=(
            "--backend",
            "kubernetes",
            "--namespace",
            "default",
            "--settings-secret",
            SECRET_NAME,
        ),
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
        if env.emulator.get("v1/secrets", "default", SECRET_NAME) is not None:
            env.emulator.delete("v1/secrets", "default", SECRET_NAME)


def test_kubernetes_registration_is_kept_in_the_secret(
    kube_api_with_secret: LiveServer, kube_backend_server: BackendServer
) -> None:
    emulator = kube_backend_server.kube.emulator
    # No chart or build renders it (a render would reset it): the API creates it.
    assert emulator.get("v1/secrets", "default", SECRET_NAME) is None
    with kube_api_with_secret.client() as client:
        _register_and_reload(client)
        secret = emulator.get("v1/secrets", "default", SECRET_NAME)
        assert secret is not None
        stored = json.loads(base64.b64decode(secret["data"]["config.json"]))
        assert stored["api"]["auth"] == {
            "enable": True,
            "username": "admin",
            "password": "s3cret-pw",
        }
        # A new Pod (here: a restart with an empty data directory) reads it from the Secret.
        kube_api_with_secret.stop()
        for path in sorted(kube_api_with_secret.data_dir.rglob("*"), reverse=True):
            if path.is_file():
                path.unlink()
        kube_api_with_secret.start()
        _assert_enforced(client)


def test_kubernetes_registration_fills_the_secret_an_earlier_chart_left(
    kube_api_with_secret: LiveServer, kube_backend_server: BackendServer
) -> None:
    # Earlier chart versions rendered it empty with resource-policy keep; an upgrade keeps it.
    emulator = kube_backend_server.kube.emulator
    keep = {"helm.sh/resource-policy": "keep"}
    emulator.create("v1/secrets", {"metadata": {"name": SECRET_NAME, "annotations": keep},
                                   "type": "Opaque"}, "default")  # fmt: skip
    with kube_api_with_secret.client() as client:
        _register_and_reload(client)
    secret = emulator.get("v1/secrets", "default", SECRET_NAME)
    assert secret is not None
    assert secret["metadata"]["annotations"] == keep
    stored = json.loads(base64.b64decode(secret["data"]["config.json"]))
    assert stored["api"]["auth"]["username"] == "admin"


def test_configured_name_is_the_name_of_the_instance(tmp_path: Path) -> None:
    with live_server(tmp_path / "data") as server, server.client() as client:
        assert client.get("/api").json()["name"] == "ffmpeg-operator"
        assert client.put("/api/v3/config", json={"version": 3, "name": "studio-1"}).is_success
        assert client.get("/api").json()["name"] == "studio-1"
        assert client.get("/api/v3/config").json()["config"]["name"] == "studio-1"
