"""The ``serve`` options of the UI features: CORS origins, viewer ignore list, ``--ui-dir``."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from ffmpeg_operator.cli import app
from livesrv import live_server


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--session-ip-ignorelist", "not-a-net"], "is not a network"),
        (["--ui-dir", "/nonexistent/ui"], "is not a directory"),
    ],
)
def test_bad_ui_options_are_refused_before_serving(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["serve", "--port", "1", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_cors_origins_limit_the_file_mounts_but_not_the_api(tmp_path: Path) -> None:
    args = ("--cors-origins", "https://ui.example")
    with live_server(tmp_path / "data", args=args) as server, server.client() as client:
        other = {"Origin": "https://evil.example"}
        assert "access-control-allow-origin" not in client.get("/memfs/x", headers=other).headers
        assert client.get("/api", headers=other).headers["access-control-allow-origin"] == "*"
        listed = {"Origin": "https://ui.example"}
        allowed = client.get("/memfs/x", headers=listed).headers
        assert allowed["access-control-allow-origin"] == "https://ui.example"
        config = client.get("/api/v3/config").json()["config"]
        assert config["storage"]["cors"]["origins"] == ["https://ui.example"]


def test_empty_ignore_list_counts_localhost_viewers(tmp_path: Path) -> None:
    args = ("--session-ip-ignorelist", "")
    with live_server(tmp_path / "data", args=args) as server, server.client() as client:
        client.put("/api/v3/fs/mem/local.m3u8", content=b"#EXTM3U\n")
        assert client.get("/memfs/local.m3u8").status_code == 200
        active = client.get("/api/v3/session/active", params={"collectors": "hls"}).json()
        assert [s["remote"] for s in active["hls"]] == ["127.0.0.1"]


def test_ui_dir_is_served_at_ui_with_a_redirect_from_the_bare_path(tmp_path: Path) -> None:
    ui = tmp_path / "ui"
    ui.mkdir()
    (ui / "index.html").write_text("<title>Restreamer</title>")
    (ui / "static").mkdir()
    (ui / "static" / "main.js").write_text("console.log(1)")
    with (
        live_server(tmp_path / "data", args=("--ui-dir", str(ui))) as server,
        httpx.Client(base_url=server.base_url) as client,
    ):
        bare = client.get("/ui")
        assert bare.status_code == 301
        assert bare.headers["location"] == "/ui/"
        assert client.get("/ui/").text == "<title>Restreamer</title>"
        script = client.get("/ui/static/main.js")
        assert script.headers["content-type"].startswith(
            ("text/javascript", "application/javascript")
        )
        assert client.get("/ui/missing.js").status_code == 404


def test_host_names_from_the_command_line_are_an_override(tmp_path: Path) -> None:
    args = ("--host-names", "live.example,cdn.example")
    with live_server(tmp_path / "data", args=args) as server, server.client() as client:
        config = client.get("/api/v3/config").json()
        assert config["config"]["host"]["name"] == ["live.example", "cdn.example"]
        assert "host.name" in config["overrides"]
        change = {"version": 3, "host": {"name": ["other.example"]}}
        refused = client.put("/api/v3/config", json=change)
        assert refused.status_code == 409
        assert list(refused.json()) == ["host.name"]
