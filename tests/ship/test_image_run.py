"""The project image, built here without a registry and run with podman.

``tests/cluster/images.py`` builds the Debian base (debootstrap) and the image from the
Dockerfile into its cache, or finds both there, and loads the image into podman's storage. The
tests then run it as the chart does (numeric non-root user, read-only root file system, no
capabilities, no privilege escalation) and talk to it only through its command line and HTTP.

The tier needs podman, runc and debootstrap (``make test`` installs them). Without them it skips
with one line, except under ``CI=true``, where a missing tier is a failure.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from imagekit import images_module, require_tools

from ffmpeg_operator import __version__

images = images_module()

TOOLS = ("podman", "runc", "debootstrap")
#: The chart's runAsUser / runAsGroup, and the image's USER.
UID = 10001
#: How the chart runs every container (restricted Pod Security Standard).
RESTRICTED = (
    *images.LIMITS, "--user", f"{UID}:{UID}", "--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL",
    "--security-opt", "no-new-privileges",
)  # fmt: skip
#: Debian bookworm's ffmpeg: epoch 7, upstream 5.1.x, a Debian revision with a deb12u suffix.
DEBIAN_FFMPEG = re.compile(r"^7:(5\.1\.\d+)-\d+\+deb12u\d+$")
_START_S = 60.0


@pytest.fixture(scope="module")
def podman() -> Any:
    require_tools(*TOOLS)
    return images.Podman()


@pytest.fixture(scope="module")
def image(podman: Any) -> str:
    """The project image's reference, built (or found in the cache) and in podman's storage."""
    try:
        archives = images.ensure(["project"], images.default_cache_dir(), podman, load=True)
    except images.BuildError as error:
        pytest.fail(str(error))
    ref: str = archives["project"].ref
    return ref


def _run(podman: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        podman.argv("run", "--rm", *RESTRICTED, *args),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _running(podman: Any, container: str) -> bool:
    state = subprocess.run(
        podman.argv("container", "inspect", "--format", "{{.State.Running}}", container),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return state.stdout.strip() == "true"


@dataclass
class Served:
    url: str
    container: str


@pytest.fixture(scope="module")
def served(podman: Any, image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The image's default command (``serve`` on 8080), published on a free loopback port."""
    name = f"ffmpeg-operator-image-test-{uuid.uuid4().hex[:8]}"
    port = _free_port()
    # The data directory as a volume owned by the image's user (a Pod's fsGroup would do it).
    data = tmp_path_factory.mktemp("data")
    os.chown(data, UID, UID)
    started = subprocess.run(
        podman.argv(
            "run", "--detach", "--name", name, *RESTRICTED,
            "--volume", f"{data}:/data",
            "--publish", f"127.0.0.1:{port}:8080", image,
        ),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    try:
        assert started.returncode == 0, started.stderr
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + _START_S
        while True:
            try:
                if httpx.get(f"{url}/ping", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or not _running(podman, name):
                logs = subprocess.run(
                    podman.argv("logs", name), capture_output=True, text=True, check=False
                )
                pytest.fail(f"serve did not answer:\n{logs.stdout}{logs.stderr}")
            time.sleep(0.2)
        yield Served(url, name)
    finally:
        subprocess.run(
            podman.argv("rm", "--force", "--time", "5", name),
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip


def test_image_prints_the_package_version(podman: Any, image: str) -> None:
    result = _run(podman, image, "version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == __version__


def test_ffmpeg_of_the_image_is_debians_5_1_package(podman: Any, image: str) -> None:
    package = _run(podman, "--entrypoint", "dpkg-query", image, "-W", "-f=${Version}", "ffmpeg")
    assert package.returncode == 0, package.stderr
    match = DEBIAN_FFMPEG.match(package.stdout)
    assert match, package.stdout
    binary = _run(podman, "--entrypoint", "ffmpeg", image, "-hide_banner", "-version")
    assert binary.returncode == 0, binary.stderr
    # "ffmpeg version 5.1.x-0+deb12uN": the package's own build, not another ffmpeg on PATH.
    assert binary.stdout.startswith(f"ffmpeg version {package.stdout.removeprefix('7:')} ")


def test_image_user_is_numeric_and_not_root(podman: Any, image: str) -> None:
    configured = subprocess.run(
        podman.argv("image", "inspect", "--format", "{{.Config.User}}", image),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert configured.stdout.strip() == f"{UID}:{UID}"
    # Without --user: the image's own user is what a Pod without runAsUser gets.
    result = subprocess.run(
        podman.argv("run", "--rm", *images.LIMITS, "--entrypoint", "id", image),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.stdout.startswith(f"uid={UID}(ffmpeg-operator) gid={UID}"), result.stdout


def test_serve_answers_the_api(served: Served) -> None:
    response = httpx.get(f"{served.url}/api", timeout=10)
    assert response.status_code == 200
    assert response.json()["app"] == "datarhei-core"


def test_serve_reports_the_image_ffmpegs_own_version(
    podman: Any, image: str, served: Served
) -> None:
    binary = _run(podman, "--entrypoint", "ffmpeg", image, "-hide_banner", "-version")
    own = re.match(r"ffmpeg version (\d+\.\d+\.\d+)", binary.stdout)
    assert own, binary.stdout
    skills = httpx.get(f"{served.url}/api/v3/skills", timeout=30)
    assert skills.status_code == 200, skills.text
    reported = skills.json()["ffmpeg"]["version"]
    assert reported == own[1]
    assert reported.startswith("5.1.")


def test_operator_command_loads_its_stack_in_the_image(podman: Any, image: str) -> None:
    # The operator imports kopf and the Kubernetes client before it checks its flags, so a
    # usage error (exit 2), not a traceback, proves that stack loads in the image.
    result = _run(podman, image, "operator", "--all-namespaces", "--namespace", "x")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--namespace and --all-namespaces exclude each other" in result.stderr


#: A run Pod's two containers in one: the agent, then Debian's ffmpeg with the progress flags the
#: Pod builder injects (they share a PID namespace in the Pod, as here).
AGENT_AND_FFMPEG = (
    "ffmpeg-operator agent --process-id image-test --progress-port 9000 --http-port 8081 "
    "--termination-message-path /tmp/termination-log & "
    "sleep 3; exec ffmpeg -nostdin -progress tcp://127.0.0.1:9000 -loglevel error "
    "-f lavfi -re -i testsrc=size=160x120:rate=10 -f null -"
)


def test_agent_reports_progress_of_the_images_ffmpeg(podman: Any, image: str) -> None:
    name = f"ffmpeg-operator-agent-test-{uuid.uuid4().hex[:8]}"
    port = _free_port()
    started = subprocess.run(
        podman.argv(
            "run", "--detach", "--name", name, *RESTRICTED, "--publish", f"127.0.0.1:{port}:8081",
            "--entrypoint", "sh", image, "-c", AGENT_AND_FFMPEG,
        ),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    try:
        assert started.returncode == 0, started.stderr
        deadline = time.monotonic() + _START_S
        state: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                state = httpx.get(f"http://127.0.0.1:{port}/state", timeout=2).json()
            except (httpx.TransportError, ValueError):
                state = {}
            if state.get("exec") == "running" and state["progress"]["frame"] > 0:
                break
            time.sleep(0.3)
        assert state.get("exec") == "running", state
        assert state["progress"]["frame"] > 0, state
    finally:
        subprocess.run(
            podman.argv("rm", "--force", "--time", "5", name),
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
