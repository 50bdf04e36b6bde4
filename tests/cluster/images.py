#!/usr/bin/env python3
"""The container images of the local cluster and the image tier, built here without a registry.

Three images, each saved as a docker-archive tar in a cache outside the work tree
(``~/.cache/ffmpeg-operator/images/<name>-<key>.tar``), where ``<key>`` hashes the image's
inputs, so that a second run builds nothing:

- ``base``: the Debian image the Dockerfile's ``FROM`` names (``debian:bookworm-slim``), made
  from a ``debootstrap --variant=minbase`` root file system, slimmed as Debian's own slim images
  are (no manuals, docs or locales) and upgraded from bookworm-security. Key: this recipe.
- ``project``: the repository's ``Dockerfile`` built with podman on that base (``--pull=never``:
  nothing comes from a registry). Key: the base's key, the Dockerfile and every file of the
  build context (the ``!`` entries of ``.dockerignore``).
- ``pause``: the Pods' sandbox image, ``pause/pause.c`` built with ``gcc -static`` into an image
  from scratch. Key: the source and the build flags.

Usage (``make images`` runs ``build``)::

    images.py build [--only NAME ...] [--rebuild]      # archives into the cache, built if missing
    images.py load [--only NAME ...]                   # ... and into podman's storage
    images.py import --ctr PATH --address SOCKET       # ... and into a containerd (k8s.io)
    images.py list                                     # the archives as JSON, building nothing

Podman runs with runc (crun fails on this machine's cgroup v1/v2 hybrid) and the cgroupfs
manager; ``--root``/``--runroot`` give it a storage of its own. The standard library only, so
any python3 can run it.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import fnmatch
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
CHART = ROOT / "helm" / "ffmpeg-operator"
PAUSE_SOURCE = HERE / "pause" / "pause.c"

NAMES = ("base", "project", "pause")
#: The sandbox image containerd's CRI asks for by default (Kubernetes 1.34+).
PAUSE_REF = "registry.k8s.io/pause:3.10.1"
PAUSE_USER = "65535:65535"

DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_SECURITY_MIRROR = "http://deb.debian.org/debian-security"
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
#: Raise to rebuild the base after a change of the recipe below.
BASE_RECIPE_VERSION = 1

# What Debian's slim images leave out: dpkg skips these paths in every later install too.
DPKG_SLIM = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
"""
# ... and what apt leaves behind after each install: downloaded packages and its binary caches
# (over 200 MB in a layer that installs ffmpeg), as Debian's container images configure it.
_APT_CLEAN = (
    "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb "
    "/var/cache/apt/*.bin || true"
)
APT_SLIM = f"""\
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
DPkg::Post-Invoke {{ "{_APT_CLEAN}"; }};
APT::Update::Post-Invoke {{ "{_APT_CLEAN}"; }};
"""
APT_SOURCES = f"""\
Types: deb
URIs: {DEBIAN_MIRROR}
Suites: {DEBIAN_SUITE} {DEBIAN_SUITE}-updates
Components: main
Signed-By: {DEBIAN_KEYRING}

Types: deb
URIs: {DEBIAN_SECURITY_MIRROR}
Suites: {DEBIAN_SUITE}-security
Components: main
Signed-By: {DEBIAN_KEYRING}
"""
# Security updates and clean-up run in a container, not a chroot of the host: maintainer
# scripts then see a normal /proc, /dev and PID 1.
BASE_UPGRADE = """\
FROM {rootfs}
RUN apt-get update \\
    && DEBIAN_FRONTEND=noninteractive apt-get upgrade --yes \\
    && apt-get clean \\
    && rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log /var/cache/debconf/*-old
CMD ["bash"]
"""
PAUSE_CFLAGS = ("-static", "-Os", "-s", "-Wall", "-Werror")
PAUSE_CONTAINERFILE = f"""\
FROM scratch
COPY pause /pause
USER {PAUSE_USER}
ENTRYPOINT ["/pause"]
"""


class BuildError(RuntimeError):
    """A build step failed; ``str()`` names the step and the end of its output."""


