"""Backends of the v3 API other than the embedded engine (which lives in ``runtime``).

Imported only on demand: ``serve --backend local`` must never load the Kubernetes client.
"""
