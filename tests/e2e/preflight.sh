#!/usr/bin/env bash
# Checks what `make e2e-kind` needs before it touches anything, and names every missing piece
# at once. Tools can be overridden like the Makefile's: DOCKER, KIND, HELM.
set -u
cd "$(dirname "$0")/../.."

DOCKER=${DOCKER:-docker}
KIND=${KIND:-kind}
HELM=${HELM:-helm}
CHART=${CHART:-helm/ffmpeg-operator}
problems=()

for tool in "$DOCKER" "$KIND" "$HELM"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        problems+=("'$tool' not found on PATH")
    fi
done
if command -v "$DOCKER" >/dev/null 2>&1; then
    # `docker info` talks to the daemon; bounded, since a stale socket can hang.
    if ! daemon_error=$(timeout 10 "$DOCKER" info --format '{{.ServerVersion}}' 2>&1 >/dev/null); then
        reason=$(printf '%s\n' "$daemon_error" | grep -v '^\s*$' | tail -n 1)
        problems+=("the Docker daemon is not running or not reachable (${reason:-docker info failed})")
    fi
fi
[ -f Dockerfile ] || problems+=("no Dockerfile at the repository root")
[ -f "$CHART/Chart.yaml" ] || problems+=("no Helm chart at $CHART")

if [ ${#problems[@]} -gt 0 ]; then
    echo "make e2e-kind: cannot run the kind end-to-end suite:" >&2
    for problem in "${problems[@]}"; do
        echo "  - $problem" >&2
    done
    echo "It needs docker (with a running daemon), kind and helm; see tests/e2e/README.md." >&2
    exit 1
fi
