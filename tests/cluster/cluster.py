"""A single-node Kubernetes made of local processes: ``cluster.py up|down|status|env``.

etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd (runc, the Debian CNI
plugins on a bridge), kubelet, kube-proxy and CoreDNS run as processes of this machine, from the
binaries ``build.py`` caches. Everything the cluster writes lives in the state directory
(``<cache>/run``, outside the work tree) and ``/run/ffmpeg-operator-cluster``; ``down`` stops every
process ``up`` started and removes the mounts, network namespaces, bridge and packet-filter
tables the node made.

``up`` is idempotent (a running cluster is found and reported) and ends with the line
``KUBECONFIG=<path>``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import build
import node_cleanup
import pki

STATE = build.CACHE / "run"
RUNTIME = Path("/run/ffmpeg-operator-cluster")
NODE = "ffmpeg-operator-node"
CONTEXT = "ffmpeg-operator-local"
CLUSTER_DOMAIN = "cluster.local"
SERVICE_CIDR = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"
DNS_SERVICE_IP = "10.96.0.10"
POD_CIDR = "10.244.0.0/16"
NODE_POD_SUBNET = "10.244.0.0/24"
BRIDGE = "ffmop0"
CNI_NETWORK = "ffmpeg-operator"
ETCD_CLIENT_PORT = 23790
ETCD_PEER_PORT = 23800
APISERVER_PORT = 6443
DNS_PORT = 1053  # CoreDNS on the node's address; the kube-dns Service maps :53 to it
PAUSE_IMAGE = "registry.k8s.io/pause:3.10.1"
RUNC = shutil.which("runc") or "/usr/sbin/runc"
CNI_BIN = Path("/usr/lib/cni")
STORAGE_CLASS = "local-hostpath"
VOLUMES = 6
VOLUME_SIZE = "10Gi"
#: Started in this order, stopped in the reverse one.
COMPONENTS = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "containerd",
    "kubelet",
    "kube-proxy",
    "coredns",
)


def log(message: str) -> None:
    print(f"cluster: {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------ layout


class _BelowState:
    """A read-only ``Layout`` attribute: a path below the state dir (not a dataclass field)."""

    def __init__(self, *parts: str) -> None:
        self.parts = parts

    def __get__(self, lay: Layout, owner: type | None = None) -> Path:
        return lay.state.joinpath(*self.parts)


@dataclass(frozen=True)
class Layout:
    """Paths of one cluster; everything derives from the state dir and the built binaries."""

    state: Path
    node_ip: str

    pki = _BelowState("pki")
    logs = _BelowState("logs")
    pids = _BelowState("pids")
    kubeconfig = _BelowState("kubeconfig")
    kubelet_root = _BelowState("kubelet")
    cni_conf_dir = _BelowState("cni", "net.d")
    volumes = _BelowState("volumes")

    @property
    def containerd_socket(self) -> Path:
        return RUNTIME / "containerd" / "containerd.sock"

    @property
    def server(self) -> str:
        return f"https://{self.node_ip}:{APISERVER_PORT}"


def node_address() -> str:
    """The address pods reach the node (and so the apiserver and DNS) at: the default route's."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        # No packet is sent: connect() on UDP only picks the source address for the route.
        probe.connect(("192.0.2.123", 9))
        address: str = probe.getsockname()[0]
    return address


def layout() -> Layout:
    recorded = STATE / "node-ip"
    if recorded.is_file() and (STATE / "pids").is_dir() and any((STATE / "pids").iterdir()):
        return Layout(STATE, recorded.read_text().strip())
    return Layout(STATE, node_address())


def binary(name: str) -> Path:
    component = {"ctr": "containerd", "containerd-shim-runc-v2": "containerd"}.get(name, name)
    path = build.bin_dir(component) / name
    if not (path.parent / build.COMPLETE).is_file():
        raise SystemExit(f"{component} is not built: run `python tests/cluster/build.py`")
    return path


# ---------------------------------------------------------------------------- configuration


