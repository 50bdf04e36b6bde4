"""JWT authentication of the API, as datarhei Core's ``localjwt`` validator does it (spec §10).

When enabled, every ``/api/v3/...`` request needs ``Authorization: Bearer <access token>``;
tokens come from ``POST /api/login`` (username/password) and ``GET /api/login/refresh``
(refresh token). ``GET /api`` stays open: the about route asks :func:`is_authorized` and
answers with :func:`minimal_about` when the caller has no valid token. ``/ping`` and
``/memfs`` are outside the checked group.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ffmpeg_operator.api.errors import ApiError, error_response
from ffmpeg_operator.api.routing import Routes, include
from ffmpeg_operator.api.wire import json_response, read_json_body
from ffmpeg_operator.application import Application

ISSUER = "datarhei-core"
APP_NAME = "datarhei-core"
#: Core answers unauthenticated ``GET /api`` with its major version only.
MINIMAL_VERSION = "16.0.0"
ACCESS_VALIDITY_SECONDS = 600
REFRESH_VALIDITY_SECONDS = 86400
LOCAL_VALIDATOR = "localjwt"

#: The checked route group, and the paths inside it Core leaves open.
_PROTECTED_GROUP = "/api/v3"
_PUBLIC_PREFIXES = ("/api/v3/widget/",)
_LOCALHOST = frozenset({"127.0.0.1", "::1"})
_ALGORITHM = "HS256"
_INVALID_TOKEN = "Missing or invalid JWT token"


@dataclass(frozen=True)
class AuthSettings:
    """The ``api.auth`` part of the configuration.

    ``login_failure_delay`` is Core's fixed 5 s penalty for failed logins; only tests lower it.
    An empty ``jwt_secret`` means a random secret per start (tokens die on restart), as in Core.
    """

    enable: bool = False
    username: str = ""
    password: str = ""
    jwt_secret: str = ""
    disable_localhost: bool = False
    login_failure_delay: float = 5.0


def auths(settings: AuthSettings) -> list[str]:
    """The validator names ``GET /api`` lists under ``auths``."""
    return [LOCAL_VALIDATOR] if settings.enable else []


def minimal_about(settings: AuthSettings) -> dict[str, Any]:
    """The about document ``GET /api`` returns to callers without a valid token."""
    return {"app": APP_NAME, "auths": auths(settings), "version": {"number": MINIMAL_VERSION}}


class TokenIssuer:
    """Creates and checks Core's HS256 access and refresh tokens."""

    def __init__(self, secret: str) -> None:
        self._secret = secret

    def _token(self, subject: str, use: str, validity: int, now: int) -> str:
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "usefor": use,
            "iat": now,
            "exp": now + validity,
            "exi": validity,
            "jti": str(uuid.uuid4()),
        }
        import jwt  # at the first login: a server without auth never loads PyJWT

        return jwt.encode(claims, self._secret, algorithm=_ALGORITHM)

    def access_token(self, subject: str) -> str:
        """A new access token for ``subject``, valid 10 minutes."""
        return self._token(subject, "access", ACCESS_VALIDITY_SECONDS, int(time.time()))

    def refresh_token(self, subject: str) -> str:
        """A new refresh token for ``subject``, valid 24 hours."""
        return self._token(subject, "refresh", REFRESH_VALIDITY_SECONDS, int(time.time()))

    def claims(self, token: str, use: str) -> dict[str, Any] | None:
        """The claims of ``token`` if it is signed by us, unexpired and meant for ``use``."""
        import jwt  # see _token

        try:
            claims: dict[str, Any] = jwt.decode(token, self._secret, algorithms=[_ALGORITHM])
        except jwt.InvalidTokenError:
            return None
        return claims if claims.get("usefor") == use else None


def bearer_token(headers: Headers) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if there is one."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _issuer(settings: AuthSettings) -> TokenIssuer:
    # Core signs with username + password + secret: a new password invalidates old tokens.
    secret = settings.username + settings.password + settings.jwt_secret
    if not settings.jwt_secret:
        secret = secrets.token_urlsafe(32)
    return TokenIssuer(secret)


