# Two commands do all set-up on a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8080
DATA_DIR ?= ./data

.PHONY: run test lint typecheck contracts unit bench clean e2e-kind chromium debian-ffmpeg

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# UI_DIR: a Restreamer UI build to serve at /ui (see the README, "Using the Restreamer UI").
UI_DIR ?=
run: $(STAMP)
	$(BIN)/ffmpeg-operator serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR) \
		$(if $(UI_DIR),--ui-dir $(UI_DIR))

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

# What a tier needs from Debian, installed when missing: $(call apt_install,MISSING,ARGS,WITHOUT)
# runs the shell command MISSING, which prints what is missing (nothing: all is there), and then,
# as root with apt-get, `apt-get install ARGS`. Where that cannot be done or fails it says
# WITHOUT and goes on: the tiers that need it skip then, and fail when CI=true.
apt_install = missing="$$($(1))"; [ -z "$$missing" ] || { [ "$$(id -u)" = 0 ] \
	&& command -v apt-get >/dev/null 2>&1 && echo "installing$$missing from Debian" \
	&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(strip $(2)); } \
	|| echo "$(strip $(3))"

# tests/ui drives Debian's Chromium through Playwright (which never downloads a browser here).
CHROMIUM ?= /usr/bin/chromium
chromium:
	@$(call apt_install,test -x $(CHROMIUM) || printf ' chromium',--no-install-recommends chromium,\
		chromium could not be installed: tests/ui will skip (fail when CI=true))

