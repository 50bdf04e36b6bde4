"""Run Pod settings from the environment the Helm chart gives the operator (and the API).

=================================  ============================================================
``FFMPEG_OPERATOR_IMAGE``          image of run Pods (agent sidecar and ffmpeg)
``FFMPEG_OPERATOR_DISKFS_CLAIM``   PVC behind ``{diskfs}`` (unset: an emptyDir per run)
``FFMPEG_OPERATOR_DISKFS_PATH``    where that claim is mounted, in run Pods and in the operator
``FFMPEG_OPERATOR_MEMFS_URL``      ``{memfs}``: base URL of the memfs store, no credentials
``FFMPEG_OPERATOR_MEMFS_PASSWORD`` memfs write password: ``{memfs}`` carries ``admin:<it>@``
                                   as datarhei Core's does (ffmpeg PUTs with them, §5.3)
``FFMPEG_OPERATOR_MEMFS_SECRET``   Secret (in the run Pods' namespace) holding that password:
                                   ``{memfs}`` then carries ``admin:$(FFMPEG_OPERATOR_MEMFS_
                                   PASSWORD)@``, and run Pods get the variable from the Secret
                                   (``valueFrom``), kubelet expanding it in ffmpeg's arguments:
                                   the password is in no object
``FFMPEG_OPERATOR_MEMFS_SECRET_KEY`` its key in that Secret (default ``memfs-password``)
``FFMPEG_OPERATOR_RTMP_URL``       ``{rtmp,name=...}``: ``rtmp://host:port[/app]``
``FFMPEG_OPERATOR_SRT_URL``        ``{srt,name=...,mode=...}``: ``srt://host:port``
``FFMPEG_OPERATOR_NODE_CPUS``      how many cores ``cpu_usage: 100`` means
``FFMPEG_OPERATOR_FFMPEG_VERSION`` release of the ffmpeg in that image (``7.1``): from 6.1
                                   on, per-stream statistics of video *and* audio
                                   (``-stats_mux_pre``); unset: ``-vstats_file`` (video)
=================================  ============================================================

Unset or empty variables keep :class:`~ffmpeg_operator.kube.pod.OperatorSettings`' defaults.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from ffmpeg_operator.core.placeholders import srt_template
from ffmpeg_operator.kube.pod import MEMFS_PASSWORD_ENV, OperatorSettings

__all__ = [
    "ENV_PREFIX",
    "MEMFS_USER",
    "memfs_with_credentials",
    "memfs_with_reference",
    "peering_priority",
    "rtmp_base_template",
    "settings_from_env",
    "srt_base_template",
]

ENV_PREFIX = "FFMPEG_OPERATOR_"
#: The memfs writer (datarhei Core's fixed user name).
MEMFS_USER = "admin"

#: Priorities derived from Pod names lie in [_PRIORITY_BASE, _PRIORITY_BASE + _PRIORITY_SPAN).
_PRIORITY_BASE = 1_000
_PRIORITY_SPAN = 1_000_000


def rtmp_base_template(url: str) -> str:
    """The ``{rtmp}`` template of an RTMP server given as ``rtmp://host:port[/app]``.

    A URL that already holds ``{name}`` is taken as the template itself.
    """
    if "{name}" in url:
        return url
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
    return f"{base}/{{name}}{query}"


def memfs_with_credentials(url: str, password: str) -> str:
    """``url`` with ``admin:<password>@`` (escaped) unless it has credentials or none is set."""
    parts = urlsplit(url)
    if not password or "@" in parts.netloc:
        return url
    userinfo = quote(MEMFS_USER, safe="") + ":" + quote(password, safe="")
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))


def memfs_with_reference(url: str) -> str:
    """``url`` with ``admin:$(FFMPEG_OPERATOR_MEMFS_PASSWORD)@``, for kubelet to expand.

    The password is inserted as it is (kubelet does not URL-escape): it must be URL-safe, as
    the chart's generated one is.
    """
    parts = urlsplit(url)
    if "@" in parts.netloc:
        return url
    userinfo = quote(MEMFS_USER, safe="") + f":$({MEMFS_PASSWORD_ENV})"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}"))


def srt_base_template(url: str) -> str:
    """The ``{srt}`` template of an SRT server given as ``srt://host:port``."""
    if "{name}" in url:
        return url
    return srt_template(urlsplit(url).netloc)


def settings_from_env(
    env: Mapping[str, str], base: OperatorSettings | None = None
) -> OperatorSettings:
    """``base`` (default: the defaults) with what the environment sets (module docstring)."""

    def value(name: str) -> str:
        return env.get(ENV_PREFIX + name, "").strip()

    changes: dict[str, Any] = {}
    if image := value("IMAGE"):
        changes.update(ffmpeg_image=image, agent_image=image)
    if claim := value("DISKFS_CLAIM"):
        changes["diskfs_pvc"] = claim
    if path := value("DISKFS_PATH"):
        changes["diskfs_mount_path"] = path
    secret = value("MEMFS_SECRET")
    if secret:
        changes["memfs_password_secret"] = (secret, value("MEMFS_SECRET_KEY") or "memfs-password")
    if memfs := value("MEMFS_URL"):
        changes["memfs_url"] = (
            memfs_with_reference(memfs.rstrip("/"))
            if secret
            else memfs_with_credentials(memfs.rstrip("/"), value("MEMFS_PASSWORD"))
        )
    if rtmp := value("RTMP_URL"):
        changes["rtmp"] = rtmp_base_template(rtmp)
    if srt := value("SRT_URL"):
        changes["srt"] = srt_base_template(srt)
    if version := value("FFMPEG_VERSION"):
        changes["ffmpeg_version"] = version
    if cpus := value("NODE_CPUS"):
        try:
            changes["node_cpus"] = float(cpus)
        except ValueError:
            raise ValueError(f"{ENV_PREFIX}NODE_CPUS is not a number: {cpus!r}") from None
    return dataclasses.replace(base or OperatorSettings(), **changes)


def peering_priority(pod_name: str) -> int:
    """A kopf peering priority derived from a replica's Pod name.

    kopf pauses every operator of a peering when two share the highest priority, so replicas
    need distinct ones; a hash of the (unique) Pod name gives that without coordination.
    """
    digest = hashlib.sha256(pod_name.encode()).digest()
    return _PRIORITY_BASE + int.from_bytes(digest[:8], "big") % _PRIORITY_SPAN
