"""Spec §12 acceptance, listing: GET /api/v3/process (cases 15, 16, 44; §1.4, §3.1).

The session server holds other tests' processes too, so every query here is narrowed to this
module's own IDs (a unique prefix) and results are compared as lists or multisets of IDs.
"""

from __future__ import annotations

import uuid
from collections import Counter

import httpx
import pytest
from acceptance_helpers import create, fixture


@pytest.fixture
def api(backend_api: httpx.Client) -> httpx.Client:
    """Every case here is backend-independent: it runs on both backends."""
    return backend_api


ALL_ASPECTS = ["config", "state", "report", "metadata"]


def list_ids(api: httpx.Client, **params: str) -> list[str]:
    response = api.get("/api/v3/process", params=params)
    assert response.status_code == 200, response.text
    return [process["id"] for process in response.json()]


@pytest.fixture
def prefix() -> str:
    return f"acl{uuid.uuid4().hex[:6]}"


@pytest.fixture
def four(api: httpx.Client, prefix: str) -> list[str]:
    """Case 16's four processes (reference = id), made unique by ``prefix``."""
    ids = [f"{prefix}foo_aaa_1", f"{prefix}bar_bbb_2", f"{prefix}foo_ccc_3", f"{prefix}bar_ddd_4"]
    for pid in ids:
        create(api, fixture(id=pid, reference=pid))
    return ids


# --- case 15: id and reference -------------------------------------------------------------


def test_list_unknown_id_is_empty(api: httpx.Client) -> None:
    response = api.get("/api/v3/process", params={"id": "acc-unknown"})
    assert response.status_code == 200
    assert response.json() == []


def test_list_duplicate_ids_list_the_process_twice(api: httpx.Client) -> None:
    pid = create(api, fixture())["id"]
    assert list_ids(api, id=f"{pid},{pid}") == [pid, pid]


def test_list_id_list_skips_unknown_ids(api: httpx.Client) -> None:
    first, second = create(api, fixture())["id"], create(api, fixture())["id"]
    assert Counter(list_ids(api, id=f"{first},acc-unknown,{second}")) == Counter([first, second])


def test_list_reference_set_ignores_the_id_list(api: httpx.Client) -> None:
    pid = create(api, fixture(reference="acc-ref-15"))["id"]
    assert list_ids(api, id=pid, reference="zzz") == []
    assert list_ids(api, id="acc-unknown", reference="acc-ref-15") == [pid]


def test_list_reference_must_match_exactly(api: httpx.Client, four: list[str]) -> None:
    assert list_ids(api, reference=four[1]) == [four[1]]
    assert list_ids(api, reference=four[1][:-1]) == []


def test_list_empty_query_parameters_are_absent(api: httpx.Client) -> None:
    pid = create(api, fixture())["id"]
    response = api.get(
        "/api/v3/process",
        params={"id": "", "reference": "", "filter": "", "idpattern": "", "refpattern": ""},
    )
    listed = {process["id"]: process for process in response.json()}
    assert list(listed[pid])[-4:] == ALL_ASPECTS


def test_list_python_client_query_behaves_like_no_query(api: httpx.Client) -> None:
    pid = create(api, fixture())["id"]
    client_query = (
        "?domain=&filter=&reference=&id=&idpattern=&refpattern=&ownerpattern=&domainpattern="
    )
    with_query = api.get("/api/v3/process" + client_query)
    without = api.get("/api/v3/process")
    assert with_query.status_code == 200
    assert Counter(p["id"] for p in with_query.json()) == Counter(p["id"] for p in without.json())
    assert pid in {p["id"] for p in with_query.json()}


def test_list_query_values_are_unescaped_a_second_time(api: httpx.Client) -> None:
    pid = create(api, fixture(reference="acc ref plus"))["id"]
    # The wire carries "acc+ref+plus" literally (%2B); Core's second unescape makes it spaces.
    assert list_ids(api, reference="acc+ref+plus") == [pid]


def test_list_invalid_escape_in_query_value_means_absent(
    api: httpx.Client, four: list[str]
) -> None:
    # "%zz" survives the first decoding as text and fails Core's second one: the filter is
    # dropped, so the reference filter no longer narrows the list.
    listed = set(list_ids(api, reference="%zz", idpattern=four[0]))
    assert listed == {four[0]}


# --- case 16: patterns ------------------------------------------------------------------------


