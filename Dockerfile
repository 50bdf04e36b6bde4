# syntax=docker/dockerfile:1
#
# One image for every part of ffmpeg-operator: `serve` (the datarhei v3 API), `operator` (kopf),
# `agent` (the sidecar of run Pods) and ffmpeg itself (the run Pods' main container).
#
#   docker build -t ghcr.io/ffmpeg-operator/ffmpeg-operator:0.1.0 .
#   docker run -p 8080:8080 ghcr.io/ffmpeg-operator/ffmpeg-operator:0.1.0   # embedded, data in /data
#   docker run ghcr.io/ffmpeg-operator/ffmpeg-operator:0.1.0 operator --help
#
# Python and ffmpeg are Debian bookworm's packages: python3 3.11 and ffmpeg 5.1, both
# security-updated by the distribution (a rebuild picks the fixes up). ffmpeg 5.1 is also what
# the Restreamer UI accepts (^5.1.0 || ^6.1.0); the static 9.x build that the imageio-ffmpeg wheel
# bundles is deleted from the image, so `ffmpeg` always means /usr/bin/ffmpeg and the API reports
# that binary's own version. `make images` builds the base image itself from a debootstrap rootfs
# (tests/cluster/images.py), so no registry is needed.
#
# The image runs read-only (readOnlyRootFilesystem): nothing is written outside /tmp and the
# data directory, and Python byte code is compiled at build time.
#
# Probes: Kubernetes ignores HEALTHCHECK, and each sub-command answers on its own endpoint, so
# the Helm chart defines them per container: `serve` GET /ping on 8080, `operator` kopf's
# GET /healthz (--liveness=http://0.0.0.0:8080/healthz); the agent is a sidecar of run Pods.

# Debian's suite tag: the distribution's point releases and security fixes land under it, and
# the apt pins below hold Python at 3.11 and ffmpeg at 5.1.
ARG DEBIAN_IMAGE=debian:bookworm-slim

# The interpreter of both later stages: the venv built in `build` runs on exactly this python3.
FROM ${DEBIAN_IMAGE} AS python

RUN apt-get update \
    && apt-get install --yes --no-install-recommends python3=3.11.* \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/*


FROM python AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN apt-get update \
    && apt-get install --yes --no-install-recommends python3-venv=3.11.* \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY requirements-build.lock requirements.lock ./
# Binary wheels only: the build stage has no compiler, and a missing wheel should fail loudly.
# A build host behind a TLS-inspecting proxy passes its CA bundle as the optional secret
# `pip-ca` (`--secret id=pip-ca,src=/etc/ssl/certs/ca-certificates.crt`); it never lands in a
# layer.
RUN --mount=type=secret,id=pip-ca \
    if [ -s /run/secrets/pip-ca ]; then export PIP_CERT=/run/secrets/pip-ca; fi \
    && pip install --no-cache-dir --require-hashes --only-binary=:all: -r requirements-build.lock \
    && pip install --no-cache-dir --require-hashes --only-binary=:all: -r requirements.lock

COPY pyproject.toml README.md ./
COPY src ./src
# The dependencies are all in place already: install the project alone, then drop the build
# tools from the venv that the runtime stage copies, and imageio-ffmpeg's bundled ffmpeg, so
# that no second ffmpeg (with another version) is left to be found.
RUN pip install --no-cache-dir --no-deps --no-build-isolation . \
    && pip uninstall --yes setuptools wheel pip \
    && find /opt/venv/lib/python3.11/site-packages/imageio_ffmpeg/binaries \
        -type f -name 'ffmpeg-*' -delete \
    && python -c 'import imageio_ffmpeg.binaries, ffmpeg_operator.cli'


FROM python AS runtime

LABEL org.opencontainers.image.title="ffmpeg-operator" \
      org.opencontainers.image.description="FFmpeg processes behind the datarhei Core v3 process API, locally or on Kubernetes" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0"

# ffmpeg at /usr/bin/ffmpeg: the agent finds it in the Pod's process list by this name, and the
# run Pods exec "ffmpeg". A fixed numeric user (the chart's runAsUser), so that runAsNonRoot can
# verify it without reading /etc/passwd.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends ffmpeg=7:5.1.* \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 ffmpeg-operator \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin ffmpeg-operator \
    && install --directory --owner=10001 --group=10001 --mode=0750 /data \
    && ffmpeg -hide_banner -version

COPY --from=build /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp

USER 10001:10001
WORKDIR /data
EXPOSE 8080 8081

HEALTHCHECK NONE
ENTRYPOINT ["ffmpeg-operator"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080", "--data-dir", "/data"]
