"""Offline validation of generated manifests with kubernetes-validate."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

KUBERNETES_VERSION = "1.33"


def assert_valid_manifest(obj: dict[str, Any]) -> None:
    """``obj`` passes the Kubernetes ``KUBERNETES_VERSION`` schema, misspelled fields included."""
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        # The message embeds the whole schema and object; the first line says what failed.
        pytest.fail(f"{obj.get('kind')}: {str(error).splitlines()[0]}")
