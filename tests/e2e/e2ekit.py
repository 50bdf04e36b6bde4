"""Helpers of the kind end-to-end suite: kubectl against one context, an API port-forward."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from kubectlkit import found_object

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Settings:
    """Where the suite runs; the Makefile's e2e-kind target sets these."""

    context: str
    namespace: str
    release: str
    api_user: str
    api_password: str
    kubectl: str

    @classmethod
    def from_environment(cls) -> Settings:
        beside_python = Path(sys.executable).with_name("kubectl")
        default_kubectl = str(beside_python) if beside_python.is_file() else "kubectl"
        return cls(
            # Only this context: the suite creates and deletes objects, so it must never run
            # against whatever cluster happens to be the current one.
            context=os.environ.get("E2E_KUBE_CONTEXT", "kind-ffmpeg-operator-e2e"),
            namespace=os.environ.get("E2E_NAMESPACE", "ffmpeg-e2e"),
            release=os.environ.get("E2E_RELEASE", "ffmpeg-operator"),
            api_user=os.environ.get("E2E_API_USER", "admin"),
            api_password=os.environ.get("E2E_API_PASSWORD", "e2e-password"),
            kubectl=os.environ.get("KUBECTL", default_kubectl),
        )

    @property
    def api_service(self) -> str:
        # The chart's fullname: the release name when it contains the chart's name.
        prefix = (
            self.release
            if "ffmpeg-operator" in self.release
            else (f"{self.release}-ffmpeg-operator")
        )
        return f"{prefix}-api"


class Kubectl:
    """kubectl bound to one context."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def run(
        self, *args: str, stdin: str | None = None, timeout: float = 60, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        command = [self.settings.kubectl, "--context", self.settings.context, *args]
        result = subprocess.run(
            command, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} failed: {result.stderr.strip()}")
        return result

    def reachable(self) -> str | None:
        """None when the API server answers, else why not."""
        if shutil.which(self.settings.kubectl) is None:
            return f"kubectl not found ({self.settings.kubectl})"
        try:
            result = self.run(
                "version", "-o", "json", "--request-timeout=5s", timeout=15, check=False
            )
        except subprocess.TimeoutExpired:
            return f"context {self.settings.context}: the API server did not answer"
        if result.returncode != 0 or "serverVersion" not in result.stdout:
            reason = result.stderr.strip().splitlines()[-1:] or ["no server version"]
            return f"context {self.settings.context}: {reason[0]}"
        return None

    def apply(self, objects: list[dict[str, Any]] | str, *extra: str) -> None:
        text = objects if isinstance(objects, str) else yaml.safe_dump_all(objects)
        self.run("apply", "--server-side", "--force-conflicts", "-f", "-", *extra, stdin=text)

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        result = self.run(
            "get",
            kind,
            name,
            "-n",
            namespace or self.settings.namespace,
            "-o",
            "json",
            check=False,
        )
        return found_object(result)

    def pods(self, selector: str, namespace: str | None = None) -> list[dict[str, Any]]:
        result = self.run(
            "get", "pods", "-l", selector, "-n", namespace or self.settings.namespace, "-o", "json"
        )
        items: list[dict[str, Any]] = json.loads(result.stdout)["items"]
        return items

    def kustomize(self, directory: Path) -> str:
        return self.run("kustomize", str(directory)).stdout


_FORWARDING = re.compile(r"Forwarding from 127\.0\.0\.1:(\d+)")


@contextmanager
def port_forward(kubectl: Kubectl, service: str, port: int) -> Iterator[str]:
    """``kubectl port-forward svc/SERVICE :PORT``; yields the local base URL."""
    settings = kubectl.settings
    process = subprocess.Popen(
        [
            settings.kubectl,
            "--context",
            settings.context,
            "-n",
            settings.namespace,
            "port-forward",
            f"svc/{service}",
            f":{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = _FORWARDING.search(line)
        if match is None:
            stderr = process.stderr.read() if process.stderr else ""
            raise AssertionError(f"port-forward to {service} failed: {line}{stderr}")
        # kubectl logs every connection to stdout: drain it so the pipe never fills up.
        threading.Thread(target=process.stdout.read, daemon=True).start()
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def api_client(base_url: str, settings: Settings) -> httpx.Client:
    """A client of the v3 API, logged in when the API asks for it."""
    client = httpx.Client(base_url=base_url, timeout=30)
    about = client.get("/api").json()
    if "localjwt" in about.get("auths", []):
        login = client.post(
            "/api/login", json={"username": settings.api_user, "password": settings.api_password}
        )
        login.raise_for_status()
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    return client