class Authenticator:
    """Decides whether a request carries a valid token of the right kind.

    :meth:`replace` swaps the settings at run time: ``GET /api/v3/config/reload`` applies a
    user and password registered with ``PUT /api/v3/config`` without restarting the server.
    """

    def __init__(self, settings: AuthSettings) -> None:
        self.settings = settings
        self.issuer = _issuer(settings)

    def replace(self, settings: AuthSettings) -> None:
        """Use ``settings`` from now on (a changed user or password ends existing tokens)."""
        self.issuer = _issuer(settings)
        self.settings = settings

    def skips(self, client_host: str | None) -> bool:
        """Whether the check is off for this client (auth disabled, or trusted localhost)."""
        if not self.settings.enable:
            return True
        return self.settings.disable_localhost and client_host in _LOCALHOST

    def subject(self, headers: Headers, use: str) -> str | None:
        """The user a valid ``use`` token in ``headers`` was issued to, or None."""
        token = bearer_token(headers)
        claims = None if token is None else self.issuer.claims(token, use)
        if claims is None:
            return None
        return str(claims.get("sub", ""))

    def allows(self, headers: Headers, client_host: str | None) -> bool:
        """Whether a request may use a protected route."""
        return self.skips(client_host) or self.subject(headers, "access") is not None

    def credentials_match(self, username: str, password: str) -> bool:
        """Whether a login's username and password are the configured ones."""
        username_ok = hmac.compare_digest(username.encode(), self.settings.username.encode())
        password_ok = hmac.compare_digest(password.encode(), self.settings.password.encode())
        return username_ok and password_ok


def _client_host(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def _is_protected(path: str) -> bool:
    in_group = path == _PROTECTED_GROUP or path.startswith(_PROTECTED_GROUP + "/")
    return in_group and not path.startswith(_PUBLIC_PREFIXES)


class AccessTokenMiddleware:
    """Answers 401 for ``/api/v3`` requests without a valid access token (before routing)."""

    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and _is_protected(scope["path"])
            and not self.authenticator.allows(Headers(scope=scope), _client_host(scope))
        ):
            response = error_response(Request(scope), ApiError(401, "", _INVALID_TOKEN))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _authenticator(request: Request) -> Authenticator | None:
    found = getattr(request.app.state, "authenticator", None)
    return found if isinstance(found, Authenticator) else None


def is_authorized(request: Request) -> bool:
    """Whether ``request`` may see protected data (always, when auth is disabled/not installed)."""
    authenticator = _authenticator(request)
    if authenticator is None:
        return True
    client_host = request.client.host if request.client else None
    return authenticator.allows(request.headers, client_host)


def _login_fields(body: bytes) -> tuple[str, str] | None:
    """Username and password of a login body, decoded like Go binds ``api.Login``.

    Keys match case-insensitively and the last one wins; both fields are required (non-empty
    strings). None when the body does not bind.
    """
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(document, dict):
        return None
    fields = {"username": "", "password": ""}
    for key, value in document.items():
        field = key.lower()
        if field not in fields or value is None:
            continue
        if not isinstance(value, str):
            return None
        fields[field] = value
    if not fields["username"] or not fields["password"]:
        return None
    return fields["username"], fields["password"]


def login_router(authenticator: Authenticator) -> Routes:
    """``POST /api/login`` and ``GET /api/login/refresh``."""
    router = Routes()

    def require_enabled() -> None:
        # Core routes the login endpoints only while auth is on; elsewhere Echo answers 404.
        if not authenticator.settings.enable:
            raise ApiError(404, "", "Not Found")

    @router.post("/api/login")
    async def login(request: Request) -> Response:
        require_enabled()
        delay = authenticator.settings.login_failure_delay
        try:
            fields = _login_fields(await read_json_body(request))
        except ApiError:
            fields = None
        if fields is None:
            await asyncio.sleep(delay)
            raise ApiError(400, "", "Missing authorization credentials")
        if not authenticator.credentials_match(*fields):
            await asyncio.sleep(delay)
            raise ApiError(
                401, "", "Invalid authorization credentials: invalid username or password"
            )
        subject = authenticator.settings.username
        return json_response(
            {
                "access_token": authenticator.issuer.access_token(subject),
                "refresh_token": authenticator.issuer.refresh_token(subject),
            }
        )

    @router.get("/api/login/refresh")
    async def refresh(request: Request) -> Response:
        require_enabled()
        subject = authenticator.subject(request.headers, "refresh")
        if subject is None:
            client_host = request.client.host if request.client else None
            if authenticator.skips(client_host):
                # Core's refresh middleware lets localhost through without a token, and the
                # handler then finds none.
                raise ApiError(403, "", "Invalid token")
            raise ApiError(401, "", _INVALID_TOKEN)
        return json_response({"access_token": authenticator.issuer.access_token(subject)})

    return router


def install_auth(app: Application, settings: AuthSettings) -> Authenticator:
    """Protect ``/api/v3`` of ``app`` and route the login endpoints while auth is enabled.

    Call it while building the app (middleware cannot be added to a running app); both check
    the authenticator's current settings, so auth can be switched on at run time. Returns the
    authenticator, also kept in ``app.state.authenticator`` for :func:`is_authorized`.
    """
    authenticator = Authenticator(settings)
    app.state.authenticator = authenticator
    app.add_middleware(AccessTokenMiddleware, authenticator=authenticator)
    include(app, login_router(authenticator))
    return authenticator