def _write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def _kubeconfig(lay: Layout, stem: str, server: str | None = None) -> Path:
    """A kubeconfig authenticating with the client certificate ``pki/<stem>.crt``."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CONTEXT,
                "cluster": {
                    "server": server or lay.server,
                    "certificate-authority": str(lay.pki / "ca.crt"),
                },
            }
        ],
        "users": [
            {
                "name": stem,
                "user": {
                    "client-certificate": str(lay.pki / f"{stem}.crt"),
                    "client-key": str(lay.pki / f"{stem}.key"),
                },
            }
        ],
        "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": stem}}],
        "current-context": CONTEXT,
    }
    # JSON is YAML: every client here reads it as a kubeconfig.
    target = lay.kubeconfig if stem == "admin" else lay.state / "kubeconfigs" / f"{stem}.conf"
    return _write(target, json.dumps(config, indent=2) + "\n", 0o600)


def identities(lay: Layout) -> list[pki.Identity]:
    api_names = (
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        f"kubernetes.default.svc.{CLUSTER_DOMAIN}",
        "localhost",
    )
    return [
        pki.Identity(
            "apiserver",
            "kube-apiserver",
            dns_names=api_names,
            ip_addresses=(lay.node_ip, "127.0.0.1", KUBERNETES_SERVICE_IP),
            server=True,
        ),
        pki.Identity("apiserver-kubelet-client", "kube-apiserver-kubelet-client", "system:masters"),
        pki.Identity("admin", "kubernetes-admin", "system:masters"),
        pki.Identity("controller-manager", "system:kube-controller-manager"),
        pki.Identity("scheduler", "system:kube-scheduler"),
        pki.Identity("kube-proxy", "system:kube-proxy"),
        pki.Identity("coredns", "system:coredns"),
        pki.Identity("kubelet", f"system:node:{NODE}", "system:nodes"),
        pki.Identity(
            "kubelet-serving",
            f"system:node:{NODE}",
            "system:nodes",
            dns_names=(NODE, "localhost"),
            ip_addresses=(lay.node_ip, "127.0.0.1"),
            server=True,
        ),
    ]


def write_pki(lay: Layout) -> None:
    pki.ensure_ca(lay.pki)
    for identity in identities(lay):
        pki.ensure_identity(lay.pki, identity)
    pki.ensure_service_account_keys(lay.pki)


def containerd_config(lay: Layout) -> Path:
    root = RUNTIME / "containerd"
    text = f"""\
version = 3
root = "{lay.state / "containerd"}"
state = "{root / "state"}"

[grpc]
  address = "{lay.containerd_socket}"

[ttrpc]
  address = "{root / "ttrpc.sock"}"

[debug]
  level = "warn"

[plugins."io.containerd.cri.v1.images".pinned_images]
  sandbox = "{PAUSE_IMAGE}"

[plugins."io.containerd.cri.v1.runtime"]
  # Pod network namespaces under the state dir, not /var/run/netns, so `down` finds its own.
  netns_mounts_under_state_dir = true
  # This machine's root lacks CAP_SYS_RESOURCE (see README), so no process may lower its
  # oom_score_adj: kubelet's -998 for a pod sandbox fails in runc ("can't get final child's PID
  # from pipe"). Clamp every container's score to containerd's own instead.
  restrict_oom_score_adj = true

[plugins."io.containerd.cri.v1.runtime".containerd]
  default_runtime_name = "runc"

