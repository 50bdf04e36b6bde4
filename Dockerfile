# syntax=docker/dockerfile:1
#
# One image for every part of ffmpeg-operator: `serve` (the datarhei v3 API), `operator` (kopf),
# `agent` (the sidecar of run Pods) and ffmpeg itself (the run Pods' main container).
#
#   docker build -t ffmpeg-operator:0.1.0 .
#   docker run -p 8080:8080 ffmpeg-operator:0.1.0                  # embedded mode, data in /data
#   docker run ffmpeg-operator:0.1.0 operator --help
#
# ffmpeg is the static build that the imageio-ffmpeg wheel ships, not Debian's `ffmpeg` package.
# The wheel is a runtime dependency anyway (requirements.lock pins it by hash), its binary is the
# very build the test suite runs against, and it is one file; the apt package pulls well over a
# hundred library packages (X11, Mesa, PulseAudio, SDL, ...) into the image, each one more to
# patch and scan, for features a headless transcoder never uses.
#
# The image runs read-only (readOnlyRootFilesystem): nothing is written outside /tmp and the
# data directory, and Python byte code is compiled at build time.
#
# Probes: Kubernetes ignores HEALTHCHECK, and each sub-command answers on its own endpoint, so
# the Helm chart defines them per container: `serve` GET /ping on 8080, `operator` kopf's
# GET /healthz (--liveness=http://0.0.0.0:8080/healthz); the agent is a sidecar of run Pods.

# Exact tag, same base for both stages: the venv's interpreter path and ABI must match.
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
COPY requirements-build.lock requirements.lock ./
# Binary wheels only: the build stage has no compiler, and a missing wheel should fail loudly.
RUN pip install --no-cache-dir --require-hashes --only-binary=:all: -r requirements-build.lock \
    && pip install --no-cache-dir --require-hashes --only-binary=:all: -r requirements.lock

COPY pyproject.toml README.md ./
COPY src ./src
# The dependencies are all in place already: install the project alone, then drop the build
# tools from the venv that the runtime stage copies.
RUN pip install --no-cache-dir --no-deps --no-build-isolation . \
    && pip uninstall --yes setuptools wheel pip

# `ffmpeg` on PATH is the bundled binary. The agent finds ffmpeg in the Pod's process list by
# this name, and the wheel may not mark the binary executable (imageio-ffmpeg does it lazily,
# which a read-only filesystem forbids).
RUN ffmpeg_exe="$(python -c 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())')" \
    && chmod 0755 "$ffmpeg_exe" \
    && ln -s "$ffmpeg_exe" /opt/venv/bin/ffmpeg \
    && ffmpeg -hide_banner -version


FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="ffmpeg-operator" \
      org.opencontainers.image.description="FFmpeg processes behind the datarhei Core v3 process API, locally or on Kubernetes" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0"

# pip is of no use at run time. A fixed numeric user (the chart's runAsUser), so that
# runAsNonRoot can verify it without reading /etc/passwd.
RUN python -m pip uninstall --yes pip setuptools wheel \
    && groupadd --system --gid 10001 ffmpeg-operator \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin ffmpeg-operator \
    && install --directory --owner=10001 --group=10001 --mode=0750 /data

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
