#!/usr/bin/env bash
# `make test-cluster`: the real-cluster tier (tests/realcluster) on the local cluster of
# tests/cluster: build what is missing, start the cluster, import the images, run the tier,
# and stop the cluster whatever happened. Needs Go and root: without them it is skipped with
# one line, except when CI=true, where that is a failure.
# (A script, not a recipe: `make -n` runs recipe lines that call make, and would run pytest.)
set -u
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
BIN=${BIN:-.venv/bin}

if ! command -v go >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
    if [ "${CI:-}" = true ]; then
        echo "test-cluster: the real-cluster tier needs Go on PATH and root (CI=true)" >&2
        exit 1
    fi
    echo "SKIPPED real-cluster tier (tests/realcluster): needs Go on PATH and root"
    exit 0
fi
trap '"$PYTHON" tests/cluster/cluster.py down' EXIT
make --no-print-directory cluster-up cluster-images || exit 1
set -a
eval "$("$PYTHON" tests/cluster/cluster.py env)"
set +a
FFMPEG_OPERATOR_REALCLUSTER=1 "$BIN/python" -m pytest tests/realcluster -p no:cacheprovider "$@"