[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
  BinaryName = "{RUNC}"
  Root = "{RUNTIME / "runc"}"
  # cgroup v1 hybrid here, driven by kubelet's cgroupfs driver, not systemd.
  SystemdCgroup = false

[plugins."io.containerd.cri.v1.runtime".cni]
  bin_dirs = ["{CNI_BIN}"]
  conf_dir = "{lay.cni_conf_dir}"
  max_conf_num = 1
"""
    return _write(lay.state / "containerd.toml", text)


def cni_config(lay: Layout) -> Path:
    config = {
        "cniVersion": "1.0.0",
        "name": CNI_NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                # Pods never need to leave the machine (no registry, no internet), so no
                # masquerade rules: nothing of this network lingers in the NAT table.
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": NODE_POD_SUBNET}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(RUNTIME / "cni-ipam"),
                },
            },
            {"type": "loopback"},
        ],
    }
    return _write(lay.cni_conf_dir / "10-ffmpeg-operator.conflist", json.dumps(config, indent=2))


def kubelet_config(lay: Layout) -> Path:
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # This machine's /sys/fs/cgroup is a v1/v2 hybrid with every controller on v1 (see
        # README): kubelet >= 1.35 refuses cgroup v1 unless told otherwise.
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "containerRuntimeEndpoint": f"unix://{lay.containerd_socket}",
        "address": lay.node_ip,
        "port": 10250,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "tlsCertFile": str(lay.pki / "kubelet-serving.crt"),
        "tlsPrivateKeyFile": str(lay.pki / "kubelet-serving.key"),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(lay.pki / "ca.crt")},
        },
        "authorization": {"mode": "Webhook"},
        "clusterDomain": CLUSTER_DOMAIN,
        "clusterDNS": [DNS_SERVICE_IP],
        "failSwapOn": False,
        # The images are imported, never pulled: image GC must not remove them, and a busy
        # developer disk must not taint the node.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
            "nodefs.inodesFree": "1%",
        },
        "serializeImagePulls": False,
        "maxPods": 250,
        "podPidsLimit": -1,
        "resolvConf": "/etc/resolv.conf",
        "localStorageCapacityIsolation": True,
    }
    return _write(lay.state / "kubelet.json", json.dumps(config, indent=2))


def kube_proxy_config(lay: Layout) -> Path:
    config = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(_kubeconfig(lay, "kube-proxy"))},
        # nftables: every rule lives in kube-proxy's own tables, which `down` drops whole,
        # beside whatever else (podman's netavark) uses the iptables-nft tables.
        "mode": "nftables",
        "clusterCIDR": POD_CIDR,
        "hostnameOverride": NODE,
        "bindAddress": "0.0.0.0",
        "metricsBindAddress": "127.0.0.1:10249",
        "healthzBindAddress": "127.0.0.1:10256",
        # Service traffic is masqueraded so a pod reaching a pod on the same bridge through a
        # ClusterIP gets its replies back through the host (no br_netfilter needed).
        "nftables": {"masqueradeAll": True},
        # As containerd's restrict_oom_score_adj: without CAP_SYS_RESOURCE it cannot go below 0.
        "oomScoreAdj": 0,
        # Leave the host's conntrack sysctls alone.
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
    }
    return _write(lay.state / "kube-proxy.json", json.dumps(config, indent=2))


def audit_policy(lay: Layout) -> Path:
    """What workloads' ServiceAccounts do, at Metadata level, into ``logs/audit.log``.

    Tests read it to tell who made a call: bound ServiceAccount tokens carry the calling Pod's
    name (user.extra), so the log shows which operator replica created a run Pod and whether
    any call of the chart's ServiceAccounts was refused. kube-system's controllers are left out.
    """
    policy = {
        "apiVersion": "audit.k8s.io/v1",
        "kind": "Policy",
        "omitStages": ["RequestReceived"],
        "rules": [
            {"level": "None", "userGroups": ["system:serviceaccounts:kube-system"]},
            {"level": "Metadata", "userGroups": ["system:serviceaccounts"]},
            {"level": "None"},
        ],
    }
    return _write(lay.state / "audit-policy.json", json.dumps(policy, indent=2))


def audit_log(lay: Layout) -> Path:
    return lay.logs / "audit.log"


def coredns_config(lay: Layout) -> Path:
    text = f"""\
.:{DNS_PORT} {{
    bind {lay.node_ip} 127.0.0.1
    errors
    health 127.0.0.1:18080
    ready 127.0.0.1:18181
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {_kubeconfig(lay, "coredns")} {CONTEXT}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }}
    cache 5
}}
"""
    return _write(lay.state / "Corefile", text)


# ----------------------------------------------------------------------------- processes


def _control_loop(lay: Layout, kube: str, name: str, stem: str, *, secure_port: int) -> list[str]:
    """The start of kube-controller-manager's and kube-scheduler's command lines: one client
    certificate for all three kubeconfigs, a loopback-only port, no leader election (one node)."""
    conf = str(_kubeconfig(lay, stem))
    return [
        kube, name,
        f"--kubeconfig={conf}",
        f"--authentication-kubeconfig={conf}",
        f"--authorization-kubeconfig={conf}",
        "--bind-address=127.0.0.1",
        f"--secure-port={secure_port}",
        "--leader-elect=false",
    ]  # fmt: skip


def command_line(name: str, lay: Layout) -> list[str]:
    kube = str(binary("kube"))
    p = lay.pki
    if name == "etcd":
        return [
            kube, "etcd", f"-data-dir={lay.state / 'etcd'}",
            f"-listen-client-url=http://127.0.0.1:{ETCD_CLIENT_PORT}",
            f"-listen-peer-url=http://127.0.0.1:{ETCD_PEER_PORT}",
        ]  # fmt: skip
    if name == "kube-apiserver":
        return [
            kube, "kube-apiserver",
            f"--etcd-servers=http://127.0.0.1:{ETCD_CLIENT_PORT}",
            "--bind-address=0.0.0.0",
            f"--advertise-address={lay.node_ip}",
            f"--secure-port={APISERVER_PORT}",
            f"--tls-cert-file={p / 'apiserver.crt'}",
            f"--tls-private-key-file={p / 'apiserver.key'}",
            f"--client-ca-file={p / 'ca.crt'}",
            f"--kubelet-client-certificate={p / 'apiserver-kubelet-client.crt'}",
            f"--kubelet-client-key={p / 'apiserver-kubelet-client.key'}",
            f"--kubelet-certificate-authority={p / 'ca.crt'}",
            "--kubelet-preferred-address-types=InternalIP,Hostname",
            f"--service-account-issuer=https://kubernetes.default.svc.{CLUSTER_DOMAIN}",
            f"--service-account-key-file={p / 'sa.pub'}",
            f"--service-account-signing-key-file={p / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=Node,RBAC",
            # PodSecurity is on by default; these come on top of the default plugin set.
            "--enable-admission-plugins=NodeRestriction,OwnerReferencesPermissionEnforcement",
            "--allow-privileged=true",
            "--anonymous-auth=false",
            "--profiling=false",
            f"--audit-policy-file={audit_policy(lay)}",
            f"--audit-log-path={audit_log(lay)}",
            "--audit-log-maxsize=100",
            "--audit-log-maxbackup=1",
            "--audit-log-mode=blocking",
        ]  # fmt: skip
    if name == "kube-controller-manager":
        return [
            *_control_loop(lay, kube, name, "controller-manager", secure_port=10257),
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={p / 'sa.key'}",
            f"--root-ca-file={p / 'ca.crt'}",
            f"--cluster-signing-cert-file={p / 'ca.crt'}",
            f"--cluster-signing-key-file={p / 'ca.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--cluster-cidr={POD_CIDR}",
            "--allocate-node-cidrs=false",
            "--profiling=false",
        ]  # fmt: skip
    if name == "kube-scheduler":
        return [
            *_control_loop(lay, kube, name, "scheduler", secure_port=10259),
            "--profiling=false",
        ]  # fmt: skip
    if name == "containerd":
        return [str(binary("containerd")), "--config", str(containerd_config(lay))]
    if name == "kubelet":
        return [
            kube, "kubelet",
            f"--config={kubelet_config(lay)}",
            f"--kubeconfig={_kubeconfig(lay, 'kubelet')}",
            f"--root-dir={lay.kubelet_root}",
            f"--hostname-override={NODE}",
            f"--node-ip={lay.node_ip}",
            "--node-labels=ffmpeg-operator.io/e2e=true",
        ]  # fmt: skip
    if name == "kube-proxy":
        return [kube, "kube-proxy", f"--config={kube_proxy_config(lay)}"]
    if name == "coredns":
        return [str(binary("coredns")), "-conf", str(coredns_config(lay))]
    raise ValueError(name)


def _pid_of(lay: Layout, name: str) -> int | None:
    path = lay.pids / f"{name}.pid"
    if not path.is_file():
        return None
    pid = int(path.read_text().split()[0])
    # A pid file outlives a reboot; the process must also still be the one we started.
    try:
        started = path.read_text().split()[1]
        if _start_time(pid) != started:
            return None
    except (OSError, IndexError):
        return None
    return pid


def _start_time(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rpartition(")")[2].split()[19]


def start(name: str, lay: Layout) -> int:
    existing = _pid_of(lay, name)
    if existing is not None:
        return existing
    lay.logs.mkdir(parents=True, exist_ok=True)
    lay.pids.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    # containerd finds its shim and the CNI plugins through PATH.
    path = env.get("PATH", "/usr/bin:/bin")
    env["PATH"] = f"{binary('containerd').parent}:{path}:/usr/sbin:/sbin"
    env.pop("KUBECONFIG", None)
    with (lay.logs / f"{name}.log").open("ab") as out:
        process = subprocess.Popen(
            command_line(name, lay),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives this script; `down` stops it by its pid
            env=env,
            cwd=lay.state,
        )
    (lay.pids / f"{name}.pid").write_text(f"{process.pid} {_start_time(process.pid)}\n")
    return process.pid


def stop(name: str, lay: Layout, timeout: float = 10) -> None:
    pid = _pid_of(lay, name)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            log(f"{name} did not stop in {timeout:.0f}s: killing it")
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.05)
    (lay.pids / f"{name}.pid").unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    if state == "Z":  # our own child that exited: reap it
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return False
    return True


# ------------------------------------------------------------------------------ readiness


def _ssl_context(lay: Layout) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(lay.pki / "ca.crt"))
    context.load_cert_chain(str(lay.pki / "admin.crt"), str(lay.pki / "admin.key"))
    return context


def api(lay: Layout, method: str, path: str, body: object = None) -> tuple[int, object]:
    """One call to the apiserver as the admin; (status, decoded JSON or text)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(lay.server + path, data=data, method=method)
    if data is not None:
        content_type = "application/apply-patch+yaml" if method == "PATCH" else "application/json"
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, context=_ssl_context(lay), timeout=10) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        raw, status = error.read(), error.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def wait_for(what: str, probe, lay: Layout, timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        try:
            if probe():
                return
        except (OSError, ssl.SSLError, urllib.error.URLError):
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"cluster: {what} not ready after {timeout:.0f}s; logs in {lay.logs}")
        time.sleep(0.25)


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200


