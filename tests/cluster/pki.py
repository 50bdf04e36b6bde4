"""The test cluster's certificates and keys, made with the openssl command line.

One CA signs every certificate: the apiserver's serving certificate, the kubelet's serving
certificate, and a client certificate per identity (admin, each control-plane component, the
kubelet as ``system:node:<name>``). The ServiceAccount token signing key pair is separate.
Nothing is regenerated when its files exist, so a restarted cluster keeps its identities.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

DAYS = "3650"


@dataclass(frozen=True)
class Identity:
    """A certificate to issue: file stem, subject CN and O, SANs, client and/or server use."""

    stem: str
    common_name: str
    organization: str | None = None
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    server: bool = False


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _new_key(path: Path) -> None:
    curve = "ec_paramgen_curve:P-256"
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", curve, "-out", str(path))
    path.chmod(0o600)


def ensure_ca(pki: Path) -> None:
    pki.mkdir(parents=True, exist_ok=True)
    key, cert = pki / "ca.key", pki / "ca.crt"
    if cert.is_file() and key.is_file():
        return
    _new_key(key)
    _openssl(
        "req", "-x509", "-new", "-key", str(key), "-out", str(cert), "-days", DAYS,
        "-subj", "/CN=ffmpeg-operator-test-ca",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
    )  # fmt: skip


def ensure_identity(pki: Path, identity: Identity) -> None:
    key, cert = pki / f"{identity.stem}.key", pki / f"{identity.stem}.crt"
    if cert.is_file() and key.is_file():
        return
    _new_key(key)
    subject = f"/CN={identity.common_name}"
    if identity.organization:
        subject = f"/O={identity.organization}{subject}"
    usages = ["serverAuth"] if identity.server else []
    usages.append("clientAuth")
    extensions = [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        f"extendedKeyUsage={','.join(usages)}",
    ]
    sans = [f"DNS:{d}" for d in identity.dns_names] + [f"IP:{i}" for i in identity.ip_addresses]
    if sans:
        extensions.append(f"subjectAltName={','.join(sans)}")
    with tempfile.TemporaryDirectory() as scratch:
        csr = Path(scratch) / "req.csr"
        ext = Path(scratch) / "ext.cnf"
        ext.write_text("\n".join(extensions) + "\n")
        _openssl("req", "-new", "-key", str(key), "-out", str(csr), "-subj", subject)
        _openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(pki / "ca.crt"),
            "-CAkey", str(pki / "ca.key"), "-CAcreateserial", "-out", str(cert),
            "-days", DAYS, "-extfile", str(ext),
        )  # fmt: skip


def ensure_service_account_keys(pki: Path) -> None:
    key, pub = pki / "sa.key", pki / "sa.pub"
    if key.is_file() and pub.is_file():
        return
    _new_key(key)
    _openssl("pkey", "-in", str(key), "-pubout", "-out", str(pub))
