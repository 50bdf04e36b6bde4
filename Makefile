# Two commands do all set-up on a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8080
DATA_DIR ?= ./data

.PHONY: run test lint typecheck contracts unit bench clean e2e-kind chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/ffmpeg-operator serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR)

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

# tests/ui drives Debian's Chromium through Playwright (which never downloads a browser here):
# install it when it is missing. Where that fails the tier skips, and fails when CI=true.
CHROMIUM ?= /usr/bin/chromium
chromium:
	@test -x $(CHROMIUM) || { command -v apt-get >/dev/null 2>&1 && apt-get update -qq \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } \
		|| echo "chromium could not be installed: tests/ui will skip (fail when CI=true)"

unit: $(STAMP) chromium
	$(BIN)/python -m pytest --cov=ffmpeg_operator --cov-report=term:skip-covered $(PYTEST_ARGS)

test: lint typecheck contracts unit

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
		--set auth.password=$(E2E_API_PASSWORD) --set 'diskfs.accessModes={ReadWriteOnce}' \
		--wait --timeout 5m
	E2E_KUBE_CONTEXT=kind-$(E2E_CLUSTER) E2E_NAMESPACE=$(E2E_NAMESPACE) \
		E2E_RELEASE=$(E2E_RELEASE) E2E_API_PASSWORD=$(E2E_API_PASSWORD) KUBECTL=$(KUBECTL) \
		$(BIN)/python -m pytest tests/e2e -m e2e $(PYTEST_ARGS)

# Container images without a registry (tests/cluster/images.py): the Debian base from a
# debootstrap rootfs, the project image from the Dockerfile and the Pods' pause image, built with
# podman (runc) into ~/.cache/ffmpeg-operator/images, keyed by their inputs: a second run builds
# nothing. The image tier (tests/ship/test_image_run.py) runs the project image with podman; the
# tools it needs are installed from Debian before the tests when missing (as root, with apt).
IMAGE_TOOLS := podman buildah debootstrap runc gcc
IMAGE_APT_PACKAGES := podman buildah debootstrap runc uidmap containernetworking-plugins gcc libc6-dev
IMAGES_ARGS ?=

.PHONY: images image-tools
image-tools:
	@missing=""; for tool in $(IMAGE_TOOLS); do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing$$missing from Debian"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(IMAGE_APT_PACKAGES); \
	else \
		echo "image tools missing:$$missing (install: apt-get install $(IMAGE_APT_PACKAGES))"; \
	fi

images: image-tools
	$(PYTHON) tests/cluster/images.py build $(IMAGES_ARGS)

# The image tier needs the tools before pytest starts.
unit: image-tools