def apiserver_ready(lay: Layout) -> bool:
    status, _ = api(lay, "GET", "/readyz")
    return status == 200


def node_ready(lay: Layout) -> bool:
    status, node = api(lay, "GET", f"/api/v1/nodes/{NODE}")
    if status != 200 or not isinstance(node, dict):
        return False
    conditions = node.get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


# -------------------------------------------------------------------------- cluster objects


def apply(lay: Layout, path: str, obj: dict) -> None:  # type: ignore[type-arg]
    status, body = api(lay, "PATCH", f"{path}?fieldManager=ffmpeg-operator-cluster&force=true", obj)
    if status >= 300:
        raise SystemExit(f"cluster: applying {path} failed ({status}): {body}")


def bootstrap_objects(lay: Layout) -> None:
    """What a kubeadm cluster would also have: DNS, a default StorageClass with volumes."""
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    apply(lay, f"{rbac}/clusterroles/system:coredns", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "system:coredns"},
        "rules": [
            {"apiGroups": [""], "resources": ["services", "pods", "namespaces"],
             "verbs": ["list", "watch"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
             "verbs": ["list", "watch"]},
        ],
    })  # fmt: skip
    apply(lay, f"{rbac}/clusterrolebindings/system:coredns", {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "system:coredns"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "system:coredns"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                      "name": "system:coredns"}],
    })  # fmt: skip
    # CoreDNS runs on the node, not in a Pod: the kube-dns Service has no selector and one
    # EndpointSlice pointing at the node's address.
    apply(lay, "/api/v1/namespaces/kube-system/services/kube-dns", {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system",
                     "labels": {"k8s-app": "kube-dns"}},
        "spec": {"clusterIP": DNS_SERVICE_IP, "ports": [
            {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": DNS_PORT},
            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": DNS_PORT},
        ]},
    })  # fmt: skip
    apply(lay, "/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices/kube-dns-node", {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kube-dns-node", "namespace": "kube-system", "labels": {
            "kubernetes.io/service-name": "kube-dns",
            "endpointslice.kubernetes.io/managed-by": "ffmpeg-operator-cluster"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [lay.node_ip], "conditions": {"ready": True}}],
        "ports": [{"name": "dns", "port": DNS_PORT, "protocol": "UDP"},
                  {"name": "dns-tcp", "port": DNS_PORT, "protocol": "TCP"}],
    })  # fmt: skip
    apply(lay, f"/apis/storage.k8s.io/v1/storageclasses/{STORAGE_CLASS}", {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": STORAGE_CLASS, "annotations": {
            "storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "WaitForFirstConsumer",
        "reclaimPolicy": "Retain",
    })  # fmt: skip
    refill_volumes(lay)


