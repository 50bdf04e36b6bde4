"""Build the test cluster's binaries from pinned Go modules into a cache outside the work tree.

Each component lands in ``<cache>/<name>-<key>/bin`` where ``<key>`` hashes everything that
decides the binary: the Go version, the build flags, and either the local module's go.mod,
go.sum and sources or the pinned upstream module@version. A finished build leaves ``.complete``
beside the binaries, so a second run builds nothing; a failed or interrupted one leaves no
directory under that name (it builds in a temporary directory and renames it at the end).

    python tests/cluster/build.py [--print-dir NAME] [NAME ...]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

HERE = Path(__file__).resolve().parent
CACHE = Path(
    os.environ.get("FFMPEG_OPERATOR_CLUSTER_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "ffmpeg-operator"
    / "cluster"
)
LOGS = CACHE / "logs"
COMPLETE = ".complete"

KUBERNETES_VERSION = "v1.37.2"
# The binary's reported version: without it every component says v0.0.0-master, and helm
# refuses a chart whose kubeVersion asks for >=1.29 (ours does).
_VERSION_PKG = "k8s.io/component-base/version"
KUBE_LDFLAGS = " ".join(
    [
        f"-X {_VERSION_PKG}.gitVersion={KUBERNETES_VERSION}",
        f"-X {_VERSION_PKG}.gitMajor=1",
        f"-X {_VERSION_PKG}.gitMinor=37",
        f"-X {_VERSION_PKG}.gitTreeState=clean",
    ]
)


@dataclass(frozen=True)
class Component:
    """One cache entry: the binaries built from a local module dir or an upstream module@version."""

    name: str
    packages: tuple[str, ...]
    module_dir: str | None = None  # under tests/cluster; None means `go install pkg@version`
    version: str | None = None
    ldflags: str = ""
    binaries: tuple[str, ...] = field(default=())


COMPONENTS: dict[str, Component] = {
    c.name: c
    for c in [
        Component("kube", (".",), module_dir="kube", ldflags=KUBE_LDFLAGS, binaries=("kube",)),
        Component("coredns", (".",), module_dir="coredns", binaries=("coredns",)),
        Component(
            "containerd",
            (
                "github.com/containerd/containerd/v2/cmd/containerd",
                "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2",
                "github.com/containerd/containerd/v2/cmd/ctr",
            ),
            version="v2.4.2",
            binaries=("containerd", "containerd-shim-runc-v2", "ctr"),
        ),
        Component("helm", ("helm.sh/helm/v4/cmd/helm",), version="v4.3.2", binaries=("helm",)),
        # Flux's two controllers for the GitOps test (tests/realcluster/test_real_gitops_flux.py),
        # each built from a pinned wrapper module: upstream's go.mod has replace lines, which
        # `go install pkg@version` refuses, so the wrapper copies them (see its go.mod).
        Component(
            "source-controller",
            ("github.com/fluxcd/source-controller", "./gitserver"),
            module_dir="source-controller",
            binaries=("source-controller", "gitserver"),
        ),
        Component(
            "kustomize-controller",
            ("github.com/fluxcd/kustomize-controller",),
            module_dir="kustomize-controller",
            binaries=("kustomize-controller",),
        ),
    ]
}

_BUILD_ENV = {"CGO_ENABLED": "0", "GOFLAGS": "-trimpath -buildvcs=false"}


def go_version() -> str:
    return subprocess.run(
        ["go", "env", "GOVERSION"], check=True, capture_output=True, text=True
    ).stdout.strip()


def cache_key(component: Component, go: str) -> str:
    digest = hashlib.sha256()
    for part in (component.name, go, repr(sorted(_BUILD_ENV.items())), component.ldflags):
        digest.update(part.encode() + b"\0")
    digest.update(repr(component.packages).encode() + b"\0")
    if component.module_dir is None:
        digest.update(f"{component.version}".encode())
    else:
        root = HERE / component.module_dir
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def bin_dir(name: str, go: str | None = None) -> Path:
    component = COMPONENTS[name]
    return CACHE / f"{component.name}-{cache_key(component, go or go_version())}" / "bin"


def is_built(name: str, go: str | None = None) -> bool:
    return (bin_dir(name, go) / COMPLETE).is_file()


def _go_build(component: Component, out: Path, log: IO[str]) -> None:
    env = {**os.environ, **_BUILD_ENV}
    ldflags = ["-ldflags", component.ldflags] if component.ldflags else []
    for package, binary in zip(component.packages, component.binaries, strict=True):
        if component.module_dir is None:
            # `go install pkg@version` builds the upstream module as its own main module, with
            # exactly its go.mod/go.sum (checked against the checksum database).
            command = ["go", "install", *ldflags, f"{package}@{component.version}"]
            cwd = None
            env["GOBIN"] = str(out)
        else:
            command = ["go", "build", "-mod=readonly", *ldflags, "-o", str(out / binary), package]
            cwd = HERE / component.module_dir
        print(f"building {component.name}: {' '.join(command)}", file=log, flush=True)
        subprocess.run(
            ["nice", "-n", "10", *command], check=True, cwd=cwd, env=env, stdout=log, stderr=log
        )


def build(name: str) -> Path:
    """Build ``name`` unless its cache entry is complete; return its bin directory."""
    component = COMPONENTS[name]
    go = go_version()
    target = bin_dir(name, go)
    if (target / COMPLETE).is_file():
        return target
    LOGS.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=CACHE))
    log_path = LOGS / f"{target.parent.name}.log"
    started = time.monotonic()
    print(f"building {name} (log: {log_path})", file=sys.stderr, flush=True)
    try:
        out = scratch / "bin"
        out.mkdir()
        with log_path.open("w") as log:
            _go_build(component, out, log)
        missing = [b for b in component.binaries if not (out / b).is_file()]
        if missing:
            raise RuntimeError(f"{name}: build produced no {', '.join(missing)}")
        (out / COMPLETE).write_text(f"{go}\n")
        if target.parent.exists():  # a half-finished entry from an older, interrupted layout
            shutil.rmtree(target.parent)
        scratch.rename(target.parent)
    except subprocess.CalledProcessError as error:
        tail = log_path.read_text().splitlines()[-30:]
        message = f"{name}: build failed ({error}); last lines:\n" + "\n".join(tail)
        raise SystemExit(message) from error
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    elapsed = time.monotonic() - started
    print(f"{name} built in {elapsed:.0f}s -> {target}", file=sys.stderr, flush=True)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"components (default: all of {list(COMPONENTS)})")
    parser.add_argument("--print-dir", metavar="NAME", help="print NAME's bin dir and exit")
    args = parser.parse_args(argv)
    if args.print_dir:
        print(bin_dir(args.print_dir))
        return 0
    if shutil.which("go") is None:
        print("go is not on PATH: the test cluster is built from Go modules", file=sys.stderr)
        return 3
    for name in args.names or list(COMPONENTS):
        if name not in COMPONENTS:
            parser.error(f"unknown component {name!r}")
        build(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
