"""Kubernetes names for datarhei process IDs (design §3).

datarhei IDs are free text (``restreamer-ui:ingest:c9e4…``, ``abc:snapshot``); Kubernetes names
are DNS-1123. The mapping:

- **CR name** = the ID itself when it is a *plain name*: a DNS-1123 label (``[a-z0-9]``, inner
  ``-``) of at most :data:`MAX_CR_NAME` characters without ``--``. Every other ID becomes
  ``<slug>--<hash>``: a lowercase ASCII slug of the ID (at most 40 characters, ``x`` when
  nothing is left) and the first 10 hex digits of the ID's SHA-256.
  The slug never contains ``--``, so a mapped name always contains exactly one ``--`` and a
  plain name none: the two sets cannot collide, and two mapped names collide only when 40
  bits of SHA-256 do.
- ``MAX_CR_NAME = 52`` leaves room for the Pod suffix ``-<run>`` (up to 10 digits), so a Pod
  name ``<cr-name>-<run>`` is itself a DNS-1123 label (<= 63) and can be used as a label
  value and as the Pod's hostname unchanged.
- The label :data:`ID_HASH_LABEL` holds 32 hex digits of the ID's SHA-256 (label values are
  limited to 63 characters, IDs are not); a lookup by ID lists by that label and compares
  ``spec.id`` exactly.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

__all__ = [
    "CR_NAME_HASH_LENGTH",
    "GROUP",
    "ID_ANNOTATION",
    "ID_HASH_LABEL",
    "MAX_CR_NAME",
    "MAX_RUN",
    "PROCESS_LABEL",
    "RUN_LABEL",
    "cr_name",
    "id_hash",
    "is_plain_name",
    "pod_name",
    "run_from_pod_name",
]

GROUP = "ffmpeg-operator.io"
#: Label of CRs and Pods: :func:`id_hash` of the process ID.
ID_HASH_LABEL = f"{GROUP}/id-hash"
#: Label of run Pods: the name of the FFmpegProcess they belong to.
PROCESS_LABEL = f"{GROUP}/process"
#: Label of run Pods: the run number.
RUN_LABEL = f"{GROUP}/run"
#: Annotation of run Pods: the exact process ID (labels cannot hold free text).
ID_ANNOTATION = f"{GROUP}/id"

#: Longest CR name: 63 (a DNS label) - 1 ("-") - 10 (run number digits).
MAX_CR_NAME = 52
#: Largest run number a Pod name can carry (10 digits).
MAX_RUN = 9_999_999_999
#: Hex digits of the ID's hash in a mapped CR name.
CR_NAME_HASH_LENGTH = 10
#: Hex digits of the ID's hash in the id-hash label (128 bits).
LABEL_HASH_LENGTH = 32

_MAX_SLUG = MAX_CR_NAME - len("--") - CR_NAME_HASH_LENGTH
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def _sha256(process_id: str) -> str:
    # surrogatepass: a str decoded from JSON may hold lone surrogates; they must hash too.
    return hashlib.sha256(process_id.encode("utf-8", "surrogatepass")).hexdigest()


def is_plain_name(process_id: str) -> bool:
    """Whether ``process_id`` is used as its own CR name."""
    return (
        len(process_id) <= MAX_CR_NAME
        and "--" not in process_id
        and _DNS_LABEL.fullmatch(process_id) is not None
    )


def _slug(process_id: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", process_id).encode("ascii", "ignore").decode()
    slug = _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")
    return slug[:_MAX_SLUG].rstrip("-") or "x"


def cr_name(process_id: str) -> str:
    """The FFmpegProcess name of a datarhei ID (see the module docstring)."""
    if not process_id:
        raise ValueError("an empty process ID has no name")
    if is_plain_name(process_id):
        return process_id
    return f"{_slug(process_id)}--{_sha256(process_id)[:CR_NAME_HASH_LENGTH]}"


def id_hash(process_id: str) -> str:
    """The value of the :data:`ID_HASH_LABEL` label for ``process_id``."""
    return _sha256(process_id)[:LABEL_HASH_LENGTH]


def pod_name(cr: str, run: int) -> str:
    """The Pod of run number ``run`` (1, 2, …) of the CR named ``cr``."""
    if not 1 <= run <= MAX_RUN:
        raise ValueError(f"run number out of range: {run}")
    return f"{cr}-{run}"


def run_from_pod_name(cr: str, pod: str) -> int | None:
    """The run number of ``pod`` if it is a run Pod of the CR named ``cr``, else ``None``."""
    prefix = cr + "-"
    digits = pod[len(prefix) :] if pod.startswith(prefix) else ""
    if not digits.isascii() or not digits.isdigit() or digits.startswith("0"):
        return None
    return int(digits)