# --------------------------------------------------------------------------- names and keys


def normalized_ref(name: str) -> str:
    """The fully qualified reference podman and containerd store ``name`` under."""
    first, _, rest = name.partition("/")
    if not rest:
        return f"docker.io/library/{name}"
    if "." not in first and ":" not in first and first != "localhost":
        return f"docker.io/{name}"
    return name


def base_ref() -> str:
    """The base image the Dockerfile names: the default of its ``DEBIAN_IMAGE`` argument."""
    match = re.search(r"^ARG DEBIAN_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    if match is None:
        raise BuildError(f"{DOCKERFILE}: no ARG DEBIAN_IMAGE=<image> line")
    return normalized_ref(match[1])


def project_ref() -> str:
    """What the Helm chart runs by default: ``image.repository`` at the chart's appVersion."""
    values = (CHART / "values.yaml").read_text()
    chart = (CHART / "Chart.yaml").read_text()
    repository = re.search(r"^image:\n(?:\s.*\n)*?\s+repository:\s*(\S+)", values, re.MULTILINE)
    version = re.search(r"^appVersion:\s*\"?([^\"\s]+)", chart, re.MULTILINE)
    if repository is None or version is None:
        raise BuildError(f"{CHART}: no image.repository or appVersion")
    return normalized_ref(f"{repository[1]}:{version[1]}")


def _digest(parts: Sequence[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()[:16]


def context_files(root: Path | None = None) -> list[Path]:
    """The files podman sends as the build context, following the allowlist ``.dockerignore``.

    The file lists ``*`` then ``!path`` per included file or directory, then ``**/pattern``
    for names left out anywhere; that is the only form this reads (tests check the form).
    """
    root = ROOT if root is None else root
    lines = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    lines = [line for line in lines if line and not line.startswith("#")]
    included = [line[1:].rstrip("/") for line in lines if line.startswith("!")]
    excluded = [line[3:] for line in lines if line.startswith("**/")]

    def kept(path: Path) -> bool:
        return not any(
            fnmatch.fnmatch(part, pattern) for part in path.parts for pattern in excluded
        )

    files: list[Path] = []
    for entry in included:
        path = root / entry
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files.extend(p for p in path.rglob("*") if p.is_file() and kept(p.relative_to(root)))
    return sorted(files)


def base_key() -> str:
    recipe = json.dumps(
        {
            "version": BASE_RECIPE_VERSION,
            "ref": base_ref(),
            "suite": DEBIAN_SUITE,
            "mirror": DEBIAN_MIRROR,
            "slim": [DPKG_SLIM, APT_SLIM, APT_SOURCES, BASE_UPGRADE],
        },
        sort_keys=True,
    )
    return _digest([recipe.encode()])


def project_key() -> str:
    parts = [base_key().encode(), project_ref().encode()]
    for path in [DOCKERFILE, DOCKERIGNORE, *context_files()]:
        parts += [str(path.relative_to(ROOT)).encode(), path.read_bytes()]
    return _digest(parts)


def pause_key() -> str:
    return _digest(
        [PAUSE_REF.encode(), " ".join(PAUSE_CFLAGS).encode(), PAUSE_CONTAINERFILE.encode(),
         PAUSE_SOURCE.read_bytes()]
    )  # fmt: skip


# --------------------------------------------------------------------------- podman


@dataclasses.dataclass(frozen=True)
class Podman:
    """podman with this machine's settings; ``root``/``runroot``: a storage of its own."""

    binary: str = "podman"
    root: Path | None = None
    runroot: Path | None = None
    storage_driver: str | None = None

    def argv(self, *args: str) -> list[str]:
        argv = [self.binary, "--runtime", "runc", "--cgroup-manager", "cgroupfs"]
        if self.root is not None:
            argv += ["--root", str(self.root)]
        if self.runroot is not None:
            argv += ["--runroot", str(self.runroot)]
        if self.storage_driver:
            argv += ["--storage-driver", self.storage_driver]
        return [*argv, *args]

    def image_id(self, ref: str) -> str | None:
        result = subprocess.run(
            self.argv("image", "inspect", "--format", "{{.Id}}", ref),
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        return result.stdout.strip() if result.returncode == 0 else None


#: Resource limits of every container podman runs here (builds too): its defaults exceed this
#: machine's hard limits, and runc then fails ("setting rlimit type 6: operation not permitted").
LIMITS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")


def _run(argv: Sequence[str], log: Path, step: str, cwd: Path | None = None) -> None:
    """Run one build step, its output appended to ``log``; fail with the output's end."""
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        result = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, check=False)
    if result.returncode != 0:
        tail = "".join(log.read_text(encoding="utf-8", errors="replace").splitlines(True)[-30:])
        raise BuildError(f"{step} failed (exit {result.returncode}; log: {log}):\n{tail}")


def _host_ca_bundle() -> str | None:
    """The CA bundle this host trusts for PyPI (it may sit behind a TLS-inspecting proxy)."""
    for candidate in (
        os.environ.get("PIP_CERT"),
        os.environ.get("SSL_CERT_FILE"),
        "/etc/ssl/certs/ca-certificates.crt",
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


# --------------------------------------------------------------------------- the three builds


@dataclasses.dataclass(frozen=True)
class Image:
    name: str
    ref: str
    key: str
    build: Callable[[Podman, Path], None]


def _build_base(podman: Podman, log: Path) -> None:
    ref = base_ref()
    with tempfile.TemporaryDirectory(prefix="ffmpeg-operator-base-", dir="/var/tmp") as tmp:
        work = Path(tmp)
        rootfs = work / "rootfs"
        _run(
            ["debootstrap", "--variant=minbase", f"--keyring={DEBIAN_KEYRING}",
             "--components=main", DEBIAN_SUITE, str(rootfs), DEBIAN_MIRROR],
            log, "debootstrap",
        )  # fmt: skip
        _slim(rootfs)
        _run(
            ["tar", "--numeric-owner", "--xattrs", "-C", str(rootfs), "-cf",
             str(work / "rootfs.tar"), "."],
            log, "tar of the root file system",
        )  # fmt: skip
        shutil.rmtree(rootfs)
        staging = f"localhost/ffmpeg-operator-debootstrap:{base_key()}"
        _run(podman.argv("import", str(work / "rootfs.tar"), staging), log, "podman import")
        (work / "Containerfile").write_text(BASE_UPGRADE.format(rootfs=staging))
        try:
            _run(
                podman.argv("build", "--pull=never", "--squash-all", *LIMITS, "-t", ref,
                            "-f", str(work / "Containerfile"), str(work)),
                log, "upgrade of the base",
            )  # fmt: skip
        finally:
            subprocess.run(podman.argv("rmi", staging), capture_output=True, check=False)


def _slim(rootfs: Path) -> None:
    """Debian's slim-image settings, applied to what debootstrap installed, and its leftovers."""
    (rootfs / "etc/dpkg/dpkg.cfg.d/slim").write_text(DPKG_SLIM)
    (rootfs / "etc/apt/apt.conf.d/slim").write_text(APT_SLIM)
    (rootfs / "etc/apt/sources.list").unlink(missing_ok=True)
    (rootfs / "etc/apt/sources.list.d/debian.sources").write_text(APT_SOURCES)
    rules = [line.partition(" ") for line in DPKG_SLIM.splitlines()]
    includes = [glob for kind, _, glob in rules if kind == "path-include"]
    for kind, _, glob in rules:
        if kind != "path-exclude":
            continue
        for top in rootfs.glob(glob.lstrip("/")):
            found = [top] if top.is_file() or top.is_symlink() else [*top.rglob("*"), top]
            for path in sorted(found, key=lambda p: len(p.parts), reverse=True):
                name = "/" + str(path.relative_to(rootfs))
                if any(fnmatch.fnmatch(name, include) for include in includes):
                    continue
                if path.is_dir() and not path.is_symlink():
                    with contextlib.suppress(OSError):  # not empty: it holds an included file
                        path.rmdir()
                else:
                    path.unlink()
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for path in (rootfs / leftover).glob("*"):
            if path.is_file():
                path.unlink()
    # Empty, so that each container gets its own (systemd's convention).
    (rootfs / "etc/machine-id").write_text("")
    (rootfs / "etc/hostname").unlink(missing_ok=True)


def _build_project(podman: Podman, log: Path) -> None:
    argv = ["build", "--pull=never", "--layers", *LIMITS, "-t", project_ref()]
    ca_bundle = _host_ca_bundle()
    if ca_bundle is not None:
        argv += ["--secret", f"id=pip-ca,src={ca_bundle}"]
    _run(podman.argv(*argv, "-f", str(DOCKERFILE), str(ROOT)), log, "podman build")


def _build_pause(podman: Podman, log: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="ffmpeg-operator-pause-") as tmp:
        work = Path(tmp)
        _run(["gcc", *PAUSE_CFLAGS, "-o", str(work / "pause"), str(PAUSE_SOURCE)], log, "gcc")
        (work / "Containerfile").write_text(PAUSE_CONTAINERFILE)
        _run(
            podman.argv("build", "--pull=never", "-t", PAUSE_REF, "-f",
                        str(work / "Containerfile"), str(work)),
            log, "podman build of pause",
        )  # fmt: skip


def images() -> dict[str, Image]:
    return {
        "base": Image("base", base_ref(), base_key(), _build_base),
        "project": Image("project", project_ref(), project_key(), _build_project),
        "pause": Image("pause", PAUSE_REF, pause_key(), _build_pause),
    }


#: What each image is built on: it must be in podman's storage first.
DEPENDS = {"project": ("base",)}


# --------------------------------------------------------------------------- the cache


def default_cache_dir() -> Path:
    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache_home) / "ffmpeg-operator" / "images"


@dataclasses.dataclass(frozen=True)
class Archive:
    """One image's docker-archive in the cache and what is known about it."""

    name: str
    ref: str
    key: str
    archive: Path
    image_id: str = ""
    build_seconds: float = 0.0

    def as_json(self) -> dict[str, object]:
        fields = dataclasses.asdict(self)
        fields["archive"] = str(self.archive)
        fields["present"] = self.archive.is_file()
        fields["bytes"] = self.archive.stat().st_size if self.archive.is_file() else 0
        return fields


def archive_of(image: Image, cache_dir: Path) -> Archive:
    stem = cache_dir / f"{image.name}-{image.key}"
    archive = Archive(image.name, image.ref, image.key, stem.with_suffix(".tar"))
    meta = stem.with_suffix(".json")
    if archive.archive.is_file() and meta.is_file():
        recorded = json.loads(meta.read_text())
        archive = dataclasses.replace(
            archive,
            image_id=recorded.get("image_id", ""),
            build_seconds=recorded.get("build_seconds", 0.0),
        )
    return archive


@contextlib.contextmanager
def _locked(cache_dir: Path) -> Iterator[None]:
    """One builder at a time per cache (the cluster tier and the image tier share it)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _say(message: str) -> None:
    print(f"images: {message}", file=sys.stderr, flush=True)


def _ensure_in_podman(archive: Archive, podman: Podman, log: Path) -> None:
    if archive.image_id and podman.image_id(archive.ref) == archive.image_id:
        return
    _run(podman.argv("load", "-i", str(archive.archive)), log, f"podman load of {archive.name}")


def ensure(
    names: Sequence[str],
    cache_dir: Path,
    podman: Podman,
    *,
    rebuild: bool = False,
    load: bool = False,
) -> dict[str, Archive]:
    """The archives of ``names`` (and what they are built on), each built only when missing."""
    wanted: list[str] = []
    for name in names:
        for needed in (*DEPENDS.get(name, ()), name):
            if needed not in wanted:
                wanted.append(needed)
    known = images()
    done: dict[str, Archive] = {}
    with _locked(cache_dir):
        for name in wanted:
            image = known[name]
            archive = archive_of(image, cache_dir)
            log = cache_dir / f"{name}.log"
            if archive.image_id and not (rebuild and name in names):
                _say(f"{name}: cached {archive.archive}")
                if load and name in names:
                    _ensure_in_podman(archive, podman, log)
            else:
                log.write_text("")
                for dependency in DEPENDS.get(name, ()):
                    _ensure_in_podman(done[dependency], podman, log)
                _say(f"{name}: building {image.ref} (log: {log})")
                archive = _build(image, archive, podman, log, cache_dir)
                _say(
                    f"{name}: built in {archive.build_seconds:.0f} s, "
                    f"{archive.archive.stat().st_size / 1e6:.0f} MB"
                )
            done[name] = archive
    return {name: done[name] for name in names}


def _build(image: Image, archive: Archive, podman: Podman, log: Path, cache_dir: Path) -> Archive:
    started = time.monotonic()
    image.build(podman, log)
    image_id = podman.image_id(image.ref)
    if image_id is None:
        raise BuildError(f"{image.name}: {image.ref} is not in podman's storage after the build")
    partial = archive.archive.with_suffix(".tar.partial")
    partial.unlink(missing_ok=True)
    _run(
        podman.argv("save", "--format", "docker-archive", "-o", str(partial), image.ref),
        log, f"podman save of {image.name}",
    )  # fmt: skip
    partial.replace(archive.archive)
    built = dataclasses.replace(
        archive, image_id=image_id, build_seconds=round(time.monotonic() - started, 1)
    )
    meta = {k: v for k, v in built.as_json().items() if k not in {"present", "bytes"}}
    archive.archive.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    # Archives of older inputs are of no further use, and each is up to a gigabyte.
    for old in cache_dir.glob(f"{image.name}-*"):
        if old.stem.removeprefix(f"{image.name}-") != image.key:
            old.unlink()
    return built


# --------------------------------------------------------------------------- containerd


def import_into_containerd(
    archives: Sequence[Archive], ctr: str, address: str, namespace: str = "k8s.io"
) -> None:
    """``ctr images import`` of each archive: the node's CRI then finds the images locally."""
    for archive in archives:
        argv = [ctr, "-n", namespace, "--address", address, "images", "import",
                str(archive.archive)]  # fmt: skip
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BuildError(f"{' '.join(argv)} failed: {result.stderr.strip()}")
        _say(f"{archive.name}: imported {archive.ref} into containerd ({namespace})")


# --------------------------------------------------------------------------- command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir())
    parser.add_argument("--podman", default="podman")
    parser.add_argument("--root", type=Path, help="podman --root (default: its own storage)")
    parser.add_argument("--runroot", type=Path, help="podman --runroot")
    parser.add_argument("--storage-driver", help="podman --storage-driver (default: its own)")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in ("build", "load", "import", "list"):
        sub = commands.add_parser(command)
        sub.add_argument("--only", nargs="+", choices=NAMES, default=list(NAMES))
        if command != "list":
            sub.add_argument("--rebuild", action="store_true", help="build even when cached")
        if command == "import":
            sub.add_argument("--ctr", required=True, help="path of ctr")
            sub.add_argument("--address", required=True, help="containerd's socket")
            sub.add_argument("--namespace", default="k8s.io")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    podman = Podman(args.podman, args.root, args.runroot, args.storage_driver)
    if args.command == "list":
        known = images()
        listing = {name: archive_of(known[name], args.cache_dir).as_json() for name in args.only}
        print(json.dumps(listing, indent=1))
        return 0
    try:
        archives = ensure(
            args.only, args.cache_dir, podman, rebuild=args.rebuild, load=args.command == "load"
        )
        if args.command == "import":
            import_into_containerd(list(archives.values()), args.ctr, args.address, args.namespace)
    except BuildError as error:
        print(f"images: {error}", file=sys.stderr)
        return 1
    for archive in archives.values():
        print(f"{archive.name} {archive.ref} {archive.archive}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
