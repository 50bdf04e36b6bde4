"""The datarhei v3 HTTP API (Starlette), over a local or a Kubernetes backend."""
