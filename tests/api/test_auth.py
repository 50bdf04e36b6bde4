"""JWT authentication like datarhei Core's localjwt validator (spec §10, §12 case 43)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ffmpeg_operator.api.auth import (
    AuthSettings,
    auths,
    install_auth,
    is_authorized,
    minimal_about,
)
from ffmpeg_operator.api.errors import install_error_handlers
from ffmpeg_operator.api.memfs import memfs_router
from ffmpeg_operator.api.routing import Routes, include
from ffmpeg_operator.api.wire import json_response
from ffmpeg_operator.application import Application
from ffmpeg_operator.runtime.memfs import MemFS

USERNAME = "admin"
PASSWORD = "datarhei"
JWT_SECRET = "0123456789abcdef0123456789abcdef"
SECRET = USERNAME + PASSWORD + JWT_SECRET
DELAY = 0.2
REMOTE = ("10.1.2.3", 40000)
UNAUTHORIZED = {"code": 401, "message": "Unauthorized", "details": ["Missing or invalid JWT token"]}
FULL_ABOUT = {"app": "datarhei-core", "name": "full"}


def _settings(**changes: Any) -> AuthSettings:
    values: dict[str, Any] = {
        "enable": True,
        "username": USERNAME,
        "password": PASSWORD,
        "jwt_secret": JWT_SECRET,
        "login_failure_delay": DELAY,
    }
    values.update(changes)
    return AuthSettings(**values)


def _app(settings: AuthSettings) -> Application:
    app = Application()
    install_error_handlers(app)
    install_auth(app, settings)
    include(app, memfs_router(MemFS(), "memfs", "pw"))
    routes = Routes()

    @routes.get("/api")
    async def about(request: Request) -> Response:
        if is_authorized(request):
            return json_response(FULL_ABOUT)
        return json_response(minimal_about(settings))

    @routes.get("/ping")
    async def ping() -> Response:
        return PlainTextResponse("pong")

    @routes.get("/api/v3/process")
    async def processes() -> Response:
        return json_response([])

    @routes.get("/api/v3/widget/process/{pid}")
    async def widget(pid: str) -> Response:
        return json_response({"id": pid})

    include(app, routes)
    return app


def _client(settings: AuthSettings, address: tuple[str, int] = REMOTE) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=_app(settings), client=address)
    return httpx.AsyncClient(transport=transport, base_url="http://core")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with _client(_settings()) as client:
        yield client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _craft(secret: str = SECRET, **claims: Any) -> str:
    now = int(time.time())
    values: dict[str, Any] = {
        "iss": "datarhei-core",
        "sub": USERNAME,
        "usefor": "access",
        "iat": now,
        "exp": now + 600,
        "exi": 600,
        "jti": str(uuid.uuid4()),
    }
    values.update(claims)
    return jwt.encode({k: v for k, v in values.items() if v is not None}, secret, "HS256")


async def _login(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.post("/api/login", json={"username": USERNAME, "password": PASSWORD})
    assert response.status_code == 200
    tokens: dict[str, str] = response.json()
    return tokens


# --------------------------------------------------------------------------- disabled


async def test_disabled_auth_lets_every_request_through() -> None:
    async with _client(_settings(enable=False)) as client:
        assert (await client.get("/api/v3/process")).status_code == 200
        assert (await client.get("/api")).json() == FULL_ABOUT


async def test_disabled_auth_does_not_route_login() -> None:
    async with _client(_settings(enable=False)) as client:
        response = await client.post("/api/login", json={"username": "a", "password": "b"})
        assert response.status_code == 404
        assert (await client.get("/api/login/refresh")).status_code == 404


@pytest.mark.parametrize(("enable", "expected"), [(False, []), (True, ["localjwt"])])
def test_auths_lists_localjwt_only_when_enabled(enable: bool, expected: list[str]) -> None:
    assert auths(_settings(enable=enable)) == expected


async def test_is_authorized_without_install_auth_is_true() -> None:
    app = Application()
    routes = Routes()

    @routes.get("/api")
    async def about(request: Request) -> Response:
        return json_response(is_authorized(request))

    include(app, routes)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://core") as client:
        assert (await client.get("/api")).json() is True


# --------------------------------------------------------------------------- protected routes


async def test_api_v3_without_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v3/process")
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


async def test_unknown_api_v3_route_without_token_is_401_not_404(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/api/v3/nowhere")).status_code == 401


async def test_head_without_token_is_401_without_body(client: httpx.AsyncClient) -> None:
    response = await client.head("/api/v3/process")
    assert response.status_code == 401
    assert response.content == b""


async def test_access_token_from_login_opens_api_v3(client: httpx.AsyncClient) -> None:
    tokens = await _login(client)
    response = await client.get("/api/v3/process", headers=_bearer(tokens["access_token"]))
    assert response.status_code == 200
    assert response.json() == []


async def test_bearer_scheme_is_case_insensitive(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v3/process", headers={"Authorization": f"bearer {_craft()}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer not-a-jwt",
        f"Basic {_craft()}",
        "Bearer ",
        f"Bearer {_craft(usefor='refresh')}",
        f"Bearer {_craft(usefor=None)}",
        f"Bearer {_craft(secret='another-secret-another-secret-xx')}",
        f"Bearer {_craft(iat=int(time.time()) - 700, exp=int(time.time()) - 100)}",
    ],
    ids=["garbage", "basic", "empty", "refresh", "no-usefor", "other-secret", "expired"],
)
async def test_invalid_tokens_are_401(client: httpx.AsyncClient, authorization: str) -> None:
    response = await client.get("/api/v3/process", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


async def test_core_secret_is_username_password_and_jwt_secret(client: httpx.AsyncClient) -> None:
    # A token Core itself would have signed with the same configuration is accepted.
    assert (await client.get("/api/v3/process", headers=_bearer(_craft()))).status_code == 200


@pytest.mark.filterwarnings("ignore::jwt.InsecureKeyLengthWarning")
async def test_empty_jwt_secret_means_a_random_secret() -> None:
    async with _client(_settings(jwt_secret="")) as client:
        token = _craft(secret=USERNAME + PASSWORD)
        assert (await client.get("/api/v3/process", headers=_bearer(token))).status_code == 401
        tokens = await _login(client)
        headers = _bearer(tokens["access_token"])
        assert (await client.get("/api/v3/process", headers=headers)).status_code == 200


@pytest.mark.parametrize("path", ["/ping", "/memfs", "/api/v3/widget/process/test"])
async def test_public_routes_need_no_token(client: httpx.AsyncClient, path: str) -> None:
    assert (await client.get(path)).status_code == 200


@pytest.mark.parametrize("address", [("127.0.0.1", 5000), ("::1", 5000)])
async def test_disable_localhost_skips_the_check_for_local_clients(
    address: tuple[str, int],
) -> None:
    async with _client(_settings(disable_localhost=True), address) as client:
        assert (await client.get("/api/v3/process")).status_code == 200
        assert (await client.get("/api")).json() == FULL_ABOUT


async def test_disable_localhost_still_checks_remote_clients() -> None:
    async with _client(_settings(disable_localhost=True)) as client:
        assert (await client.get("/api/v3/process")).status_code == 401


async def test_localhost_is_checked_when_not_disabled() -> None:
    async with _client(_settings(), ("127.0.0.1", 5000)) as client:
        assert (await client.get("/api/v3/process")).status_code == 401


# --------------------------------------------------------------------------- GET /api


async def test_about_without_token_is_200_minimal(client: httpx.AsyncClient) -> None:
    response = await client.get("/api")
    assert response.status_code == 200
    assert response.json() == {
        "app": "datarhei-core",
        "auths": ["localjwt"],
        "version": {"number": "16.0.0"},
    }


async def test_about_with_invalid_token_is_200_minimal(client: httpx.AsyncClient) -> None:
    response = await client.get("/api", headers=_bearer("garbage"))
    assert response.status_code == 200
    assert response.json()["auths"] == ["localjwt"]


async def test_about_with_access_token_is_the_full_about(client: httpx.AsyncClient) -> None:
    tokens = await _login(client)
    response = await client.get("/api", headers=_bearer(tokens["access_token"]))
    assert response.json() == FULL_ABOUT


# --------------------------------------------------------------------------- login


async def test_login_returns_access_and_refresh_token(client: httpx.AsyncClient) -> None:
    tokens = await _login(client)
    assert set(tokens) == {"access_token", "refresh_token"}


@pytest.mark.parametrize(("kind", "validity"), [("access_token", 600), ("refresh_token", 86400)])
async def test_token_claims_match_core(client: httpx.AsyncClient, kind: str, validity: int) -> None:
    before = int(time.time())
    token = (await _login(client))[kind]
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert set(claims) == {"iss", "sub", "usefor", "iat", "exp", "exi", "jti"}
    assert claims["iss"] == "datarhei-core"
    assert claims["sub"] == USERNAME
    assert claims["usefor"] == kind.removesuffix("_token")
    assert before <= claims["iat"] <= int(time.time())
    assert claims["exp"] - claims["iat"] == validity
    assert claims["exi"] == validity
    assert uuid.UUID(claims["jti"]).version == 4


async def test_each_token_has_its_own_jti(client: httpx.AsyncClient) -> None:
    tokens = await _login(client)
    claims = [jwt.decode(t, SECRET, algorithms=["HS256"]) for t in tokens.values()]
    assert claims[0]["jti"] != claims[1]["jti"]


async def test_login_keys_match_case_insensitively_like_go(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/login", json={"Username": USERNAME, "PASSWORD": PASSWORD, "extra": 1}
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": USERNAME, "password": "wrong"},
        {"username": "root", "password": PASSWORD},
    ],
    ids=["wrong-password", "wrong-user"],
)
async def test_wrong_credentials_are_401_after_the_delay(
    client: httpx.AsyncClient, credentials: dict[str, str]
) -> None:
    started = time.monotonic()
    response = await client.post("/api/login", json=credentials)
    assert time.monotonic() - started >= DELAY
    assert response.status_code == 401
    assert response.json() == {
        "code": 401,
        "message": "Unauthorized",
        "details": ["Invalid authorization credentials: invalid username or password"],
    }


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"", "application/json"),
        (b'{"username":"admin","password":"datarhei"}', "text/plain"),
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"{}", "application/json"),
        (b'{"username":"admin"}', "application/json"),
        (b'{"username":"admin","password":""}', "application/json"),
        (b'{"username":"admin","password":null}', "application/json"),
        (b'{"username":1,"password":"datarhei"}', "application/json"),
    ],
    ids=[
        "empty",
        "not-json-type",
        "syntax",
        "not-object",
        "no-fields",
        "no-password",
        "empty-password",
        "null-password",
        "number-username",
    ],
)
async def test_missing_or_unparseable_body_is_400_after_the_delay(
    client: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    started = time.monotonic()
    response = await client.post(
        "/api/login", content=content, headers={"content-type": content_type}
    )
    assert time.monotonic() - started >= DELAY
    assert response.status_code == 400
    assert response.json() == {
        "code": 400,
        "message": "Bad Request",
        "details": ["Missing authorization credentials"],
    }


def test_login_failure_delay_defaults_to_five_seconds() -> None:
    assert AuthSettings().login_failure_delay == 5.0


async def test_successful_login_is_not_delayed(client: httpx.AsyncClient) -> None:
    started = time.monotonic()
    await _login(client)
    assert time.monotonic() - started < DELAY


# --------------------------------------------------------------------------- refresh


async def test_refresh_token_gives_a_new_access_token(client: httpx.AsyncClient) -> None:
    tokens = await _login(client)
    response = await client.get("/api/login/refresh", headers=_bearer(tokens["refresh_token"]))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token"}
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"])
    assert (claims["usefor"], claims["sub"]) == ("access", USERNAME)
    headers = _bearer(body["access_token"])
    assert (await client.get("/api/v3/process", headers=headers)).status_code == 200


async def test_refresh_with_an_access_token_is_401(client: httpx.AsyncClient) -> None:
    tokens = await _login(client)
    response = await client.get("/api/login/refresh", headers=_bearer(tokens["access_token"]))
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


async def test_refresh_token_does_not_open_api_v3(client: httpx.AsyncClient) -> None:
    tokens = await _login(client)
    response = await client.get("/api/v3/process", headers=_bearer(tokens["refresh_token"]))
    assert response.status_code == 401


async def test_refresh_without_token_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/login/refresh")).status_code == 401


async def test_expired_refresh_token_is_401(client: httpx.AsyncClient) -> None:
    token = _craft(usefor="refresh", iat=int(time.time()) - 90000, exp=int(time.time()) - 10)
    assert (await client.get("/api/login/refresh", headers=_bearer(token))).status_code == 401


async def test_refresh_from_trusted_localhost_without_token_is_403() -> None:
    # Core's refresh middleware skips localhost; its handler then finds no token.
    async with _client(_settings(disable_localhost=True), ("127.0.0.1", 5000)) as client:
        response = await client.get("/api/login/refresh")
        assert response.status_code == 403
        assert response.json()["details"] == ["Invalid token"]
