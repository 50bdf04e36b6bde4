"""The chart's hook commands against the emulator: ``ensure-secret`` (a generated Secret that
no render changes) and ``drain`` (an uninstall that strands no finalizer). Not yet proven on
a real apiserver."""

from __future__ import annotations

import base64
import subprocess
import sys
from typing import Any

import pytest
from emulator import FFMPEG_PROCESSES, RunningEmulator, kubeconfig_env
from harness import NAMESPACE, OperatorHarness, spec_of

from ffmpeg_operator.operator.handlers import PURGE_FINALIZER

pytestmark = pytest.mark.timeout(60)

SECRET = "media-ffmpeg-operator-auth"


def _cli(emulator: RunningEmulator, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "ffmpeg_operator", *args],
        env={**kubeconfig_env(emulator), **env},
        capture_output=True,
        text=True,
        timeout=45,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _secret_data(emulator: RunningEmulator) -> dict[str, str]:
    secret = emulator.get("v1/secrets", NAMESPACE, SECRET)
    assert secret is not None
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def _ensure(emulator: RunningEmulator, *keys: str, **env: str) -> None:
    args = ["ensure-secret", f"--name={SECRET}", f"--namespace={NAMESPACE}"]
    _cli(emulator, *args, *(f"--key={key}" for key in keys), **env)


def test_ensure_secret_creates_random_url_safe_values_once(emulator: RunningEmulator) -> None:
    _ensure(emulator, "password", "memfs-password", "username=THE_USER", THE_USER="admin")
    first = _secret_data(emulator)
    assert first["username"] == "admin"
    assert first["password"] != first["memfs-password"]
    for key in ("password", "memfs-password"):
        assert len(first[key]) == 24 and first[key].isalnum()

    _ensure(emulator, "password", "memfs-password", "username=THE_USER", THE_USER="other")

    assert _secret_data(emulator) == first  # the next install, upgrade or sync changes nothing


def test_ensure_secret_adds_only_missing_keys(emulator: RunningEmulator) -> None:
    _ensure(emulator, "password")
    before = _secret_data(emulator)

    _ensure(emulator, "password", "memfs-password")

    after = _secret_data(emulator)
    assert after["password"] == before["password"]
    assert set(after) == {"password", "memfs-password"}


def test_ensure_secret_marks_the_previous_charts_release_secret_keep_with_its_data_as_is(
    emulator: RunningEmulator,
) -> None:
    # The chart before the hook rendered the Secret as a release resource: the next `helm
    # upgrade` deletes it (absent from the new manifest) unless the live object says keep.
    helm_owned = {"meta.helm.sh/release-name": "media", "meta.helm.sh/release-namespace": NAMESPACE}
    data = {"username": "admin", "password": "old-login", "memfs-password": "old-memfs"}
    emulator.create("v1/secrets", {
        "metadata": {"name": SECRET, "annotations": helm_owned,
                     "labels": {"app.kubernetes.io/managed-by": "Helm"}},
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }, NAMESPACE)  # fmt: skip

    _ensure(emulator, "username=THE_USER", "password", "memfs-password", THE_USER="other")

    secret = emulator.get("v1/secrets", NAMESPACE, SECRET)
    assert secret is not None
    assert secret["metadata"]["annotations"] == {**helm_owned, "helm.sh/resource-policy": "keep"}
    assert _secret_data(emulator) == data


def test_ensure_secret_creates_the_secret_marked_keep(emulator: RunningEmulator) -> None:
    _ensure(emulator, "password")

    secret = emulator.get("v1/secrets", NAMESPACE, SECRET)
    assert secret is not None
    assert secret["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}


def _with_finalizer(emulator: RunningEmulator, name: str) -> dict[str, Any]:
    body = {"metadata": {"name": name, "finalizers": [PURGE_FINALIZER]}, "spec": spec_of(name)}
    return emulator.create(FFMPEG_PROCESSES, body, NAMESPACE)


def test_drain_lets_the_operator_purge_every_process(cluster: OperatorHarness) -> None:
    cluster.start_operator()
    for name in ("cam1", "cam2"):
        cluster.create(name)
        cluster.wait_running(name)

    result = _cli(cluster.emulator, "drain", f"--namespace={NAMESPACE}", "--timeout=30")

    assert "finalizers removed by force: 0" in result.stdout
    assert cluster.emulator.objects(FFMPEG_PROCESSES, NAMESPACE) == []
    cluster.wait(lambda: not cluster.run_pods("cam1") and not cluster.run_pods("cam2"), 15)


def test_drain_without_an_operator_removes_the_finalizers_after_the_timeout(
    emulator: RunningEmulator,
) -> None:
    _with_finalizer(emulator, "cam1")

    result = _cli(emulator, "drain", f"--namespace={NAMESPACE}", "--timeout=1")

    assert "finalizers removed by force: 1" in result.stdout
    assert emulator.objects(FFMPEG_PROCESSES, NAMESPACE) == []
