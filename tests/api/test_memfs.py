"""/memfs over HTTP: what ffmpeg's HLS muxer writes and players read (design §6)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from ffmpeg_operator.api.errors import install_error_handlers
from ffmpeg_operator.api.memfs import content_type_for, memfs_router
from ffmpeg_operator.api.routing import include
from ffmpeg_operator.application import Application
from ffmpeg_operator.runtime.memfs import MemFS

AUTH = ("admin", "secret-pw")


@pytest.fixture
def store() -> MemFS:
    return MemFS()


@pytest.fixture
async def client(store: MemFS) -> AsyncIterator[httpx.AsyncClient]:
    app = Application()
    install_error_handlers(app)
    include(app, memfs_router(store, *AUTH))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://core") as client:
        yield client


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("/test.m3u8", "application/x-mpegURL"),
        ("/test_0001.ts", "video/MP2T"),
        ("/TEST.M3U8", "application/x-mpegURL"),
        ("/snapshot.jpg", "image/jpeg"),
        ("/data.json", "application/json"),
        ("/blob", "application/data"),
    ],
)
def test_content_type_is_guessed_from_the_extension(name: str, content_type: str) -> None:
    assert content_type_for(name) == content_type


@pytest.mark.parametrize("method", ["PUT", "POST"])
async def test_first_write_creates_201_then_replaces_204(
    client: httpx.AsyncClient, store: MemFS, method: str
) -> None:
    created = await client.request(method, "/memfs/live/test.m3u8", content=b"#EXTM3U", auth=AUTH)
    assert created.status_code == 201
    assert created.headers["content-location"] == "/memfs/live/test.m3u8"
    replaced = await client.request(method, "/memfs/live/test.m3u8", content=b"#EXTM3U2", auth=AUTH)
    assert replaced.status_code == 204
    assert store.get("/live/test.m3u8") == b"#EXTM3U2"


async def test_chunked_put_is_stored_whole(client: httpx.AsyncClient, store: MemFS) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"seg", b"ment", b"-data"):
            yield part

    response = await client.put("/memfs/test_0001.ts", content=chunks(), auth=AUTH)
    assert response.status_code == 201
    assert store.get("/test_0001.ts") == b"segment-data"


async def test_get_serves_the_file_with_its_type(client: httpx.AsyncClient, store: MemFS) -> None:
    store.put("/test.m3u8", b"#EXTM3U\n")
    response = await client.get("/memfs/test.m3u8")
    assert response.status_code == 200
    assert response.content == b"#EXTM3U\n"
    assert response.headers["content-type"] == "application/x-mpegURL"
    assert response.headers["last-modified"].endswith(" GMT")


async def test_reads_need_no_credentials_but_writes_do(client: httpx.AsyncClient) -> None:
    assert (await client.put("/memfs/a.ts", content=b"x", auth=AUTH)).status_code == 201
    assert (await client.get("/memfs/a.ts")).status_code == 200


async def test_head_has_headers_without_body(client: httpx.AsyncClient, store: MemFS) -> None:
    store.put("/test_0001.ts", b"12345")
    response = await client.head("/memfs/test_0001.ts")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "5"
    assert response.headers["content-type"] == "video/MP2T"


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_missing_file_is_404(client: httpx.AsyncClient, method: str) -> None:
    response = await client.request(method, "/memfs/nope.ts")
    assert response.status_code == 404
    if method == "GET":
        assert response.json() == {
            "code": 404,
            "message": "File not found",
            "details": ["/nope.ts"],
        }


async def test_delete_removes_the_file(client: httpx.AsyncClient, store: MemFS) -> None:
    store.put("/test_0001.ts", b"x")
    response = await client.delete("/memfs/test_0001.ts", auth=AUTH)
    assert response.status_code == 200
    assert response.text == "Deleted: /test_0001.ts"
    assert store.get("/test_0001.ts") is None


async def test_delete_of_a_missing_file_is_404(client: httpx.AsyncClient) -> None:
    response = await client.delete("/memfs/nope.ts", auth=AUTH)
    assert response.status_code == 404
    assert response.json()["message"] == "File not found"


@pytest.mark.parametrize(
    "auth",
    [None, ("admin", "wrong"), ("other", "secret-pw"), ("", "")],
    ids=["none", "wrong-password", "wrong-user", "empty"],
)
@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
async def test_writes_without_the_memfs_credentials_are_401(
    client: httpx.AsyncClient,
    store: MemFS,
    method: str,
    auth: tuple[str, str] | None,
) -> None:
    store.put("/a.ts", b"original")
    content = b"evil" if method != "DELETE" else None
    response = await client.request(method, "/memfs/a.ts", content=content, auth=auth)
    assert response.status_code == 401
    assert response.json() == {
        "code": 401,
        "message": "Unauthorized",
        "details": ["Unauthorized"],
    }
    assert response.headers["www-authenticate"].lower().startswith("basic")
    assert store.get("/a.ts") == b"original"


@pytest.mark.parametrize(
    "header",
    ["Bearer abc", "Basic !!!notbase64", "Basic YWRtaW4="],
    ids=["bearer", "bad", "no-colon"],
)
async def test_malformed_authorization_is_401(client: httpx.AsyncClient, header: str) -> None:
    response = await client.put("/memfs/a.ts", content=b"x", headers={"authorization": header})
    assert response.status_code == 401


async def test_credentials_embedded_in_the_url_work_like_ffmpeg_sends_them(
    store: MemFS, client: httpx.AsyncClient
) -> None:
    response = await client.put("http://admin:secret-pw@core/memfs/x.m3u8", content=b"#EXTM3U")
    assert response.status_code == 201
    assert store.get("/x.m3u8") == b"#EXTM3U"


async def test_dot_dot_is_normalised_and_cannot_escape(
    client: httpx.AsyncClient, store: MemFS
) -> None:
    # Percent-encoded so the client does not resolve the dots itself.
    response = await client.put("/memfs/a/%2E%2E/%2E%2E/%2E%2E/b.ts", content=b"x", auth=AUTH)
    assert response.status_code == 201
    assert [entry.name for entry in store.list()] == ["/b.ts"]
    assert (await client.get("/memfs/x/%2E%2E/b.ts")).content == b"x"


async def test_writing_the_root_is_400(client: httpx.AsyncClient) -> None:
    response = await client.put("/memfs/x/%2E%2E", content=b"x", auth=AUTH)
    assert response.status_code == 400
    assert response.json()["code"] == 400


@pytest.mark.parametrize("path", ["/memfs", "/memfs/"])
async def test_listing_shows_name_size_and_last_modified(
    client: httpx.AsyncClient, store: MemFS, path: str
) -> None:
    store.put("/test.m3u8", b"#EXTM3U")
    response = await client.get(path)
    assert response.status_code == 200
    [item] = response.json()
    assert set(item) == {"name", "size_bytes", "last_modified"}
    assert (item["name"], item["size_bytes"]) == ("/test.m3u8", 7)
    entry = store.stat("/test.m3u8")
    assert entry is not None
    assert item["last_modified"] == int(entry.mtime)


async def test_empty_listing_is_an_empty_array(client: httpx.AsyncClient) -> None:
    response = await client.get("/memfs")
    assert response.json() == []
