"""What the local runtime and the Kubernetes agent share: live progress, watchdogs, log ring."""
