"""What a stopped node leaves behind, removed: container processes, mounts, namespaces, rules.

Runs after every cluster process has been stopped. Each step only touches what this cluster
made: processes in kubelet's ``kubepods`` cgroups or running our shim binary, runc containers
under our runc root, mounts under our state and runtime dirs, our bridge, kube-proxy's own
nftables tables and the ``KUBE-*`` chains kubelet and kube-proxy create in the iptables tables.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
KUBEPODS = "kubepods"


def clean(state: Path, runtime: Path, shim_dir: Path, runc: str, bridge: str) -> None:
    _kill_pod_processes()
    _kill_shims(shim_dir)
    _delete_runc_containers(runc, runtime / "runc")
    _unmount_under([state, runtime])
    _remove_pod_cgroups()
    _run("ip", "link", "delete", bridge)
    for family in ("ip", "ip6"):
        _run("nft", "delete", "table", family, "kube-proxy")
        _run("nft", "delete", "table", family, "kube-proxy-canary")
    for tool in ("iptables", "ip6tables"):
        for table in ("filter", "nat", "mangle"):
            _drop_kube_chains(tool, table)
    shutil.rmtree(runtime, ignore_errors=True)


def _run(*argv: str) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


def _pod_cgroup_dirs() -> list[Path]:
    """Every kubepods cgroup directory in every hierarchy, deepest first."""
    dirs: list[Path] = []
    if not CGROUP_ROOT.is_dir():
        return dirs
    for hierarchy in CGROUP_ROOT.iterdir():
        top = hierarchy / KUBEPODS
        if top.is_dir():
            dirs.extend(p for p in top.rglob("*") if p.is_dir())
            dirs.append(top)
    return sorted(dirs, key=lambda p: len(p.parts), reverse=True)


def _kill_pod_processes() -> None:
    for _ in range(50):
        pids: set[int] = set()
        for directory in _pod_cgroup_dirs():
            with contextlib.suppress(OSError):
                pids.update(int(p) for p in (directory / "cgroup.procs").read_text().split())
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def _kill_shims(shim_dir: Path) -> None:
    shim = str(shim_dir / "containerd-shim-runc-v2")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if os.readlink(proc / "exe") == shim:
                os.kill(int(proc.name), signal.SIGKILL)


def _delete_runc_containers(runc: str, root: Path) -> None:
    if not root.is_dir():
        return
    for namespace_root in root.iterdir():
        listing = _run(runc, "--root", str(namespace_root), "list", "-q")
        for container in listing.stdout.split() if listing else []:
            _run(runc, "--root", str(namespace_root), "kill", container, "KILL")
            _run(runc, "--root", str(namespace_root), "delete", "--force", container)


def _unmount_under(roots: list[Path]) -> None:
    prefixes = [str(root.resolve()) for root in roots]
    for _ in range(5):
        points = []
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            point = line.split()[4].replace("\\040", " ")
            if any(point == p or point.startswith(p + "/") for p in prefixes):
                points.append(point)
        if not points:
            return
        for point in sorted(set(points), key=len, reverse=True):
            _run("umount", "--lazy", point)


def _remove_pod_cgroups() -> None:
    for directory in _pod_cgroup_dirs():
        with contextlib.suppress(OSError):
            directory.rmdir()


_CHAIN = re.compile(r"^-N (KUBE-[A-Z0-9-]+)$")


def _drop_kube_chains(tool: str, table: str) -> None:
    listing = _run(tool, "-w", "5", "-t", table, "-S")
    if listing is None or listing.returncode != 0:
        return
    lines = listing.stdout.splitlines()
    chains = {m.group(1) for line in lines if (m := _CHAIN.match(line))}
    if not chains:
        return
    # Rules jumping into our chains from other chains first, then the chains themselves.
    for line in lines:
        if line.startswith("-A ") and line.split()[1] not in chains:
            jump = re.search(r"-j (KUBE-[A-Z0-9-]+)", line)
            if jump and jump.group(1) in chains:
                _run(tool, "-w", "5", "-t", table, *shlex.split("-D" + line[2:]))
    for chain in chains:
        _run(tool, "-w", "5", "-t", table, "-F", chain)
    for chain in chains:
        _run(tool, "-w", "5", "-t", table, "-X", chain)