def refill_volumes(lay: Layout) -> None:
    """Keep VOLUMES unclaimed hostPath PersistentVolumes, as a provisioner would.

    There is no dynamic provisioner: released volumes (their claim deleted) are removed with
    their data and replaced by fresh ones, so every `helm install` finds an empty volume.
    """
    _, listing = api(lay, "GET", "/api/v1/persistentvolumes")
    items = listing.get("items", []) if isinstance(listing, dict) else []
    available = 0
    for pv in items:
        name = pv["metadata"]["name"]
        if not name.startswith("local-"):
            continue
        phase = pv.get("status", {}).get("phase")
        if phase in ("Released", "Failed"):
            api(lay, "DELETE", f"/api/v1/persistentvolumes/{name}")
            shutil.rmtree(lay.volumes / name, ignore_errors=True)
        elif phase in ("Available", "Pending", None):
            available += 1
    for _ in range(VOLUMES - available):
        name = f"local-{os.urandom(4).hex()}"
        path = lay.volumes / name
        path.mkdir(parents=True)
        path.chmod(0o777)  # run Pods write as a non-root user
        apply(lay, f"/api/v1/persistentvolumes/{name}", {
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name},
            "spec": {
                "capacity": {"storage": VOLUME_SIZE},
                "accessModes": ["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": STORAGE_CLASS,
                "hostPath": {"path": str(path), "type": "Directory"},
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "kubernetes.io/hostname", "operator": "In", "values": [NODE]}]}]}},
            },
        })  # fmt: skip


