"""The in-Pod sidecar: progress receiver, stale and limit watchdogs, /state and /metrics."""
