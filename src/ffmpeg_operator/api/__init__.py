"""The datarhei v3 HTTP API (FastAPI), over a local or a Kubernetes backend."""
