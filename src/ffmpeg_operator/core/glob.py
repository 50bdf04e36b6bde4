"""Glob patterns with the semantics of gobwas/glob v0.2.3, the library datarhei Core uses (§8.2).

Core matches cleanup rules against file names with ``/`` as separator and the list filters
``idpattern``/``refpattern`` with no separator. Syntax:

- ``*`` any run of characters except the separator, ``**`` any run including it;
- ``?`` exactly one character except the separator;
- ``[abc]`` one of the listed characters, ``[a-z]`` one character in the range, ``[!...]`` the
  negation of either. A class holds *either* a list *or* one range (``[a-zA-Z]`` is invalid),
  and classes ignore the separator (``[!x]`` also matches ``/``);
- ``{a,b}`` alternatives, nestable, each a pattern of its own (``{*.ts,x/**}``);
- ``\\c`` the literal character ``c``;
- everything else, including ``(``, ``|``, ``)`` and ``]``, is literal. ``,`` and ``}`` are
  literal outside braces.

Patterns compile to an anchored :mod:`re` expression. Only the syntax is taken from the Go
lexer/parser; matching follows the documented meaning, not the v0.2.3 optimiser's bugs (for
example ``start*art`` matching ``start``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

__all__ = ["Glob", "GlobError", "compile_glob"]


class GlobError(ValueError):
    """A pattern gobwas/glob refuses to compile (Core then matches nothing)."""


@dataclass(frozen=True)
class Glob:
    """A compiled pattern; :meth:`match` tests a whole name."""

    pattern: str
    separator: str | None
    regex: re.Pattern[str]

    def match(self, name: str) -> bool:
        """Whether the whole of ``name`` matches the pattern."""
        return self.regex.fullmatch(name) is not None


def compile_glob(pattern: str, separator: str | None = None) -> Glob:
    """Compile ``pattern``; ``separator`` is the character ``*`` and ``?`` do not cross.

    Raises :class:`GlobError` for an invalid pattern. Results (and failures) are cached, as
    the cleanup loop evaluates the same rules every second.
    """
    compiled = _compile_cached(pattern, separator)
    if isinstance(compiled, GlobError):
        raise GlobError(str(compiled))
    return compiled


@functools.lru_cache(maxsize=4096)
def _compile_cached(pattern: str, separator: str | None) -> Glob | GlobError:
    if separator is not None and len(separator) != 1:
        raise ValueError(f"separator must be one character, got {separator!r}")
    try:
        source = _Translator(pattern, separator).translate()
    except GlobError as error:
        return error
    return Glob(pattern, separator, re.compile(source, re.DOTALL))


_TEXT_BREAKERS = frozenset("?*[{")
_TERMS_BREAKERS = _TEXT_BREAKERS | {"}", ","}


class _Translator:
    """Reads a pattern the way gobwas's lexer does and writes the equivalent regex."""

    def __init__(self, pattern: str, separator: str | None) -> None:
        if "\ufffd" in pattern:
            # Go's lexer reads U+FFFD as utf8.RuneError and gives up on the pattern.
            raise GlobError("could not read rune")
        self._pattern = pattern
        self._pos = 0
        self._depth = 0  # nesting level of open "{"
        if separator is None:
            self._any = ".*"
            self._single = "."
        else:
            self._any = f"[^{re.escape(separator)}]*"
            self._single = f"[^{re.escape(separator)}]"

    def _read(self) -> str | None:
        if self._pos >= len(self._pattern):
            return None
        char = self._pattern[self._pos]
        self._pos += 1
        return char

    def _peek(self) -> str | None:
        if self._pos >= len(self._pattern):
            return None
        return self._pattern[self._pos]

    def translate(self) -> str:
        parts: list[str] = []
        while (char := self._read()) is not None:
            if char == "{":
                self._depth += 1
                parts.append("(?:")
            elif char == "," and self._depth:
                parts.append("|")
            elif char == "}" and self._depth:
                self._depth -= 1
                parts.append(")")
            elif char == "[":
                parts.append(self._char_class())
            elif char == "?":
                parts.append(self._single)
            elif char == "*":
                if self._peek() == "*":
                    self._pos += 1
                    parts.append(".*")
                else:
                    parts.append(self._any)
            else:
                self._pos -= 1
                breakers = _TERMS_BREAKERS if self._depth else _TEXT_BREAKERS
                parts.append(re.escape(self._text(breakers)))
        # gobwas v0.2.3 does not reject a missing "}": the open alternatives simply end with
        # the pattern, so "{a,b" means "{a,b}".
        parts.append(")" * self._depth)
        return "".join(parts)

    def _text(self, breakers: frozenset[str]) -> str:
        """Literal text up to the next unescaped breaker; ``\\`` escapes any character."""
        data: list[str] = []
        escaped = False
        while (char := self._read()) is not None:
            if not escaped:
                if char == "\\":
                    escaped = True
                    continue
                if char in breakers:
                    self._pos -= 1
                    break
            escaped = False
            data.append(char)
        # A trailing lone "\" is dropped, as in Go.
        return "".join(data)

    def _char_class(self) -> str:
        """Everything after ``[``: ``!``? then either one ``lo-hi`` range or a character list."""
        negated = False
        low: str | None = None
        high: str | None = None
        chars = ""
        want_high = False
        while True:
            char = self._read()
            if char is None:
                raise GlobError("unexpected end of input")
            if high is not None or chars:
                if char != "]":
                    raise GlobError("expected close range character")
                break
            if want_high:
                high = char
                continue
            if not negated and char == "!":
                negated = True
                continue
            if self._peek() == "-":
                self._pos += 1
                low = char
                want_high = True
                continue
            self._pos -= 1
            chars = self._text(frozenset("]"))
            if not chars:
                # "[]", "[!]" (and "[" + a lone "\\"): neither a list nor a range.
                raise GlobError("could not parse range")
        prefix = "[^" if negated else "["
        if low is not None and high is not None:
            if high < low:
                raise GlobError(f"hi character '{high}' should be greater than lo '{low}'")
            return f"{prefix}{re.escape(low)}-{re.escape(high)}]"
        return prefix + "".join(re.escape(c) for c in chars) + "]"
