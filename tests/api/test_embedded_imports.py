"""Embedded mode never loads the Kubernetes stack (kopf, kubernetes clients)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from livesrv import live_server


def _probe(script: str, argument: str) -> Any:
    """What ``script`` prints last, as JSON, run in a fresh interpreter with ``argument``."""
    result = subprocess.run(
        [sys.executable, "-c", script, argument],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


PROBE = """
import json, sys
from pathlib import Path

import pytest
from ffmpeg_operator.cli import app
from ffmpeg_operator.api.server import ServeOptions, build_local_app
build_local_app(ServeOptions(data_dir=Path(sys.argv[1])))
stacks = {"kopf", "kubernetes", "kubernetes_asyncio"}
heavy = sorted(m for m in sys.modules if m.split(".")[0] in stacks)
print(json.dumps(heavy))
"""


def test_building_the_embedded_server_imports_no_kubernetes_library(tmp_path: Path) -> None:
    assert _probe(PROBE, str(tmp_path / "data")) == []


LAZY_PROBE = """
import json, sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from ffmpeg_operator.cli import app as cli
from ffmpeg_operator.api.server import ServeOptions, build_local_app
app, _engine = build_local_app(ServeOptions(data_dir=Path(sys.argv[1])))
lazy = ("prometheus_client", "jwt", "pydantic.v1", "psutil")
with TestClient(app) as client:
    listed = client.get("/api/v3/process").status_code
    before = sorted(m for m in lazy if sys.modules.get(m) is not None)
    metrics = client.get("/metrics")
    after = sorted(m for m in lazy if sys.modules.get(m) is not None)
print(json.dumps([listed, before, metrics.status_code, metrics.headers["content-type"], after]))
"""


def test_metrics_jwt_and_psutil_load_only_when_used_and_pydantic_v1_never(
    tmp_path: Path,
) -> None:
    listed, before, status, content_type, after = _probe(LAZY_PROBE, str(tmp_path / "data"))
    assert (listed, before) == (200, [])
    assert status == 200
    assert content_type.startswith("text/plain")
    assert after == ["prometheus_client"]


SERVED_PROBE = """
import json, sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from ffmpeg_operator.cli import app
from ffmpeg_operator.api.server import ServeOptions, build_local_app
served, _engine = build_local_app(ServeOptions(data_dir=Path(sys.argv[1])))
with TestClient(served) as client:
    statuses = [
        client.get(path).status_code
        for path in ("/api/v3/process", "/api/swagger/doc.json", "/api/swagger/index.html")
    ]
print(json.dumps([statuses, sorted(m for m in sys.modules if m.split(".")[0] == "fastapi")]))
"""


def test_serving_the_api_and_its_openapi_document_never_imports_fastapi(tmp_path: Path) -> None:
    statuses, fastapi_modules = _probe(SERVED_PROBE, str(tmp_path / "data"))
    assert statuses == [200, 200, 200]
    assert fastapi_modules == []


CLI_PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
before = set(sys.modules)
import ffmpeg_operator.cli
added = {name.split(".")[0] for name in set(sys.modules) - before}
print(json.dumps(sorted(added - set(sys.stdlib_module_names) - {"ffmpeg_operator"})))
"""


@pytest.mark.parametrize("server", ["ffmpeg_operator.api.serving", "ffmpeg_operator.agent.server"])
def test_the_command_line_loads_no_library_beyond_what_the_server_it_starts_loads(
    server: str,
) -> None:
    # Every process starts through the CLI (the agent runs in every run Pod): a CLI framework of
    # its own (typer: +2 MiB RSS) would be paid by each; click comes with uvicorn anyway.
    assert _probe(CLI_PROBE, server) == []


def test_the_served_api_maps_neither_uvloop_nor_ctypes(tmp_path: Path) -> None:
    # asyncio's own loop (uvloop: +2.5 MiB resident) and no ctypes (+0.26 MiB; ffmpeg ends with
    # the server by its process group, supervision/lifeline.py): bench/README.md.
    with live_server(tmp_path / "data") as server:
        assert httpx.get(f"{server.base_url}/api/v3/process").status_code == 200
        assert server.process is not None
        maps = Path(f"/proc/{server.process.pid}/maps").read_text()
    assert "uvloop" not in maps
    assert "_ctypes" not in maps


UVICORN_PROBE = """
import asyncio, json, sys
from pathlib import Path
from types import SimpleNamespace

import uvicorn
from ffmpeg_operator.cli import app as cli

if sys.argv[1] == "agent":
    from ffmpeg_operator.agent.server import create_agent_app
    served = create_agent_app(SimpleNamespace(exec_state="running"))
    paths = ["/healthz", "/nowhere"]
else:
    from ffmpeg_operator.api.server import ServeOptions, build_local_app
    served, _engine = build_local_app(ServeOptions(data_dir=Path(sys.argv[1])))
    paths = ["/api/v3/process", "/api/v3/nowhere"]


async def status(port, path):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\\r\\nHost: probe\\r\\nConnection: close\\r\\n\\r\\n"
    writer.write(request.encode())
    head = await reader.readline()
    await reader.read()
    writer.close()
    return int(head.split()[1])


async def main():
    config = uvicorn.Config(served, host="127.0.0.1", port=0, log_level="warning", loop="asyncio")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        return [await status(port, path) for path in paths]
    finally:
        server.should_exit = True
        await serving


statuses = asyncio.run(main())
loaded = sorted(m for m in ("starlette.applications", "html") if m in sys.modules)
print(json.dumps([statuses, loaded]))
"""


@pytest.mark.parametrize("server", ["api", "agent"])
def test_serving_the_api_or_the_agent_imports_neither_starlettes_application_nor_html(
    server: str, tmp_path: Path
) -> None:
    # Starlette's application brings its debug error page (html, html.entities): 0.54 MiB
    # resident in every server and agent sidecar (ffmpeg_operator/application.py).
    argument = "agent" if server == "agent" else str(tmp_path / "data")
    statuses, loaded = _probe(UVICORN_PROBE, argument)
    assert statuses == [200, 404]
    assert loaded == []