# --------------------------------------------------------------------------------- commands


def running(lay: Layout) -> dict[str, int | None]:
    return {name: _pid_of(lay, name) for name in COMPONENTS}


def up() -> int:
    started = time.monotonic()
    lay = layout()
    before = running(lay)
    if all(before.values()) and apiserver_ready(lay) and node_ready(lay):
        log("already running")
        print(f"KUBECONFIG={lay.kubeconfig}")
        return 0
    for path in (lay.state, RUNTIME, lay.volumes):
        path.mkdir(parents=True, exist_ok=True)
    (lay.state / "node-ip").write_text(lay.node_ip + "\n")
    write_pki(lay)
    _kubeconfig(lay, "admin")
    cni_config(lay)
    start("etcd", lay)
    wait_for("etcd", lambda: _http_ok(f"http://127.0.0.1:{ETCD_CLIENT_PORT}/health"), lay)
    start("kube-apiserver", lay)
    wait_for("kube-apiserver", lambda: apiserver_ready(lay), lay)
    for name in ("kube-controller-manager", "kube-scheduler", "containerd"):
        start(name, lay)
    wait_for("containerd", lay.containerd_socket.exists, lay)
    for name in ("kubelet", "kube-proxy"):
        start(name, lay)
    bootstrap_objects(lay)
    start("coredns", lay)
    wait_for("node", lambda: node_ready(lay), lay, timeout=90)
    wait_for("coredns", lambda: _http_ok("http://127.0.0.1:18181/ready"), lay)
    wait_for(
        "default ServiceAccount",
        lambda: api(lay, "GET", "/api/v1/namespaces/default/serviceaccounts/default")[0] == 200,
        lay,
    )
    log(f"ready in {time.monotonic() - started:.1f}s (node {NODE} at {lay.node_ip})")
    print(f"KUBECONFIG={lay.kubeconfig}")
    return 0


