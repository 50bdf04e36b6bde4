"""The configuration document of ``GET /api/v3/config`` (Core v16.16's ``config.Data``) and
the rules of ``PUT /api/v3/config``.

The document is built from what this server really runs with (:class:`ConfigFacts`); only the
fields in :data:`RUNTIME_FIELDS` can be changed through the API, and only while no command-line
option or environment variable sets them (those are listed in ``overrides``, as Core lists the
fields its environment overrides). A PUT that changes anything else is refused with Core's
409 body, naming each field and why.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

CONFIG_VERSION = 3

#: Fields the API may change; all others follow from command-line options or the chart.
RUNTIME_FIELDS = frozenset(
    {"name", "host.name", "api.auth.enable", "api.auth.username", "api.auth.password"}
)

#: Core's default of ``sessions.ip_ignorelist``: viewers on these addresses are not counted.
DEFAULT_SESSION_IGNORE = ("127.0.0.1/32", "::1/128")


@dataclass(frozen=True)
class StoredSettings:
    """What ``PUT /api/v3/config`` stores (and a restart or reload applies)."""

    name: str = ""
    host_names: tuple[str, ...] = ()
    auth_enable: bool = False
    auth_username: str = ""
    auth_password: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "host": {"name": list(self.host_names)},
            "api": {
                "auth": {
                    "enable": self.auth_enable,
                    "username": self.auth_username,
                    "password": self.auth_password,
                }
            },
        }


def settings_from_json(document: Any) -> StoredSettings:
    """Stored settings from their JSON (as :meth:`StoredSettings.to_json` wrote it).

    Raises ValueError when the document is not of that shape.
    """
    if not isinstance(document, dict):
        raise ValueError("stored settings are not a JSON object")
    auth = _path(document, "api.auth")
    names = _path(document, "host.name")
    if not isinstance(auth, dict) or not isinstance(names, list):
        raise ValueError("stored settings lack api.auth or host.name")
    values = (
        document.get("name", ""),
        auth.get("enable", False),
        auth.get("username", ""),
        auth.get("password", ""),
    )
    if not (
        isinstance(values[0], str)
        and isinstance(values[1], bool)
        and isinstance(values[2], str)
        and isinstance(values[3], str)
        and all(isinstance(name, str) for name in names)
    ):
        raise ValueError("stored settings hold values of the wrong type")
    return StoredSettings(values[0], tuple(names), values[1], values[2], values[3])


@dataclass(frozen=True)
class ConfigFacts:
    """What the server runs with, in the terms of Core's configuration."""

    instance_id: str
    address: str
    disk_dir: str
    db_dir: str
    ffmpeg_binary: str
    memfs_username: str
    memfs_password: str
    settings: StoredSettings
    #: Fields set by command-line options or the environment (Core's ``overrides``).
    overrides: tuple[str, ...] = ()
    #: ``{rtmp}`` / ``{srt}`` of the configured media server (empty: none).
    rtmp_url: str = ""
    srt_url: str = ""
    ui_path: str = ""
    cors_origins: tuple[str, ...] = ("*",)
    session_ignore: tuple[str, ...] = DEFAULT_SESSION_IGNORE
    jwt_secret: str = ""
    max_processes: int = 0
    log_topics: tuple[str, ...] = field(default_factory=tuple)


def _host_port(url: str, default_port: str) -> tuple[str, str]:
    """Host and port of ``scheme://[user@]host[:port]/...`` ("" when ``url`` is empty)."""
    if "://" not in url:
        return "", ""
    rest = url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        return host, tail.lstrip(":") or default_port
    host, _, port = rest.partition(":")
    return host, port or default_port


def _rtmp_app(url: str) -> str:
    if "://" not in url:
        return ""
    after = url.split("://", 1)[1]
    path = after.split("/", 1)[1] if "/" in after else ""
    return "/" + path.split("?", 1)[0].strip("/") if path else "/"


