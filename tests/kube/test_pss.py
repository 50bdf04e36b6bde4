"""The restricted Pod Security Standard check used on generated Pods finds violations."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from kube_examples import minimal_cr
from pss import restricted_violations

from ffmpeg_operator.kube.pod import OperatorSettings, build_run_pod

POD = build_run_pod(minimal_cr(), 1, OperatorSettings(), lambda _pid: None).manifest


def _ffmpeg(pod: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = pod["spec"]["containers"][0]
    return container


def _agent(pod: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = pod["spec"]["initContainers"][0]
    return container


MUTATIONS: dict[str, Callable[[dict[str, Any]], object]] = {
    "host network": lambda p: p["spec"].update(hostNetwork=True),
    "host PID": lambda p: p["spec"].update(hostPID=True),
    "privileged": lambda p: _ffmpeg(p)["securityContext"].update(privileged=True),
    "escalation": lambda p: _agent(p)["securityContext"].pop("allowPrivilegeEscalation"),
    "capability added": lambda p: _ffmpeg(p)["securityContext"]["capabilities"].update(
        add=["SYS_ADMIN"]
    ),
    "ALL not dropped": lambda p: _agent(p)["securityContext"]["capabilities"].update(drop=[]),
    "root user": lambda p: p["spec"]["securityContext"].update(runAsUser=0),
    "root allowed": lambda p: (
        p["spec"]["securityContext"].pop("runAsNonRoot"),
        _ffmpeg(p)["securityContext"].pop("runAsNonRoot"),
    ),
    "seccomp unconfined": lambda p: _ffmpeg(p)["securityContext"].update(
        seccompProfile={"type": "Unconfined"}
    ),
    "no seccomp": lambda p: p["spec"]["securityContext"].pop("seccompProfile"),
    "host path": lambda p: p["spec"]["volumes"].append({"name": "h", "hostPath": {"path": "/"}}),
    "host port": lambda p: _agent(p)["ports"][0].update(hostPort=9556),
    "unsafe sysctl": lambda p: p["spec"]["securityContext"].update(
        sysctls=[{"name": "kernel.msgmax", "value": "1"}]
    ),
    "selinux user": lambda p: p["spec"]["securityContext"].update(
        seLinuxOptions={"user": "system_u"}
    ),
    "proc mount": lambda p: _ffmpeg(p)["securityContext"].update(procMount="Unmasked"),
}


def test_generated_pod_is_clean() -> None:
    assert restricted_violations(POD) == []


@pytest.mark.parametrize("mutation", MUTATIONS, ids=list(MUTATIONS))
def test_each_violation_is_reported(mutation: str) -> None:
    pod = copy.deepcopy(POD)
    MUTATIONS[mutation](pod)
    assert restricted_violations(pod) != []
