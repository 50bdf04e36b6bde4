"""Glob patterns behave like gobwas/glob v0.2.3 as Core uses it (spec §8.2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ffmpeg_operator.core.glob import GlobError, compile_glob

# Every row of the §8.2 table: (pattern, separator, name, expected).
SPEC_TABLE = [
    ("**/a/b/**", "/", "/s3/a/b/test.m3u8", True),
    ("**/a/b/**", "/", "/a/b/test.m3u8", True),
    ("{/memfs,}/a/b/**", "/", "/a/b/test.m3u8", True),
    ("/*.ts", "/", "/a.ts", True),
    ("/*.ts", "/", "/x/a.ts", False),
    ("/**.ts", "/", "/x/y/a.ts", True),
    ("/abc*", "/", "/abc_1.ts", True),
    ("/abc*", "/", "/abc/1.ts", False),
    ("/abc**", "/", "/abc/1.ts", True),
    ("/abc**", "/", "/abc_data/foobar/42.txt", True),
    ("*.ts", "/", "/a.ts", False),
    ("/test*.(m3u8|ts)", "/", "/test_1.ts", False),
    ("/test*.{m3u8,ts}", "/", "/test_1.ts", True),
    ("/test*.{m3u8,ts}", "/", "/test.m3u8", True),
    ("/?.ts", "/", "/a.ts", True),
    ("/?.ts", "/", "/ab.ts", False),
    ("/a\\*b", "/", "/a*b", True),
    ("foo*", None, "foo/bar", True),
    ("foo_*", None, "foo_aaa_1", True),
    ("*_bbb_*", None, "bar_bbb_2", True),
]


@pytest.mark.parametrize(("pattern", "separator", "name", "expected"), SPEC_TABLE)
def test_spec_table_rows_match_as_core_does(
    pattern: str, separator: str | None, name: str, expected: bool
) -> None:
    assert compile_glob(pattern, separator).match(name) is expected


# Core's own glob tests with UUID paths (datarhei glob_test.go).
UUID_PATTERN = (
    "/*/5faffe88-b191-4950-a342-2e7cc93006b4/"
    "{ef09dd12-bdf5-428a-a3af-c96a690dcbec,e0d64f10-52ac-4baf-a1e6-a71085724b14}/**"
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "/memfs/5faffe88-b191-4950-a342-2e7cc93006b4/"
            "ef09dd12-bdf5-428a-a3af-c96a690dcbec/live/main.m3u8",
            True,
        ),
        (
            "/memfs/5faffe88-b191-4950-a342-2e7cc93006b4/"
            "500680aa-a920-4ef6-982d-2e964beae825/live/main.m3u8",
            False,
        ),
    ],
)
def test_alternatives_of_uuids_select_one_directory(name: str, expected: bool) -> None:
    assert compile_glob(UUID_PATTERN, "/").match(name) is expected


@pytest.mark.parametrize(
    ("pattern", "separator", "name", "expected"),
    [
        # "*" and "?" stop at the separator only when one is given.
        ("a?c", "/", "a/c", False),
        ("a?c", None, "a/c", True),
        ("a*c", "/", "a/x/c", False),
        ("a*c", None, "a/x/c", True),
        # "*" may be empty, "?" may not; the match is always anchored at both ends.
        ("/a*", "/", "/a", True),
        ("/a?", "/", "/a", False),
        ("/a", "/", "/ab", False),
        ("/a", "/", "x/a", False),
        # "***" is "**" followed by "*".
        ("/***", "/", "/x/y", True),
        # "." and other regex metacharacters are literal.
        ("a.c", None, "abc", False),
        ("a+c$^", None, "a+c$^", True),
        ("(x)|y", None, "(x)|y", True),
        ("(x)|y", None, "y", False),
        # Matching is exact text: no case folding, "\n" is an ordinary character.
        ("ABC", None, "abc", False),
        ("a*c", None, "a\nc", True),
        ("a?c", None, "a\nc", True),
        # The empty pattern matches only the empty name.
        ("", None, "", True),
        ("", None, "a", False),
    ],
)
def test_wildcards(pattern: str, separator: str | None, name: str, expected: bool) -> None:
    assert compile_glob(pattern, separator).match(name) is expected


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("/[abc].ts", "/b.ts", True),
        ("/[abc].ts", "/d.ts", False),
        ("/[a-c].ts", "/b.ts", True),
        ("/[a-c].ts", "/d.ts", False),
        ("/[!a-c].ts", "/d.ts", True),
        ("/[!a-c].ts", "/b.ts", False),
        ("/[!x].ts", "/y.ts", True),
        ("/[!x].ts", "/x.ts", False),
        # A class is always exactly one character.
        ("/[abc].ts", "/ab.ts", False),
        ("/[!x].ts", "/.ts", False),
        # Classes ignore the separator (gobwas List/Range matchers take no separators).
        ("/a[!x]b", "/a/b", True),
        ("/a[/]b", "/a/b", True),
        # Only the first character may form a range; "ab-c" is a plain list a, b, -, c.
        ("[ab-c]", "-", True),
        ("[ab-c]", "b", True),
        # A leading "-" is literal too.
        ("[-a]", "-", True),
        # "!" negates only in first place; "[!!]" is "not !".
        ("[!!]", "!", False),
        ("[!!]", "a", True),
        # "^" is not a negation in gobwas.
        ("[^a]", "^", True),
        ("[^a]", "b", False),
        # Inside a class, wildcards, braces and commas are ordinary characters.
        ("[*?{,}]", "?", True),
        ("[*?{,}]", ",", True),
        ("[*?{,}]", "x", False),
        # An escaped "]" belongs to the list.
        ("[\\]x]", "]", True),
        ("[\\]x]", "x", True),
        # A range may end in any character not below its start.
        ("[a-a]", "a", True),
        # Regex-special characters in a list are literal.
        ("[\\\\]", "\\", True),
        ("[.]", "a", False),
        ("[&~]", "~", True),
        # "]" in first place followed by "-" starts a range ("]".."a" holds "^").
        ("[]-a]", "^", True),
    ],
)
def test_character_classes(pattern: str, name: str, expected: bool) -> None:
    assert compile_glob(pattern, "/").match(name) is expected


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("{a,b}", "a", True),
        ("{a,b}", "b", True),
        ("{a,b}", "ab", False),
        ("{a,b}", "c", False),
        # Alternatives may be empty and may hold wildcards of their own.
        ("x{,y}", "x", True),
        ("x{,y}", "xy", True),
        ("/{*.ts,seg/**}", "/a.ts", True),
        ("/{*.ts,seg/**}", "/seg/x/y.m4s", True),
        ("/{*.ts,seg/**}", "/x/a.ts", False),
        # Nested alternatives.
        ("{a,{b,c}d}", "cd", True),
        ("{a,{b,c}d}", "a", True),
        ("{a,{b,c}d}", "c", False),
        ("{}", "", True),
        # "," and "}" are literal outside braces.
        ("a,b", "a,b", True),
        ("a}b", "a}b", True),
        # Escaped "," and "}" inside braces are literal.
        ("{a\\,b,c}", "a,b", True),
        ("{a\\}b,c}", "a}b", True),
        ("{a\\}b,c}", "c", True),
        # A class inside braces is a class: its "," does not split alternatives.
        ("{[,x],y}", ",", True),
        ("{[,x],y}", "y", True),
    ],
)
def test_alternatives(pattern: str, name: str, expected: bool) -> None:
    assert compile_glob(pattern, "/").match(name) is expected


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("\\*", "*", True),
        ("\\*", "a", False),
        ("\\?", "?", True),
        ("\\?", "a", False),
        ("\\[a]", "[a]", True),
        ("\\{a,b}", "{a,b}", True),
        ("\\\\", "\\", True),
        # Escaping an ordinary character is harmless.
        ("\\a", "a", True),
        # A trailing lone backslash is dropped, as Go's lexer does.
        ("ab\\", "ab", True),
        ("ab\\", "ab\\", False),
    ],
)
def test_escapes(pattern: str, name: str, expected: bool) -> None:
    assert compile_glob(pattern, None).match(name) is expected


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("{a,b", "a", True),
        ("{a,b", "b", True),
        ("{a,b", "{a,b", False),
        ("x{a,{b", "xb", True),
        ("{", "", True),
    ],
)
def test_unclosed_brace_ends_with_the_pattern_as_gobwas_v023_does(
    pattern: str, name: str, expected: bool
) -> None:
    assert compile_glob(pattern, None).match(name) is expected


@pytest.mark.parametrize(
    "pattern",
    [
        "[",
        "/a[",
        "[a",
        "[!",
        "[!a",
        "[a-",
        "[a-z",
        "[]",
        "[!]",
        "[\\",
        "[a-zA-Z]",
        "[z-a]",
        "[a-]",
        "[a\\]",
        "{a,[}",
        "a\ufffdb",
    ],
)
def test_invalid_patterns_raise_glob_error(pattern: str) -> None:
    with pytest.raises(GlobError):
        compile_glob(pattern, "/")


def test_glob_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unexpected end of input"):
        compile_glob("[", None)


def test_invalid_pattern_raises_again_when_cached() -> None:
    for _ in range(2):
        with pytest.raises(GlobError):
            compile_glob("[b-a]", None)


def test_compiled_patterns_are_cached() -> None:
    assert compile_glob("/cache/*.ts", "/") is compile_glob("/cache/*.ts", "/")


def test_separator_is_part_of_the_cache_key() -> None:
    assert compile_glob("a*", "/").match("a/b") is False
    assert compile_glob("a*", None).match("a/b") is True


def test_separator_must_be_one_character() -> None:
    with pytest.raises(ValueError, match="one character"):
        compile_glob("a", "//")


def test_a_regex_special_separator_is_escaped() -> None:
    glob = compile_glob("a*", "]")
    assert glob.match("axy") is True
    assert glob.match("a]") is False


_TEXT = st.text(alphabet=st.sampled_from("ab/.-_()|+$^"), max_size=12)


@given(_TEXT)
def test_escaping_every_character_matches_exactly_that_text(text: str) -> None:
    pattern = "".join("\\" + char for char in text)
    glob = compile_glob(pattern, "/")
    assert glob.match(text)
    assert not glob.match(text + "x")


@given(_TEXT, _TEXT)
def test_super_matches_any_suffix(prefix: str, rest: str) -> None:
    pattern = "".join("\\" + char for char in prefix) + "**"
    assert compile_glob(pattern, "/").match(prefix + rest)


@given(_TEXT)
def test_star_with_separator_matches_exactly_the_separator_free_names(name: str) -> None:
    assert compile_glob("*", "/").match(name) is ("/" not in name)