def test_list_idpattern_matches_ids(api: httpx.Client, prefix: str, four: list[str]) -> None:
    assert set(list_ids(api, idpattern=f"{prefix}foo_*")) == {four[0], four[2]}


def test_list_idpattern_star_inside(api: httpx.Client, prefix: str, four: list[str]) -> None:
    assert set(list_ids(api, idpattern=f"{prefix}*_bbb_*")) == {four[1]}


def test_list_refpattern_matches_references(
    api: httpx.Client, prefix: str, four: list[str]
) -> None:
    assert set(list_ids(api, refpattern=f"{prefix}bar_*")) == {four[1], four[3]}


def test_list_both_patterns_intersect(api: httpx.Client, prefix: str, four: list[str]) -> None:
    assert set(list_ids(api, idpattern=f"{prefix}foo_*", refpattern="*_ccc_*")) == {four[2]}


def test_list_invalid_pattern_is_empty(api: httpx.Client, four: list[str]) -> None:
    response = api.get("/api/v3/process", params={"idpattern": "["})
    assert response.status_code == 200
    assert response.json() == []


def test_list_pattern_star_crosses_slashes(api: httpx.Client, prefix: str) -> None:
    pid = create(api, fixture(id=f"{prefix}/a/b"))["id"]
    assert list_ids(api, idpattern=f"{prefix}*b") == [pid]


def test_list_pattern_question_mark_and_class(
    api: httpx.Client, prefix: str, four: list[str]
) -> None:
    assert set(list_ids(api, idpattern=f"{prefix}???_[ac]*")) == {four[0], four[2]}
    assert set(list_ids(api, idpattern=f"{prefix}{{foo,bar}}_[!a]*")) == {four[1], four[2], four[3]}


def test_list_pattern_then_id_list(api: httpx.Client, prefix: str, four: list[str]) -> None:
    assert list_ids(api, idpattern=f"{prefix}foo_*", id=four[1]) == []
    assert list_ids(api, idpattern=f"{prefix}foo_*", id=four[0]) == [four[0]]


# --- §3.1 step 4: the filter aspects ----------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "aspects"),
    [
        ("config", ["config"]),
        ("all", []),
        ("metadata", ["metadata"]),
        ("state,report", ["state", "report"]),
        ("", ALL_ASPECTS),
    ],
)
def test_list_filter_selects_aspects(api: httpx.Client, query: str, aspects: list[str]) -> None:
    pid = create(api, fixture())["id"]
    listed = api.get("/api/v3/process", params={"id": pid, "filter": query}).json()
    assert [list(process) for process in listed] == [
        ["id", "type", "reference", "created_at", "updated_at", *aspects]
    ]


def test_list_metadata_aspect_is_null_without_metadata(api: httpx.Client) -> None:
    pid = create(api, fixture())["id"]
    response = api.get("/api/v3/process", params={"id": pid, "filter": "metadata"})
    assert response.json()[0]["metadata"] is None
    assert '"metadata":null' in response.text


def test_list_metadata_aspect_carries_the_metadata(api: httpx.Client) -> None:
    pid = create(api, fixture())["id"]
    api.put(f"/api/v3/process/{pid}/metadata/foo", json={"a": 1})
    listed = api.get("/api/v3/process", params={"id": pid, "filter": "metadata"}).json()
    assert listed[0]["metadata"] == {"foo": {"a": 1}}


def test_list_items_match_get_process(api: httpx.Client) -> None:
    pid = create(api, fixture())["id"]
    listed = api.get("/api/v3/process", params={"id": pid, "filter": "config,metadata"}).json()
    single = api.get(f"/api/v3/process/{pid}", params={"filter": "config,metadata"}).json()
    assert listed == [single]


def test_list_repeated_query_parameter_uses_the_first_value(api: httpx.Client) -> None:
    pid = create(api, fixture(reference="acc-ref-first"))["id"]
    # Go's url.Values.Get returns the first of repeated values.
    response = api.get(
        "/api/v3/process", params=[("reference", "acc-ref-first"), ("reference", "zzz")]
    )
    assert [process["id"] for process in response.json()] == [pid]


def test_get_process_repeated_filter_uses_the_first_value(api: httpx.Client) -> None:
    pid = create(api, fixture())["id"]
    response = api.get(f"/api/v3/process/{pid}", params=[("filter", "config"), ("filter", "state")])
    assert "config" in response.json()
    assert "state" not in response.json()