def status() -> int:
    lay = layout()
    states = running(lay)
    for name, pid in states.items():
        print(f"{name:25} {'running, pid ' + str(pid) if pid else 'stopped'}")
    if not any(states.values()):
        return 3
    api_ok = _quietly(lambda: apiserver_ready(lay))
    node_ok = _quietly(lambda: node_ready(lay))
    print(f"{'apiserver':25} {'ready' if api_ok else 'not ready'}")
    print(f"{'node ' + NODE:25} {'Ready' if node_ok else 'not Ready'}")
    print(f"KUBECONFIG={lay.kubeconfig}")
    return 0 if all(states.values()) and api_ok and node_ok else 1


def _quietly(probe) -> bool:  # type: ignore[no-untyped-def]
    try:
        return bool(probe())
    except (OSError, ssl.SSLError, urllib.error.URLError):
        return False


def env() -> int:
    lay = layout()
    print(f"KUBECONFIG={lay.kubeconfig}")
    print(f"CLUSTER_CONTEXT={CONTEXT}")
    print(f"CLUSTER_CONTAINERD_ADDRESS={lay.containerd_socket}")
    print(f"CLUSTER_CTR={binary('ctr')}")
    print(f"CLUSTER_HELM={binary('helm')}")
    return 0


def restart(name: str) -> int:
    """Stop and start one component (tests use it: an apiserver restart ends every watch)."""
    lay = layout()
    stop(name, lay)
    start(name, lay)
    if name == "kube-apiserver":
        wait_for("kube-apiserver", lambda: apiserver_ready(lay), lay)
    return 0


def down() -> int:
    lay = layout()
    if (lay.pids / "kubelet.pid").exists() and _pid_of(lay, "kubelet") is not None:
        _drain_pods(lay)
    for name in reversed(COMPONENTS):
        stop(name, lay)
    node_cleanup.clean(lay.state, RUNTIME, binary("containerd").parent, RUNC, BRIDGE)
    log("stopped")
    return 0


def _drain_pods(lay: Layout) -> None:
    """Stop every pod sandbox through the CRI, so CNI tears down each pod's network itself."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        stop("kubelet", lay)
        ctr = [str(binary("ctr")), "--address", str(lay.containerd_socket), "-n", "k8s.io"]
        listing = subprocess.run(
            [*ctr, "tasks", "ls", "-q"], capture_output=True, text=True, timeout=20, check=False
        )
        for task in listing.stdout.split():
            subprocess.run(
                [*ctr, "tasks", "kill", "-s", "SIGKILL", task],
                capture_output=True,
                timeout=20,
                check=False,
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up", "down", "status", "env", "restart"])
    parser.add_argument("component", nargs="?", choices=COMPONENTS, help="for restart")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("cluster: the node (containerd, kubelet) needs root")
    if args.command == "restart":
        if args.component is None:
            parser.error("restart needs a component")
        return restart(args.component)
    return {"up": up, "down": down, "status": status, "env": env}[args.command]()


if __name__ == "__main__":
    sys.exit(main())
