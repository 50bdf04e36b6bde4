"""The Restreamer UI's calls from a real browser (Debian's Chromium, driven by Playwright).

A small static page (``site/``) makes the UI's calls with ``fetch``, as ``src/utils/api.js``
does: served by the server itself at ``/ui`` (``--ui-dir``, same origin) and by another HTTP
server on another port (other origin: CORS preflights for the Bearer token, JSON bodies, PUT
and DELETE), with auth off, with the UI's first-run registration, and with a login. Chromium
is the system's (``/usr/bin/chromium``; ``make test`` installs it); Playwright never
downloads a browser. Without Chromium the tier skips, and fails when ``CI=true``.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backends import BackendServer, require_runs
from livesrv import LiveServer, live_server
from tiers import unavailable

SITE = Path(__file__).resolve().parent / "site"
CHROMIUM = os.environ.get("FFMPEG_OPERATOR_TEST_CHROMIUM", "/usr/bin/chromium")


def _chromium() -> str:
    found = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if found is None:
        unavailable(f"Chromium not found at {CHROMIUM} (make test installs Debian's chromium)")
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        # --no-sandbox: the tests may run as root, where Chromium's sandbox refuses to start.
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def other_origin() -> Iterator[str]:
    """The page served from another origin (another port), as a hosted UI would be."""
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _run_page(browser: Any, url: str, timeout_ms: float = 60_000) -> dict[str, Any]:
    page = browser.new_page()
    try:
        page.goto(url)
        page.wait_for_function("window.checkResult !== undefined", timeout=timeout_ms)
        result: dict[str, Any] = page.evaluate("window.checkResult")
    finally:
        page.close()
    assert result["error"] is None, result
    return result


def _query(**params: str) -> str:
    from urllib.parse import urlencode

    return "?" + urlencode({"pid": f"browser-{uuid.uuid4().hex[:8]}", **params})


def _assert_common(steps: dict[str, Any], *, auth: bool) -> None:
    assert steps["about"]["status"] == 200
    assert steps["about"]["app"] == "datarhei-core"
    assert steps["config"] == {"status": 200, "auth": auth}
    assert steps["skills"] == 200
    assert steps["metrics"] == ["cpu_ncpu", "mem_total"]
    assert steps["publish"] == 201
    assert steps["published"] == "<h1>player</h1>"
    assert steps["sessions"] == ["ffmpeg", "hls"]
    assert steps["unpublish"] == 200


@pytest.fixture
def ui_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A server without auth that serves the page at /ui."""
    with live_server(tmp_path / "data", args=("--ui-dir", str(SITE))) as server:
        yield server


@pytest.fixture
def ui_server_with_login(tmp_path: Path) -> Iterator[LiveServer]:
    args = ("--ui-dir", str(SITE), "--auth-user", "admin", "--auth-password", "pw-1")
    with live_server(tmp_path / "data", args=args) as server:
        yield server


def test_same_origin_ui_registers_then_creates_watches_and_stops_a_channel(
    browser: Any, ui_server: LiveServer
) -> None:
    query = _query(mode="register", password="first-pw", run="1")
    steps = _run_page(browser, f"{ui_server.base_url}/ui/{query}")["steps"]
    assert steps["about"]["auths"] == []
    assert steps["overrides"] == []
    assert (steps["register"], steps["reload"], steps["unauthorized"]) == (200, 200, 401)
    assert steps["login"] == 200
    _assert_common(steps, auth=True)
    assert steps["create"] == 200
    assert steps["fps"] > 0
    assert (steps["stop"], steps["remove"]) == (200, 200)


def test_other_origin_ui_logs_in_and_uses_the_api(
    browser: Any, ui_server_with_login: LiveServer, other_origin: str
) -> None:
    query = _query(api=ui_server_with_login.base_url, mode="login", password="pw-1", run="1")
    steps = _run_page(browser, f"{other_origin}/index.html{query}")["steps"]
    assert steps["about"]["auths"] == ["localjwt"]
    assert steps["login"] == 200
    _assert_common(steps, auth=True)
    assert steps["fps"] > 0


def test_other_origin_ui_without_auth_on_each_backend(
    browser: Any, backend_server: BackendServer, other_origin: str
) -> None:
    run = "0"
    if backend_server.kind == "local" or backend_server.kube.has_operator:
        require_runs(backend_server)
        run = "1"
    query = _query(api=backend_server.live.base_url, mode="none", run=run)
    steps = _run_page(browser, f"{other_origin}/index.html{query}", timeout_ms=120_000)["steps"]
    assert steps["about"]["auths"] == []
    _assert_common(steps, auth=False)
    if run == "1":
        assert steps["fps"] > 0