def config_data(facts: ConfigFacts) -> dict[str, Any]:
    """The ``config`` object of ``GET /api/v3/config``: Core's ``config.Data`` (version 3)."""
    settings = facts.settings
    rtmp_host, rtmp_port = _host_port(facts.rtmp_url, "1935")
    srt_host, srt_port = _host_port(facts.srt_url, "6000")
    tls = facts.rtmp_url.startswith("rtmps://")
    return {
        "version": CONFIG_VERSION,
        "id": facts.instance_id,
        "name": settings.name,
        "address": facts.address,
        "update_check": False,
        "log": {"level": "info", "topics": list(facts.log_topics), "max_lines": 1000},
        "db": {"dir": facts.db_dir},
        "host": {"name": list(settings.host_names), "auto": False},
        "api": {
            "read_only": False,
            "access": {
                "http": {"allow": [], "block": []},
                "https": {"allow": [], "block": []},
            },
            "auth": {
                "enable": settings.auth_enable,
                "disable_localhost": False,
                "username": settings.auth_username,
                "password": settings.auth_password,
                "jwt": {"secret": facts.jwt_secret},
                "auth0": {"enable": False, "tenants": []},
            },
        },
        "tls": {
            "address": "",
            "enable": False,
            "auto": False,
            "email": "",
            "cert_file": "",
            "key_file": "",
        },
        "storage": {
            "disk": {
                "dir": facts.disk_dir,
                "max_size_mbytes": 0,
                "cache": {
                    "enable": False,
                    "max_size_mbytes": 0,
                    "ttl_seconds": 0,
                    "max_file_size_mbytes": 0,
                    "types": {"allow": [], "block": []},
                },
            },
            "memory": {
                "auth": {
                    "enable": True,
                    "username": facts.memfs_username,
                    "password": facts.memfs_password,
                },
                "max_size_mbytes": 0,
                "purge": False,
            },
            "cors": {"origins": list(facts.cors_origins)},
            "mimetypes_file": "",
            "s3": [],
        },
        "rtmp": {
            "enable": bool(facts.rtmp_url),
            "enable_tls": tls,
            "address": f"{rtmp_host}:{rtmp_port}" if facts.rtmp_url and not tls else "",
            "address_tls": f"{rtmp_host}:{rtmp_port}" if tls else "",
            "app": _rtmp_app(facts.rtmp_url),
            "token": "",
        },
        "srt": {
            "enable": bool(facts.srt_url),
            "address": f"{srt_host}:{srt_port}" if facts.srt_url else "",
            "passphrase": "",
            "token": "",
            "log": {"enable": False, "topics": []},
        },
        "ffmpeg": {
            "binary": facts.ffmpeg_binary,
            "max_processes": facts.max_processes,
            "access": {
                "input": {"allow": [], "block": []},
                "output": {"allow": [], "block": []},
            },
            "log": {"max_lines": 50, "max_history": 3},
        },
        "playout": {"enable": False, "min_port": 0, "max_port": 0},
        "debug": {"profiling": False, "force_gc": 0, "memory_limit_mbytes": 0},
        "metrics": {
            "enable": True,
            "enable_prometheus": True,
            "range_sec": 0,
            "interval_sec": 0,
        },
        "sessions": {
            "enable": True,
            "ip_ignorelist": list(facts.session_ignore),
            "session_timeout_sec": 30,
            "persist": False,
            "persist_interval_sec": 0,
            "max_bitrate_mbit": 0,
            "max_sessions": 0,
        },
        "service": {"enable": False, "token": "", "url": ""},
        "router": {"blocked_prefixes": ["/api"], "routes": {}, "ui_path": facts.ui_path},
    }


class ConfigRejectedError(ValueError):
    """A PUT the server cannot apply: field name → reasons (Core's 409 body)."""

    def __init__(self, reasons: dict[str, list[str]]) -> None:
        self.reasons = reasons
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in reasons.items()))


class ConfigInvalidError(ValueError):
    """A PUT body that does not bind to the configuration (Core's 400 "Invalid JSON")."""


def _path(document: dict[str, Any], dotted: str) -> Any:
    value: Any = document
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _same_kind(current: Any, given: Any) -> bool:
    if isinstance(current, bool) or isinstance(given, bool):
        return isinstance(current, bool) and isinstance(given, bool)
    if isinstance(current, int | float):
        return isinstance(given, int | float)
    return isinstance(given, type(current))


def merge(current: dict[str, Any], given: dict[str, Any], where: str = "") -> dict[str, Any]:
    """``given`` decoded over ``current`` as Go decodes JSON into a filled struct.

    Objects merge key by key, every other value replaces; unknown keys are ignored and
    ``null`` leaves a value as it is. Raises :class:`ConfigInvalidError` for a value of the wrong
    JSON type.
    """
    merged = copy.deepcopy(current)
    for key, value in given.items():
        if key not in merged or value is None:
            continue
        name = f"{where}.{key}" if where else key
        existing = merged[key]
        if not _same_kind(existing, value):
            raise ConfigInvalidError(f"{name}: expected {type(existing).__name__}")
        if isinstance(existing, dict):
            merged[key] = merge(existing, value, name)
        else:
            merged[key] = value
    return merged


def _leaves(document: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(document, dict) and document:
        for key, value in document.items():
            yield from _leaves(value, f"{where}.{key}" if where else key)
    else:
        yield where, document


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Dotted names of the values that differ between two documents of the same shape."""
    old = dict(_leaves(before))
    return sorted(name for name, value in _leaves(after) if old.get(name) != value)


def apply_put(facts: ConfigFacts, body: Any) -> StoredSettings:
    """The settings a ``PUT /api/v3/config`` body asks for (version 3, as the UI sends).

    Raises :class:`ConfigInvalidError` for a body that does not bind and
    :class:`ConfigRejectedError` for a change the server cannot make or a configuration Core
    would refuse.
    """
    if not isinstance(body, dict):
        raise ConfigInvalidError("the configuration must be a JSON object")
    version = body.get("version")
    if version != CONFIG_VERSION:
        raise ConfigInvalidError(f"version {version}: only version {CONFIG_VERSION} is supported")
    current = config_data(facts)
    merged = merge(current, body)
    reasons: dict[str, list[str]] = {}
    for name in changed_fields(current, merged):
        if name in facts.overrides:
            reasons[name] = ["set by a command-line option or environment variable"]
        elif name not in RUNTIME_FIELDS:
            reasons[name] = ["cannot be changed at run time: set it when starting the server"]
    auth = merged["api"]["auth"]
    if auth["enable"] and not (auth["username"] and auth["password"]):
        reasons.setdefault("api.auth.enable", []).append(
            "a username and a password are required to enable authentication"
        )
    if reasons:
        raise ConfigRejectedError(reasons)
    return StoredSettings(
        name=merged["name"],
        host_names=tuple(merged["host"]["name"]),
        auth_enable=auth["enable"],
        auth_username=auth["username"],
        auth_password=auth["password"],
    )
