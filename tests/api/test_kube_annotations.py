"""Process metadata on Kubernetes is an annotation: the apiserver's 256 KiB limit counts every
annotation of the object, keys included, and so does the API before it writes (v3 error body).
Checked against the emulator; the apiserver's own 422 maps to the same body."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from acceptance_helpers import create, error_body, fixture, process_url

from backends import BackendServer
from ffmpeg_operator.kube.migrate import MAX_ANNOTATIONS_BYTES, METADATA_ANNOTATION
from ffmpeg_operator.kube.names import cr_name
from kubeenv import NAMESPACE

FFMPEG_PROCESSES = "ffmpeg-operator.io/v1alpha1/ffmpegprocesses"
#: An annotation of another tool (kubectl apply's last-applied-configuration is of this kind).
OTHER = "example.org/notes"


Kube = tuple[BackendServer, list[str], httpx.Client]


@pytest.fixture
def kube(kube_backend_server: BackendServer) -> Iterator[Kube]:
    with kube_backend_server.live.client() as client:
        created: list[str] = []
        try:
            yield kube_backend_server, created, client
        finally:
            for pid in created:
                client.delete(process_url(pid))


def _with_other_annotation(server: BackendServer, api: httpx.Client, created: list[str]) -> str:
    config = fixture()
    pid: str = config["id"]
    create(api, config)
    created.append(pid)
    other = "x" * (MAX_ANNOTATIONS_BYTES - 100 * 1024)
    server.kube.emulator.patch(
        FFMPEG_PROCESSES, NAMESPACE, cr_name(pid), {"metadata": {"annotations": {OTHER: other}}}
    )
    return pid


def test_metadata_that_fits_alone_but_not_with_the_other_annotations_is_refused(kube: Kube) -> None:
    server, created, api = kube
    pid = _with_other_annotation(server, api, created)
    value = "y" * (100 * 1024)  # below 256 KiB on its own, above it with the other annotation

    response = api.put(process_url(pid, "/metadata/big"), json=value)

    assert response.status_code == 400, response.text
    body = response.json()
    assert body == error_body(400, "Invalid metadata", *body["details"])
    assert "256 KiB" in body["details"][0]
    stored = server.kube.emulator.get(FFMPEG_PROCESSES, NAMESPACE, cr_name(pid))
    assert METADATA_ANNOTATION not in stored["metadata"]["annotations"]
    assert api.get(process_url(pid, "/metadata/big")).status_code == 404


def test_metadata_that_fits_with_the_other_annotations_is_stored(kube: Kube) -> None:
    server, created, api = kube
    pid = _with_other_annotation(server, api, created)

    response = api.put(process_url(pid, "/metadata/small"), json="y" * (90 * 1024))

    assert response.status_code == 200, response.text
    assert api.get(process_url(pid, "/metadata/small")).json() == "y" * (90 * 1024)