# Debian's ffmpeg 5.1: the oldest release the live-figures tests run on (the bundled build is
# the newest); tests/api/test_live_figures.py skips without it (fails when CI=true).
DEBIAN_FFMPEG ?= /usr/bin/ffmpeg
debian-ffmpeg:
	@$(call apt_install,test -x $(DEBIAN_FFMPEG) || printf ' ffmpeg',--no-install-recommends ffmpeg,\
		Debian's ffmpeg could not be installed: its live-figures tests will skip (fail when CI=true))

unit: $(STAMP) chromium debian-ffmpeg
	$(BIN)/python -m pytest --cov=ffmpeg_operator --cov-report=term:skip-covered $(PYTEST_ARGS)

test: lint typecheck contracts unit test-cluster

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage

# End-to-end suite on a kind cluster: needs docker (with a running daemon), kind and helm, and
# says at once which are missing (tests/e2e/preflight.sh). The cluster is kept for the next run;
# `kind delete cluster --name $(E2E_CLUSTER)` removes it.
E2E_CLUSTER ?= ffmpeg-operator-e2e
E2E_IMAGE_REPOSITORY ?= ffmpeg-operator
E2E_IMAGE_TAG ?= e2e
E2E_NAMESPACE ?= ffmpeg-e2e
E2E_RELEASE ?= ffmpeg-operator
E2E_API_PASSWORD ?= e2e-password
DOCKER ?= docker
KIND ?= kind
HELM ?= helm
KUBECTL ?= $(BIN)/kubectl

e2e-kind:
	@DOCKER='$(DOCKER)' KIND='$(KIND)' HELM='$(HELM)' bash tests/e2e/preflight.sh
	@$(MAKE) --no-print-directory $(STAMP)
	$(KIND) get clusters 2>/dev/null | grep -qx '$(E2E_CLUSTER)' \
		|| $(KIND) create cluster --config kind-config.yaml --name $(E2E_CLUSTER) --wait 180s
	$(DOCKER) build -t $(E2E_IMAGE_REPOSITORY):$(E2E_IMAGE_TAG) .
	$(KIND) load docker-image $(E2E_IMAGE_REPOSITORY):$(E2E_IMAGE_TAG) --name $(E2E_CLUSTER)
	$(KUBECTL) --context kind-$(E2E_CLUSTER) apply --server-side --force-conflicts \
		-f crds/ffmpegprocesses.yaml
	$(HELM) upgrade --install $(E2E_RELEASE) helm/ffmpeg-operator \
		--kube-context kind-$(E2E_CLUSTER) --namespace $(E2E_NAMESPACE) --create-namespace \
		--set image.repository=$(E2E_IMAGE_REPOSITORY) --set image.tag=$(E2E_IMAGE_TAG) \
		--set auth.password=$(E2E_API_PASSWORD) \
		--set diskfs.type=claim --set 'diskfs.accessModes={ReadWriteOnce}' \
		--wait --timeout 5m
	E2E_KUBE_CONTEXT=kind-$(E2E_CLUSTER) E2E_NAMESPACE=$(E2E_NAMESPACE) \
		E2E_RELEASE=$(E2E_RELEASE) E2E_API_PASSWORD=$(E2E_API_PASSWORD) KUBECTL=$(KUBECTL) \
		FFMPEG_OPERATOR_E2E=1 $(BIN)/python -m pytest tests/e2e -m e2e $(PYTEST_ARGS)

# Container images without a registry (tests/cluster/images.py): the Debian base from a
# debootstrap rootfs, the project image from the Dockerfile and the Pods' pause image, built with
# podman (runc) into ~/.cache/ffmpeg-operator/images, keyed by their inputs: a second run builds
# nothing. The image tier (tests/ship/test_image_run.py) runs the project image with podman; the
# tools it needs are installed from Debian before the tests when missing (as root, with apt).
IMAGE_TOOLS := podman buildah debootstrap runc gcc
IMAGE_APT_PACKAGES := podman buildah debootstrap debian-archive-keyring runc uidmap \
	containernetworking-plugins iptables gcc libc6-dev
IMAGES_ARGS ?=

.PHONY: images image-tools
image-tools:
	@$(call apt_install,for tool in $(IMAGE_TOOLS); do command -v $$tool >/dev/null || printf ' %s' $$tool; done,\
		$(IMAGE_APT_PACKAGES),image tools missing:$$missing (install: apt-get install $(IMAGE_APT_PACKAGES)))

images: image-tools
	$(PYTHON) tests/cluster/images.py build $(IMAGES_ARGS)

# The image tier needs the tools before pytest starts.
unit: image-tools

# A real single-node Kubernetes on this machine (tests/cluster/README.md): etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet, kube-proxy, containerd, CoreDNS and helm built
# from pinned Go modules into ~/.cache/ffmpeg-operator/cluster (a second run builds nothing) and
# run as local processes (as root). `cluster-up` prints KUBECONFIG=<path> last; the context is
# $(LOCAL_CONTEXT). `cluster-down` stops everything and removes what the node made.
CLUSTER := $(PYTHON) tests/cluster/cluster.py
LOCAL_CONTEXT := ffmpeg-operator-local
LOCAL_ENV = set -a && eval "$$($(CLUSTER) env)" && set +a

.PHONY: cluster-build cluster-up cluster-down cluster-images e2e-local test-cluster

# Flux's GitOps test (tests/realcluster/test_real_gitops_flux*.py) serves a repository with
# gitserver, which runs git's upload-pack/receive-pack, and commits to it with git.
cluster-build:
	@$(call apt_install,command -v git >/dev/null || printf ' git',--no-install-recommends git,\
		git could not be installed: the Flux GitOps tests will fail)
	$(PYTHON) tests/cluster/build.py

cluster-up: cluster-build
	$(CLUSTER) up

cluster-down:
	$(CLUSTER) down

# `make images` imported into the cluster's containerd; the project image also under the name
# the e2e suite's GitOps overlay pins ($(E2E_IMAGE_REPOSITORY):$(E2E_IMAGE_TAG)).
cluster-images: images
	$(LOCAL_ENV) && $(PYTHON) tests/cluster/images.py import \
		--ctr "$$CLUSTER_CTR" --address "$$CLUSTER_CONTAINERD_ADDRESS"
	$(LOCAL_ENV) && ref=$$($(PYTHON) tests/cluster/images.py list \
		| $(PYTHON) -c 'import json, sys; print(json.load(sys.stdin)["project"]["ref"])') \
		&& "$$CLUSTER_CTR" --address "$$CLUSTER_CONTAINERD_ADDRESS" -n k8s.io images tag --force \
		"$$ref" docker.io/library/$(E2E_IMAGE_REPOSITORY):$(E2E_IMAGE_TAG) >/dev/null

# What e2e-kind does, on the local cluster (kept running; `make cluster-down` stops it).
e2e-local: $(STAMP) cluster-up cluster-images
	$(LOCAL_ENV) && export PATH="$$(dirname "$$CLUSTER_HELM"):$$PATH" \
	&& $(KUBECTL) --context $(LOCAL_CONTEXT) apply --server-side --force-conflicts \
		-f crds/ffmpegprocesses.yaml \
	&& helm upgrade --install $(E2E_RELEASE) helm/ffmpeg-operator \
		--kube-context $(LOCAL_CONTEXT) --namespace $(E2E_NAMESPACE) --create-namespace \
		--set image.repository=$(E2E_IMAGE_REPOSITORY) --set image.tag=$(E2E_IMAGE_TAG) \
		--set auth.password=$(E2E_API_PASSWORD) \
		--set diskfs.type=claim --set 'diskfs.accessModes={ReadWriteOnce}' \
		--wait --timeout 5m \
	&& E2E_KUBE_CONTEXT=$(LOCAL_CONTEXT) E2E_NAMESPACE=$(E2E_NAMESPACE) \
		E2E_RELEASE=$(E2E_RELEASE) E2E_API_PASSWORD=$(E2E_API_PASSWORD) KUBECTL=$(KUBECTL) \
		FFMPEG_OPERATOR_E2E=1 $(BIN)/python -m pytest tests/e2e -m e2e $(PYTEST_ARGS)

# The real-cluster tier (tests/realcluster): build, cluster up, pytest, cluster down (always).
# Needs Go and root; without them it is skipped with one line, and fails when CI=true.
# The line with $(MAKE) holds nothing else: make runs such a line even under `make -n`, and it
# must not run pytest or stop a cluster then.
HAVE_GO_AND_ROOT := $(shell command -v go >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && echo yes)
ifeq ($(HAVE_GO_AND_ROOT),yes)
test-cluster: $(STAMP)
	$(MAKE) --no-print-directory cluster-up cluster-images || { $(CLUSTER) down; exit 1; }
	trap '$(CLUSTER) down' EXIT; $(LOCAL_ENV) && FFMPEG_OPERATOR_REALCLUSTER=1 \
		$(BIN)/python -m pytest tests/realcluster -p no:cacheprovider $(PYTEST_ARGS)
else
test-cluster:
	@if [ "$$CI" = true ]; then \
		echo "test-cluster: the real-cluster tier needs Go and root (CI=true)" >&2; exit 1; \
	fi; \
	echo "SKIPPED real-cluster tier (tests/realcluster): needs Go on PATH and root"
endif
