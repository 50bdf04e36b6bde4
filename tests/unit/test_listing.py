"""The process list selects exactly what Core's handler selects (§3.1, §1.4, §2.2)."""

from __future__ import annotations

import pytest

from ffmpeg_operator.core.listing import (
    ASPECTS,
    ListQuery,
    parse_filter,
    query_value,
    select_processes,
)

# §12 case 16: four processes whose reference equals their id.
FOUR = [(pid, pid) for pid in ("foo_aaa_1", "bar_bbb_2", "foo_ccc_3", "bar_ddd_4")]
ALL_FOUR = {pid for pid, _ in FOUR}
TEST = [("test", "")]


# --------------------------------------------------------------------------- case 15


def test_unknown_id_lists_nothing() -> None:
    assert select_processes(TEST, ListQuery(id="unknown")) == []


def test_duplicate_id_lists_the_process_twice() -> None:
    assert select_processes(TEST, ListQuery(id="test,test")) == ["test", "test"]


def test_reference_overrides_the_id_list() -> None:
    assert select_processes(TEST, ListQuery(id="test", reference="zzz")) == []


# --------------------------------------------------------------------------- case 16


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (ListQuery(idpattern="foo_*"), {"foo_aaa_1", "foo_ccc_3"}),
        (ListQuery(idpattern="*_bbb_*"), {"bar_bbb_2"}),
        (ListQuery(refpattern="bar_*"), {"bar_bbb_2", "bar_ddd_4"}),
        (ListQuery(idpattern="foo_*", refpattern="*_ccc_*"), {"foo_ccc_3"}),
        (ListQuery(idpattern="["), set()),
    ],
)
def test_case_16_patterns(query: ListQuery, expected: set[str]) -> None:
    assert set(select_processes(FOUR, query)) == expected


# --------------------------------------------------------------------------- the algorithm


def test_no_query_lists_everything() -> None:
    assert sorted(select_processes(FOUR, ListQuery())) == sorted(ALL_FOUR)


def test_result_keeps_input_order() -> None:
    assert select_processes(FOUR, ListQuery()) == [pid for pid, _ in FOUR]


def test_invalid_refpattern_lists_nothing_even_if_idpattern_matches() -> None:
    assert select_processes(FOUR, ListQuery(idpattern="*", refpattern="[z-a]")) == []


def test_patterns_intersect_with_id_and_reference_separately() -> None:
    processes = [("a1", "x"), ("a2", "y"), ("b1", "x")]
    assert select_processes(processes, ListQuery(idpattern="a*", refpattern="x")) == ["a1"]


def test_list_patterns_have_no_separator() -> None:
    processes = [("live/cam1", "site/a"), ("vod", "site")]
    assert select_processes(processes, ListQuery(idpattern="live*")) == ["live/cam1"]
    assert select_processes(processes, ListQuery(refpattern="site?a")) == ["live/cam1"]


def test_pattern_must_match_the_whole_id() -> None:
    assert select_processes(FOUR, ListQuery(idpattern="foo")) == []


def test_reference_filters_candidates_exactly() -> None:
    processes = [("a", "ref"), ("b", "ref2"), ("c", "ref")]
    assert select_processes(processes, ListQuery(reference="ref")) == ["a", "c"]


def test_reference_applies_after_patterns() -> None:
    processes = [("a", "ref"), ("b", "ref")]
    assert select_processes(processes, ListQuery(idpattern="b", reference="ref")) == ["b"]


def test_id_list_applies_after_patterns() -> None:
    query = ListQuery(id="foo_aaa_1,bar_bbb_2", idpattern="foo_*")
    assert select_processes(FOUR, query) == ["foo_aaa_1"]


def test_id_list_skips_unknown_ids_and_follows_candidate_order() -> None:
    query = ListQuery(id="bar_ddd_4,nope,foo_aaa_1")
    assert select_processes(FOUR, query) == ["foo_aaa_1", "bar_ddd_4"]


