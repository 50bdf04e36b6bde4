"""The Core endpoints the Restreamer UI calls besides processes, on both backends, in the
shapes its ``src/utils/api.js`` and ``src/utils/restreamer.js`` read (issue 10)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest

from backends import BackendServer

#: A viewer's address: counted, unlike 127.0.0.1 (on Core's default ip_ignorelist).
VIEWER_ADDRESS = "127.0.0.3"
ORIGIN = "http://ui.example:3000"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def api(backend_api: httpx.Client) -> httpx.Client:
    return backend_api


@pytest.fixture
def viewer(backend_server: BackendServer) -> Iterator[httpx.Client]:
    """A client connecting from another loopback address, like a viewer on the network."""
    transport = httpx.HTTPTransport(local_address=VIEWER_ADDRESS)
    with httpx.Client(
        base_url=backend_server.live.base_url, transport=transport, timeout=30.0
    ) as client:
        yield client


def _name() -> str:
    return f"ui-{uuid.uuid4().hex[:10]}"


# --- CORS -------------------------------------------------------------------------------------


def test_preflight_of_the_api_is_answered_for_any_origin(api: httpx.Client) -> None:
    response = api.options(
        "/api/v3/process",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert set(response.headers["access-control-allow-methods"].split(",")) >= {
        "GET",
        "HEAD",
        "PUT",
        "POST",
        "DELETE",
        "PATCH",
    }
    allowed = {h.lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert response.headers["access-control-max-age"] == "86400"


def test_api_answers_carry_the_allow_origin_header(api: httpx.Client) -> None:
    response = api.get("/api", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-expose-headers"] == "Content-Length"


def test_memfs_and_disk_mounts_allow_the_configured_origins(api: httpx.Client) -> None:
    for path in ("/memfs/none.m3u8", "/none.html"):
        response = api.get(path, headers={"Origin": ORIGIN})
        assert response.status_code == 404
        assert response.headers["access-control-allow-origin"] == "*"


def test_requests_without_origin_get_no_cors_headers(api: httpx.Client) -> None:
    response = api.get("/api")
    assert "access-control-allow-origin" not in response.headers
    assert "Origin" in response.headers["vary"]


# --- config -----------------------------------------------------------------------------------


def test_config_has_every_field_the_ui_reads(api: httpx.Client) -> None:
    response = api.get("/api/v3/config")
    assert response.status_code == 200
    document = response.json()
    for stamp in ("created_at", "loaded_at", "updated_at"):
        assert RFC3339.match(document[stamp])
    assert isinstance(document["overrides"], list)
    config = document["config"]
    assert config["version"] == 3
    assert isinstance(config["host"]["name"], list)
    assert config["tls"]["enable"] is False
    assert config["address"].endswith(f":{api.base_url.port}")
    for key in ("enable", "enable_tls", "token", "app", "address", "address_tls"):
        assert key in config["rtmp"]
    for key in ("enable", "passphrase", "token", "address"):
        assert key in config["srt"]
    memory_auth = config["storage"]["memory"]["auth"]
    assert memory_auth == {"enable": True, "username": "admin", "password": "memfspw"}
    assert config["api"]["auth"]["enable"] is False
    # What the UI's system report anonymizes must exist.
    assert config["api"]["auth"]["auth0"]["tenants"] == []
    assert config["api"]["access"]["https"]["block"] == []
    assert config["storage"]["cors"]["origins"] == ["*"]
    assert config["storage"]["s3"] == []
    assert config["sessions"]["ip_ignorelist"] == ["127.0.0.1/32", "::1/128"]
    assert isinstance(config["ffmpeg"]["binary"], str) and config["ffmpeg"]["binary"]


def test_config_change_that_needs_a_restart_is_refused_naming_the_field(
    api: httpx.Client,
) -> None:
    before = api.get("/api/v3/config").json()["config"]
    response = api.put(
        "/api/v3/config", json={"version": 3, "address": ":1", "tls": {"enable": True}}
    )
    assert response.status_code == 409
    body = response.json()
    assert set(body) == {"address", "tls.enable"}
    assert "run time" in body["address"][0]
    assert api.get("/api/v3/config").json()["config"] == before


def test_config_of_another_version_is_invalid(api: httpx.Client) -> None:
    response = api.put("/api/v3/config", json={"version": 2})
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid JSON"


def test_config_that_does_not_parse_is_invalid_json(api: httpx.Client) -> None:
    response = api.put(
        "/api/v3/config", content=b'{"version": 3,', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid JSON"


def test_config_enabling_auth_without_password_is_refused(api: httpx.Client) -> None:
    response = api.put(
        "/api/v3/config", json={"version": 3, "api": {"auth": {"enable": True, "username": "u"}}}
    )
    assert response.status_code == 409
    assert "api.auth.enable" in response.json()


# --- filesystems ------------------------------------------------------------------------------


def test_fs_lists_the_disk_and_mem_filesystems(api: httpx.Client) -> None:
    assert sorted(api.get("/api/v3/fs").json(), key=lambda f: f["name"]) == [
        {"name": "disk", "type": "disk", "mount": "/"},
        {"name": "mem", "type": "mem", "mount": "/memfs"},
    ]


def test_disk_file_put_is_served_at_root_and_lands_in_diskfs(
    api: httpx.Client, backend_server: BackendServer
) -> None:
    name = _name()
    path = f"/channels/{name}/player.html"
    created = api.put(f"/api/v3/fs/disk{path}", content=b"<html>player</html>")
    assert created.status_code == 201
    assert created.headers["content-location"] == f"/api/v3/fs/disk{path}"
    replaced = api.put(f"/api/v3/fs/disk{path}", content=b"<html>player 2</html>")
    assert replaced.status_code == 204
    assert (backend_server.disk_files / "channels" / name / "player.html").read_bytes() == (
        b"<html>player 2</html>"
    )
    served = api.get(path)
    assert served.status_code == 200
    assert served.content == b"<html>player 2</html>"
    assert served.headers["content-type"].startswith("text/html")
    head = api.head(f"/api/v3/fs/disk{path}")
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(b"<html>player 2</html>"))
    listed = api.get("/api/v3/fs/disk", params={"glob": f"/channels/{name}/*"}).json()
    assert [(f["name"], f["size_bytes"]) for f in listed] == [(path, 21)]
    assert isinstance(listed[0]["last_modified"], int)
    deleted = api.delete(f"/api/v3/fs/disk{path}")
    assert deleted.status_code == 200
    assert deleted.text == f"Deleted: {path}"
    assert api.head(f"/api/v3/fs/disk{path}").status_code == 404
    assert api.get(path).status_code == 404


def test_disk_directory_serves_its_index(api: httpx.Client) -> None:
    name = _name()
    api.put(f"/api/v3/fs/disk/{name}/index.html", content=b"playersite")
    try:
        assert api.get(f"/{name}/").text == "playersite"
    finally:
        api.delete(f"/api/v3/fs/disk/{name}/index.html")


def test_mem_file_put_through_the_api_is_served_at_memfs(api: httpx.Client) -> None:
    path = f"/{_name()}.jpg"
    assert api.put(f"/api/v3/fs/mem{path}", content=b"\xff\xd8jpeg").status_code == 201
    served = api.get(f"/memfs{path}")
    assert served.content == b"\xff\xd8jpeg"
    assert served.headers["content-type"] == "image/jpeg"
    assert api.head(f"/api/v3/fs/mem{path}").status_code == 200
    assert [f["name"] for f in api.get("/api/v3/fs/mem", params={"glob": path}).json()] == [path]
    assert api.delete(f"/api/v3/fs/mem{path}").status_code == 200
    assert api.get(f"/memfs{path}").status_code == 404


def test_fs_unknown_filesystem_and_missing_file_are_404(api: httpx.Client) -> None:
    unknown = api.get("/api/v3/fs/s3/x")
    assert unknown.status_code == 404
    assert unknown.json()["details"] == ["unknown filesystem: s3"]
    assert api.get("/api/v3/fs/disk/no/such/file").json()["message"] == "File not found"
    assert api.delete("/api/v3/fs/mem/no-such-file").status_code == 404


def test_fs_path_cannot_leave_the_disk_directory(
    api: httpx.Client, backend_server: BackendServer
) -> None:
    name = _name()
    response = api.put(f"/api/v3/fs/disk/%2E%2E/%2E%2E/{name}", content=b"x")
    assert response.status_code == 201
    # ".." never leaves the root: the file lands at the top of the disk directory.
    assert (backend_server.disk_files / name).read_bytes() == b"x"
    api.delete(f"/api/v3/fs/disk/{name}")


# --- sessions and metrics ---------------------------------------------------------------------


def test_viewer_of_a_memfs_stream_is_an_active_hls_session(
    api: httpx.Client, viewer: httpx.Client
) -> None:
    channel = _name()
    playlist = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n" + channel.encode() + b"_0.ts\n"
    api.put(f"/api/v3/fs/mem/{channel}.m3u8", content=playlist)
    api.put(f"/api/v3/fs/mem/{channel}_0.ts", content=b"\x47" * 188 * 100)
    try:
        assert viewer.get(f"/memfs/{channel}.m3u8").status_code == 200
        assert viewer.get(f"/memfs/{channel}_0.ts").status_code == 200
        active = api.get("/api/v3/session/active", params={"collectors": "hls,ffmpeg"}).json()
        assert active["ffmpeg"] == []
        mine = [s for s in active["hls"] if s["reference"] == channel]
        assert len(mine) == 1
        session = mine[0]
        assert session["remote"] == VIEWER_ADDRESS
        assert session["bytes_tx"] == len(playlist) + 188 * 100
        assert session["bandwidth_tx_kbit"] > 0
        summary = api.get("/api/v3/session", params={"collectors": "hls"}).json()["hls"]
        assert summary["active"]["sessions"] >= 1
        metrics = api.post(
            "/api/v3/metrics",
            json={"metrics": [{"name": "session_active", "labels": {"collector": "hls"}}]},
        ).json()["metrics"]
        assert metrics[0]["labels"] == {"collector": "hls"}
        assert metrics[0]["values"][0][1] >= 1
    finally:
        api.delete(f"/api/v3/fs/mem/{channel}.m3u8")
        api.delete(f"/api/v3/fs/mem/{channel}_0.ts")


def test_viewer_of_a_master_playlist_is_one_session_of_its_variant(
    api: httpx.Client, viewer: httpx.Client
) -> None:
    channel = _name()
    master = f"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n{channel}_output_0.m3u8\n"
    api.put(f"/api/v3/fs/mem/{channel}.m3u8", content=master.encode())
    api.put(f"/api/v3/fs/mem/{channel}_output_0.m3u8", content=b"#EXTM3U\n#EXTINF:2.0,\n")
    try:
        viewer.get(f"/memfs/{channel}.m3u8")
        viewer.get(f"/memfs/{channel}_output_0.m3u8")
        active = api.get("/api/v3/session/active", params={"collectors": "hls"}).json()["hls"]
        # The UI counts sessions whose reference starts with the channel ID: one viewer.
        assert [s["reference"] for s in active if s["reference"].startswith(channel)] == [
            f"{channel}_output_0"
        ]
    finally:
        api.delete(f"/api/v3/fs/mem/{channel}.m3u8")
        api.delete(f"/api/v3/fs/mem/{channel}_output_0.m3u8")


def test_localhost_reader_is_not_counted_as_a_viewer(api: httpx.Client) -> None:
    channel = _name()
    api.put(f"/api/v3/fs/mem/{channel}.m3u8", content=b"#EXTM3U\n")
    try:
        assert api.get(f"/memfs/{channel}.m3u8").status_code == 200
        active = api.get("/api/v3/session/active", params={"collectors": "hls"}).json()["hls"]
        assert all(s["reference"] != channel for s in active)
    finally:
        api.delete(f"/api/v3/fs/mem/{channel}.m3u8")


def test_process_reading_memfs_with_its_credentials_is_not_a_viewer(
    api: httpx.Client, viewer: httpx.Client
) -> None:
    channel = _name()
    api.put(f"/api/v3/fs/mem/{channel}.m3u8", content=b"#EXTM3U\n")
    try:
        # What ffmpeg sends for {memfs}/<channel>.m3u8: the URL's user and password.
        read = viewer.get(f"/memfs/{channel}.m3u8", auth=("admin", "memfspw"))
        assert read.status_code == 200
        active = api.get("/api/v3/session/active", params={"collectors": "hls"}).json()["hls"]
        assert all(s["reference"] != channel for s in active)
    finally:
        api.delete(f"/api/v3/fs/mem/{channel}.m3u8")


def test_metrics_answer_the_footer_query_of_the_ui(api: httpx.Client) -> None:
    size = 4096
    path = f"/{_name()}.bin"
    api.put(f"/api/v3/fs/mem{path}", content=b"\0" * size)
    try:
        names = [
            "uptime_uptime",
            "cpu_ncpu",
            "cpu_idle",
            "mem_total",
            "mem_free",
            "filesystem_limit",
            "filesystem_usage",
            "session_limit",
            "session_active",
            "session_txbitrate",
            "session_maxtxbitrate",
        ]
        response = api.post("/api/v3/metrics", json={"metrics": [{"name": n} for n in names]})
        assert response.status_code == 200
        metrics = response.json()["metrics"]

        def value(metric_name: str, **labels: str) -> float:
            for metric in metrics:
                if metric["name"] == metric_name and all(
                    metric["labels"].get(k) == v for k, v in labels.items()
                ):
                    return float(metric["values"][0][1])
            raise AssertionError(f"no {metric_name} {labels}")

        assert value("cpu_ncpu") >= 1
        assert 0 <= value("cpu_idle") <= 100
        assert value("mem_total") > value("mem_free") > 0
        assert value("filesystem_usage", name="memfs") >= size
        assert value("filesystem_usage", name="diskfs") >= 0
        assert value("session_active", collector="hls") >= 0
        assert value("uptime_uptime") >= 0
    finally:
        api.delete(f"/api/v3/fs/mem{path}")


def test_metrics_describe_lists_the_collectors(api: httpx.Client) -> None:
    described = {m["name"]: m for m in api.get("/api/v3/metrics").json()}
    assert {"cpu_idle", "mem_total", "net_rx", "session_active", "filesystem_usage"} <= set(
        described
    )
    assert described["session_active"]["labels"] == ["collector"]


def test_metrics_query_with_a_wrong_shape_is_invalid(api: httpx.Client) -> None:
    response = api.post("/api/v3/metrics", json={"metrics": "cpu"})
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid JSON"


def test_metrics_query_that_does_not_parse_is_invalid_json(api: httpx.Client) -> None:
    response = api.post(
        "/api/v3/metrics", content=b'{"metrics": [', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Invalid JSON"


# --- media server, log, widget ----------------------------------------------------------------


def test_rtmp_and_srt_channels_are_empty_without_a_media_server_to_ask(api: httpx.Client) -> None:
    assert api.get("/api/v3/rtmp").json() == []
    assert api.get("/api/v3/srt").json()["publisher"] == {}


def test_log_is_a_list_of_events(api: httpx.Client) -> None:
    events = api.get("/api/v3/log").json()
    assert isinstance(events, list)
    for event in events:
        assert {"ts", "level", "component", "message"} <= set(event)


def test_widget_counts_the_viewers_of_a_process(api: httpx.Client, viewer: httpx.Client) -> None:
    pid = _name()
    config = {
        "id": pid,
        "reference": pid,
        "input": [{"id": "in", "address": "testsrc", "options": ["-f", "lavfi"]}],
        "output": [{"id": "out", "address": "-", "options": ["-f", "null"]}],
        "autostart": False,
    }
    assert api.post("/api/v3/process", json=config).status_code == 200
    api.put(f"/api/v3/fs/mem/{pid}_output_0.m3u8", content=b"#EXTM3U\n")
    try:
        viewer.get(f"/memfs/{pid}_output_0.m3u8")
        widget = viewer.get(f"/api/v3/widget/process/{pid}")
        assert widget.status_code == 200
        assert widget.json() == {"current_sessions": 1, "total_sessions": 1, "uptime": 0}
        unknown = viewer.get(f"/api/v3/widget/process/{_name()}")
        assert unknown.status_code == 404
        assert unknown.json()["message"] == "Unknown process ID"
    finally:
        api.delete(f"/api/v3/fs/mem/{pid}_output_0.m3u8")
