"""Kubernetes names for free-text datarhei IDs (design §3)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ffmpeg_operator.kube.names import (
    MAX_CR_NAME,
    MAX_RUN,
    cr_name,
    id_hash,
    pod_name,
    run_from_pod_name,
)

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
LABEL_VALUE = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")

AWKWARD_IDS = [
    "a:b",
    "x/y",
    "restreamer-ui:ingest:c9e4d1a2-7b7f-4b0e-9d55-0c1f3e2d4a6b",
    "abc:snapshot",
    "Übertragung-Köln",
    "日本語のストリーム",
    "🎥",
    "x" * 200,
    "ab-" * 70,
    "-leading-dash",
    "trailing-dash-",
    "UPPER",
    "with space",
    "a--b",
]


@pytest.mark.parametrize("process_id", ["abc", "stream-1", "a", "0", "x" * MAX_CR_NAME])
def test_dns_label_ids_are_their_own_name(process_id: str) -> None:
    assert cr_name(process_id) == process_id


@pytest.mark.parametrize("process_id", AWKWARD_IDS)
def test_other_ids_map_to_a_dns_label_that_leaves_room_for_the_run(process_id: str) -> None:
    name = cr_name(process_id)
    assert DNS_LABEL.fullmatch(name)
    assert len(name) <= MAX_CR_NAME
    assert len(pod_name(name, MAX_RUN)) <= 63
    assert name.count("--") == 1


def test_a_mapped_name_keeps_a_readable_slug() -> None:
    assert cr_name("restreamer-ui:ingest:abc").startswith("restreamer-ui-ingest-abc--")
    assert cr_name("Übertragung-Köln").startswith("ubertragung-koln--")
    assert cr_name("日本語").startswith("x--")


def test_an_id_too_long_for_a_name_is_mapped() -> None:
    name = cr_name("x" * (MAX_CR_NAME + 1))
    assert name != "x" * (MAX_CR_NAME + 1)
    assert len(name) <= MAX_CR_NAME


@pytest.mark.parametrize(
    "ids",
    [
        ("a:b", "a/b", "a b", "a.b", "A:B", "a-b"),
        ("Stream", "stream", "STREAM", "stream."),
        ("x" * 200, "x" * 199 + "y", "x" * 201),
        ("a--b", "a-b"),
    ],
)
def test_ids_differing_by_case_or_punctuation_get_different_names(ids: tuple[str, ...]) -> None:
    names = [cr_name(process_id) for process_id in ids]
    assert len(set(names)) == len(ids)


def test_an_id_that_looks_like_a_mapped_name_is_mapped_itself() -> None:
    mapped = cr_name("a:b")
    # Taken literally it would collide with the name of "a:b".
    assert cr_name(mapped) != mapped


@given(st.text(min_size=1, max_size=80), st.text(min_size=1, max_size=80))
def test_distinct_ids_never_share_a_name(first: str, second: str) -> None:
    if first != second:
        assert cr_name(first) != cr_name(second)


@given(st.text(min_size=1, max_size=300))
def test_every_id_has_a_valid_name_and_hash_label(process_id: str) -> None:
    assert DNS_LABEL.fullmatch(cr_name(process_id))
    assert len(cr_name(process_id)) <= MAX_CR_NAME
    label = id_hash(process_id)
    assert len(label) <= 63 and LABEL_VALUE.fullmatch(label)


def test_the_mapping_is_deterministic() -> None:
    assert cr_name("a:b") == cr_name("a:b")
    assert id_hash("a:b") == id_hash("a:b") != id_hash("a/b")


def test_an_empty_id_has_no_name() -> None:
    with pytest.raises(ValueError):
        cr_name("")


@pytest.mark.parametrize("run", [1, 7, 123, MAX_RUN])
def test_pod_name_round_trips_to_the_run_number(run: int) -> None:
    name = pod_name("stream", run)
    assert name == f"stream-{run}"
    assert run_from_pod_name("stream", name) == run


@pytest.mark.parametrize(
    "pod", ["stream", "stream-", "stream-x", "stream-01", "stream-1-2", "other-1"]
)
def test_other_pods_are_not_runs_of_the_process(pod: str) -> None:
    assert run_from_pod_name("stream", pod) is None


def test_pods_of_a_process_whose_name_extends_another_are_told_apart() -> None:
    assert run_from_pod_name("a", pod_name("a-1", 2)) is None


@pytest.mark.parametrize("run", [0, -1, MAX_RUN + 1])
def test_run_numbers_out_of_range_are_refused(run: int) -> None:
    with pytest.raises(ValueError):
        pod_name("stream", run)