def test_id_list_is_not_trimmed() -> None:
    assert select_processes(TEST, ListQuery(id=" test")) == []


def test_id_list_of_only_commas_is_no_id_list() -> None:
    # Go's strings.FieldsFunc drops empty fields: "?id=," lists everything.
    assert select_processes(FOUR, ListQuery(id=",,")) == [pid for pid, _ in FOUR]


def test_empty_segments_in_id_list_are_skipped() -> None:
    assert select_processes(TEST, ListQuery(id=",test,,")) == ["test"]


def test_no_processes_list_nothing_even_for_invalid_patterns() -> None:
    assert select_processes([], ListQuery(idpattern="[")) == []


def test_processes_may_be_any_iterable() -> None:
    assert select_processes(iter(FOUR), ListQuery(idpattern="bar_*")) == [
        "bar_bbb_2",
        "bar_ddd_4",
    ]


# --------------------------------------------------------------------------- filter (§3.1.4)


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ("", ASPECTS),
        (",", ASPECTS),  # only empty segments: as if absent (FieldsFunc)
        ("config", {"config"}),
        ("state,report", {"state", "report"}),
        ("config,,metadata,", {"config", "metadata"}),
        ("config,config", {"config"}),
        ("all", set()),
        ("config, state", {"config"}),  # no trimming: " state" is unknown
        ("Config", set()),  # names are case-sensitive
        ("config,state,report,metadata", ASPECTS),
    ],
)
def test_filter_selects_aspects(filter_: str, expected: set[str]) -> None:
    assert parse_filter(filter_) == expected


def test_aspects_are_the_four_of_a_process() -> None:
    assert {"config", "state", "report", "metadata"} == ASPECTS


# --------------------------------------------------------------------------- query values (§1.4)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", ""),
        ("foo_*", "foo_*"),
        ("a+b", "a b"),
        ("a%2Cb", "a,b"),
        ("a%2cb", "a,b"),
        ("%2B", "+"),
        ("%25", "%"),
        ("caf%C3%A9", "café"),
        ("café", "café"),
        ("%", ""),
        ("a%", ""),
        ("a%2", ""),
        ("a%zz", ""),
        ("ok%41%g0", ""),
        ("%FF", "\ufffd"),
    ],
)
def test_query_value_is_unescaped_a_second_time(raw: str, expected: str) -> None:
    assert query_value(raw) == expected


def test_invalid_utf8_pattern_lists_nothing() -> None:
    # Go's glob lexer rejects the raw byte; here it arrives as U+FFFD and is rejected too.
    query = ListQuery(idpattern=query_value("foo%FF*"))
    assert select_processes(FOUR, query) == []


# --------------------------------------------------------------------------- from_query


def test_python_client_empty_params_are_no_query() -> None:
    params = {
        key: ""
        for key in (
            "domain",
            "filter",
            "reference",
            "id",
            "idpattern",
            "refpattern",
            "ownerpattern",
            "domainpattern",
        )
    }
    query = ListQuery.from_query(params)
    assert query == ListQuery()
    assert select_processes(FOUR, query) == [pid for pid, _ in FOUR]
    assert parse_filter(query.filter) == ASPECTS


def test_from_query_unescapes_values() -> None:
    query = ListQuery.from_query({"id": "a+b", "filter": "config%2Cstate", "idpattern": "%"})
    assert query == ListQuery(id="a b", filter="config,state")


def test_from_query_pairs_first_value_wins() -> None:
    pairs = [("id", "a"), ("id", "b"), ("reference", "r"), ("unknown", "x")]
    assert ListQuery.from_query(pairs) == ListQuery(id="a", reference="r")


def test_from_query_literal_plus_in_reference_is_a_space() -> None:
    processes = [("p", "a b"), ("q", "a+b")]
    query = ListQuery.from_query({"reference": "a+b"})
    assert select_processes(processes, query) == ["p"]
