"""The Pod Security Standard "restricted" profile (baseline included) as a pure check.

Follows https://kubernetes.io/docs/concepts/security/pod-security-standards/ (profile
version "latest" as of Kubernetes 1.33); :func:`restricted_violations` lists what the
``pod-security.kubernetes.io/enforce: restricted`` admission would refuse.
"""

from __future__ import annotations

from typing import Any

_SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",
    }
)  # fmt: skip
_SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
_RESTRICTED_VOLUMES = frozenset(
    {
        "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
        "projected", "secret",
    }
)  # fmt: skip
_SECCOMP_OK = frozenset({"RuntimeDefault", "Localhost"})


def _containers(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(kind) or []:
            found.append((f"{kind}[{container.get('name')}]", container))
    return found


def _security_context_rules(where: str, context: dict[str, Any]) -> list[str]:
    """Rules that apply alike to the Pod's and a container's securityContext."""
    problems = []
    if (context.get("windowsOptions") or {}).get("hostProcess"):
        problems.append(f"{where}: windowsOptions.hostProcess")
    selinux = context.get("seLinuxOptions") or {}
    if selinux.get("type", "") not in _SELINUX_TYPES:
        problems.append(f"{where}: seLinuxOptions.type {selinux['type']!r}")
    if selinux.get("user") or selinux.get("role"):
        problems.append(f"{where}: seLinuxOptions.user/role set")
    apparmor = (context.get("appArmorProfile") or {}).get("type")
    if apparmor not in (None, "RuntimeDefault", "Localhost"):
        problems.append(f"{where}: appArmorProfile.type {apparmor!r}")
    if context.get("runAsUser") == 0:
        problems.append(f"{where}: runAsUser 0")
    if context.get("runAsNonRoot") is False:
        problems.append(f"{where}: runAsNonRoot false")
    seccomp = (context.get("seccompProfile") or {}).get("type")
    if seccomp is not None and seccomp not in _SECCOMP_OK:
        problems.append(f"{where}: seccompProfile.type {seccomp!r}")
    return problems


def _container_rules(where: str, container: dict[str, Any]) -> list[str]:
    context = container.get("securityContext") or {}
    problems = _security_context_rules(where, context)
    if context.get("privileged"):
        problems.append(f"{where}: privileged")
    if context.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{where}: allowPrivilegeEscalation must be false")
    if context.get("procMount", "Default") != "Default":
        problems.append(f"{where}: procMount {context['procMount']!r}")
    capabilities = context.get("capabilities") or {}
    if "ALL" not in (capabilities.get("drop") or []):
        problems.append(f"{where}: capabilities must drop ALL")
    for added in capabilities.get("add") or []:
        if added != "NET_BIND_SERVICE":
            problems.append(f"{where}: capability {added} added")
    for port in container.get("ports") or []:
        if port.get("hostPort"):
            problems.append(f"{where}: hostPort {port['hostPort']}")
    for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container.get(probe_name) or {}
        for handler in ("httpGet", "tcpSocket"):
            if (probe.get(handler) or {}).get("host"):
                problems.append(f"{where}: {probe_name}.{handler}.host set")
    return problems


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """What the restricted profile refuses in ``pod``; empty when it is admitted."""
    spec = pod.get("spec") or {}
    problems = []
    for host_field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(host_field):
            problems.append(f"spec.{host_field}")
    pod_context = spec.get("securityContext") or {}
    problems.extend(_security_context_rules("spec.securityContext", pod_context))
    for sysctl in pod_context.get("sysctls") or []:
        if sysctl.get("name") not in _SAFE_SYSCTLS:
            problems.append(f"spec.securityContext: sysctl {sysctl.get('name')}")
    for volume in spec.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= _RESTRICTED_VOLUMES:
            problems.append(f"volume {volume.get('name')}: type {sorted(kinds)}")
    containers = _containers(spec)
    for where, container in containers:
        problems.extend(_container_rules(where, container))
        context = container.get("securityContext") or {}
        if not (pod_context.get("runAsNonRoot") or context.get("runAsNonRoot")):
            problems.append(f"{where}: runAsNonRoot must be true (Pod or container)")
        pod_seccomp = (pod_context.get("seccompProfile") or {}).get("type")
        container_seccomp = (context.get("seccompProfile") or {}).get("type")
        if pod_seccomp not in _SECCOMP_OK and container_seccomp not in _SECCOMP_OK:
            problems.append(f"{where}: seccompProfile must be RuntimeDefault or Localhost")
    for key, value in ((pod.get("metadata") or {}).get("annotations") or {}).items():
        if key.startswith("container.apparmor.security.beta.kubernetes.io/") and not (
            value == "runtime/default" or value.startswith("localhost/")
        ):
            problems.append(f"annotation {key}: {value}")
    return problems
