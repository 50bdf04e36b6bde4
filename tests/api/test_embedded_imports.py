"""Embedded mode never loads the Kubernetes stack (kopf, kubernetes clients)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, sys
from pathlib import Path
from ffmpeg_operator.cli import app
from ffmpeg_operator.api.server import ServeOptions, build_local_app
build_local_app(ServeOptions(data_dir=Path(sys.argv[1])))
stacks = {"kopf", "kubernetes", "kubernetes_asyncio"}
heavy = sorted(m for m in sys.modules if m.split(".")[0] in stacks)
print(json.dumps(heavy))
"""


def test_building_the_embedded_server_imports_no_kubernetes_library(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
