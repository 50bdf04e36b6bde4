"""The process mutations answered ahead of the framework (api/fastwrite.py) answer exactly as
the routes behind the middleware stack do.

A request with an ``Origin`` header goes the long way (the CORS middleware answers it), one
without is answered ahead: the same mutation sent both ways must give the same status, body
and caching headers, successes and errors alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from acceptance_helpers import fixture, process_url

CROSS = {"origin": "http://ui.test"}
#: What the CORS middleware adds for an allowed origin, and what only the transport decides.
NOT_COMPARED = {
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-expose-headers",
    "date",
    "server",
}

Send = Callable[[httpx.Client, str, dict[str, str]], httpx.Response]


@pytest.fixture
def api(backend_api: httpx.Client) -> httpx.Client:
    return backend_api


def _answer(response: httpx.Response, pid: str) -> tuple[int, Any, dict[str, str]]:
    headers = {k: v for k, v in response.headers.items() if k not in NOT_COMPARED}
    body = json.loads(response.text.replace(json.dumps(pid)[1:-1], "<pid>"))
    if isinstance(body, dict) and "input" in body:
        # Generated IO ids differ from request to request.
        for io in (*body["input"], *body["output"]):
            io.pop("id")
    return response.status_code, body, headers


def _both_ways(api: httpx.Client, send: Send, pid: str) -> None:
    """``send`` once ahead of the framework and once through it, on the processes
    ``<pid>-a`` and ``<pid>-b``; the answers must match but for that name."""
    fast = send(api, f"{pid}-a", {})
    slow = send(api, f"{pid}-b", CROSS)
    assert slow.headers.get("access-control-allow-origin") == "*"  # it did take the long way
    assert "access-control-allow-origin" not in fast.headers
    fast_answer, slow_answer = _answer(fast, f"{pid}-a"), _answer(slow, f"{pid}-b")
    if "content-length" in fast_answer[2]:
        # The names are as long; the lengths must match as they are.
        assert fast_answer[2]["content-length"] == slow_answer[2]["content-length"]
    assert fast_answer == slow_answer


def _post(config: dict[str, Any]) -> Send:
    return lambda api, pid, headers: api.post(
        "/api/v3/process", json={**config, "id": pid}, headers=headers
    )


def test_post_answers_alike_ahead_of_and_through_the_framework(api: httpx.Client) -> None:
    config = fixture()
    config["input"][0].pop("id")
    _both_ways(api, _post(config), config["id"])


@pytest.mark.parametrize(
    "change",
    [
        {"type": "docker"},  # 400 Unsupported process type
        {"input": []},  # 400 At least one input and one output
        {"input": "x"},  # 400 Invalid JSON, Go's type error
        {"output": [{"id": "o", "address": ""}]},  # 400 Invalid process config
    ],
)
def test_post_errors_answer_alike_ahead_of_and_through_the_framework(
    api: httpx.Client, change: dict[str, Any]
) -> None:
    config = fixture(**change)
    _both_ways(api, _post(config), config["id"])


def test_post_of_a_body_not_declared_as_json_answers_alike(api: httpx.Client) -> None:
    def send(api: httpx.Client, pid: str, headers: dict[str, str]) -> httpx.Response:
        body = b'{"id": "%s"}' % pid.encode()
        return api.post("/api/v3/process", content=body, headers={**headers, "content-type": "x"})

    _both_ways(api, send, fixture()["id"])


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("PUT", "", {"reference": "changed"}),
        ("PUT", "", {"input": None}),  # 400 Invalid JSON
        ("PUT", "/command", {"command": "stop"}),
        ("PUT", "/command", {"command": "jump"}),  # 400 Unknown command provided
        ("DELETE", "", None),
    ],
)
def test_changes_of_a_process_answer_alike_ahead_of_and_through_the_framework(
    api: httpx.Client, method: str, suffix: str, body: Any
) -> None:
    pid = fixture()["id"]
    for name in (f"{pid}-a", f"{pid}-b"):
        config = fixture(id=name, autostart=False)
        assert api.post("/api/v3/process", json=config).status_code == 200

    def send(api: httpx.Client, name: str, headers: dict[str, str]) -> httpx.Response:
        return api.request(method, process_url(name, suffix), json=body, headers=headers)

    _both_ways(api, send, pid)


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("PUT", "", {"reference": "x"}),
        ("PUT", "/command", {"command": "stop"}),
        ("DELETE", "", None),
    ],
)
def test_changes_of_an_unknown_process_answer_alike(
    api: httpx.Client, method: str, suffix: str, body: Any
) -> None:
    def send(api: httpx.Client, name: str, headers: dict[str, str]) -> httpx.Response:
        return api.request(method, process_url(name, suffix), json=body, headers=headers)

    _both_ways(api, send, fixture()["id"])
