"""Request body binding exactly as datarhei Core does it (spec §1.2, §3.2, §3.3).

Core reads a body with Go's ``encoding/json`` into a struct that is *prefilled* (defaults on
POST, the stored config on PUT), then checks go-playground ``validate`` tags. The outcome of
that is observable through the API, so it is reproduced here as pure functions:

* syntax check first, over the whole body (Go's scanner), with Go's messages and offsets;
* then the decode proper: keys match fields case-insensitively, unknown keys are skipped,
  duplicate keys are applied in order (last wins), ``null`` leaves scalars and structs alone
  but empties slices, and a JSON array decodes element *i* into the old element *i* (merge);
* a type mismatch does not stop the decode, the first one is reported
  (``UnmarshalTypeError``) with Go's text and Core's ``FormatError`` position;
* then the validation tags (``required``, ``oneof``) with go-playground's text.

Positions ("line L, character C") use Core's counting: the byte *after* the offending one for
syntax errors, the byte after a mistyped literal, the byte after the ``{``/``[`` of a mistyped
object/array; after a newline the newline itself counts as character 1. Strings are decoded like
Go: invalid UTF-8 bytes and unpaired surrogate escapes become U+FFFD (one per byte).

Messages and positions follow the Go sources (encoding/json of Go 1.19-1.23, go-playground
validator v10, Core's encoding/json.FormatError); where the spec shows a real Core answer the
tests pin it. Known difference: numbers decoded into free-form values (:func:`parse_json`,
``Any`` fields) keep Python's int/float distinction where Go has float64, and a number beyond
float64 there becomes ``inf`` where Go reports a type error.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from ffmpeg_operator.core.errors import DecodeError
from ffmpeg_operator.core.ids import fill_io_ids, new_id
from ffmpeg_operator.core.models import Cleanup, Command, Limits, ProcessConfig

__all__ = [
    "bind_command",
    "bind_login",
    "bind_process_config",
    "check_request",
    "decode_into",
    "has_inputs_and_outputs",
    "parse_json",
]

# --------------------------------------------------------------------------- request checks


def check_request(content_length: int | None, content_type: str | None) -> None:
    """Core's checks before it reads a body. ``content_length=None`` is a chunked body."""
    if content_length == 0:
        raise DecodeError("request doesn't contain any content")
    if not (content_type or "").startswith("application/json"):
        raise DecodeError("request doesn't contain JSON content")


# --------------------------------------------------------------------------- syntax (scanner)

_SPACE = frozenset(b" \t\r\n")
_DIGITS = frozenset(b"0123456789")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_SIMPLE_ESCAPES = frozenset(b'bfnrt\\/"')
#: Go's scanner refuses documents nested deeper than this.
_MAX_DEPTH = 10000

_IN_OBJECT_KEY, _IN_OBJECT_VALUE, _IN_ARRAY = range(3)


class _GoSyntaxError(Exception):
    """Go's ``*json.SyntaxError``: the message and the scanner's byte count at the failure."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


def _quote_char(byte: int) -> str:
    # How Go's scanner names a byte in its messages: 'x', '\n', '\x00', '\u0080', 'é'.
    named = {
        0x27: "'\\''",
        0x22: "'\"'",
        0x5C: "'\\\\'",
        0x07: "'\\a'",
        0x08: "'\\b'",
        0x0C: "'\\f'",
        0x0A: "'\\n'",
        0x0D: "'\\r'",
        0x09: "'\\t'",
        0x0B: "'\\v'",
    }
    if byte in named:
        return named[byte]
    if byte < 0x20 or byte == 0x7F:
        return f"'\\x{byte:02x}'"
    char = chr(byte)  # Go turns the byte into the rune U+00XX before quoting it
    return f"'{char}'" if char.isprintable() else f"'\\u{byte:04x}'"


class _Scanner:
    """Go's JSON validity check, one byte at a time; raises :class:`_GoSyntaxError`.

    Each state is a method handling one byte; ``self.step`` is the current state. The context
    words of the messages ("after object key", ...) are Go's, because clients see them.
    """

    def __init__(self) -> None:
        self.step: Callable[[int], None] = self._begin_value
        self.stack: list[int] = []
        self.end_top = False
        self.count = 0

    def check(self, data: bytes) -> None:
        for byte in data:
            self.count += 1
            self.step(byte)
        if self.end_top:
            return
        # Go feeds a space at the end, which completes a top-level number (or fails on "1.").
        self.step(ord(" "))
        if not self.end_top:
            raise _GoSyntaxError("unexpected end of JSON input", self.count)

    def _fail(self, byte: int, context: str) -> None:
        raise _GoSyntaxError(f"invalid character {_quote_char(byte)} {context}", self.count)

    def _push(self, byte: int, state: int) -> None:
        self.stack.append(state)
        if len(self.stack) > _MAX_DEPTH:
            self._fail(byte, "exceeded max depth")

    def _pop(self) -> None:
        self.stack.pop()
        if self.stack:
            self.step = self._end_value
        else:
            self.step = self._end_of_top
            self.end_top = True

    # values ----------------------------------------------------------------------------------

    def _begin_value_or_empty(self, byte: int) -> None:
        if byte in _SPACE:
            return
        if byte == ord("]"):
            self._end_value(byte)
        else:
            self._begin_value(byte)

    def _begin_value(self, byte: int) -> None:
        if byte in _SPACE:
            return
        if byte == ord("{"):
            self.step = self._begin_key_or_empty
            self._push(byte, _IN_OBJECT_KEY)
        elif byte == ord("["):
            self.step = self._begin_value_or_empty
            self._push(byte, _IN_ARRAY)
        elif byte == ord('"'):
            self.step = self._in_string
        elif byte == ord("-"):
            self.step = self._after_minus
        elif byte == ord("0"):
            self.step = self._after_zero
        elif byte in _DIGITS:
            self.step = self._in_integer
        elif byte == ord("t"):
            self.step = self._literal("true", 1)
        elif byte == ord("f"):
            self.step = self._literal("false", 1)
        elif byte == ord("n"):
            self.step = self._literal("null", 1)
        else:
            self._fail(byte, "looking for beginning of value")

    def _end_value(self, byte: int) -> None:
        if not self.stack:
            self.step = self._end_of_top
            self.end_top = True
            self._end_of_top(byte)
            return
        if byte in _SPACE:
            self.step = self._end_value
            return
        where = self.stack[-1]
        if where == _IN_OBJECT_KEY:
            if byte == ord(":"):
                self.stack[-1] = _IN_OBJECT_VALUE
                self.step = self._begin_value
            else:
                self._fail(byte, "after object key")
        elif where == _IN_OBJECT_VALUE:
            if byte == ord(","):
                self.stack[-1] = _IN_OBJECT_KEY
                self.step = self._begin_key
            elif byte == ord("}"):
                self._pop()
            else:
                self._fail(byte, "after object key:value pair")
        elif byte == ord(","):
            self.step = self._begin_value
        elif byte == ord("]"):
            self._pop()
        else:
            self._fail(byte, "after array element")

    def _end_of_top(self, byte: int) -> None:
        if byte not in _SPACE:
            self._fail(byte, "after top-level value")

    # objects ---------------------------------------------------------------------------------

    def _begin_key_or_empty(self, byte: int) -> None:
        if byte in _SPACE:
            return
        if byte == ord("}"):
            self.stack[-1] = _IN_OBJECT_VALUE
            self._end_value(byte)
        else:
            self._begin_key(byte)

    def _begin_key(self, byte: int) -> None:
        if byte in _SPACE:
            return
        if byte == ord('"'):
            self.step = self._in_string
        else:
            self._fail(byte, "looking for beginning of object key string")

    # strings ---------------------------------------------------------------------------------

    def _in_string(self, byte: int) -> None:
        if byte == ord('"'):
            self.step = self._end_value
        elif byte == ord("\\"):
            self.step = self._in_escape
        elif byte < 0x20:
            self._fail(byte, "in string literal")

    def _in_escape(self, byte: int) -> None:
        if byte in _SIMPLE_ESCAPES:
            self.step = self._in_string
        elif byte == ord("u"):
            self.step = self._unicode_escape(4)
        else:
            self._fail(byte, "in string escape code")

    def _unicode_escape(self, remaining: int) -> Callable[[int], None]:
        def state(byte: int) -> None:
            if byte not in _HEX:
                self._fail(byte, "in \\u hexadecimal character escape")
            self.step = self._in_string if remaining == 1 else self._unicode_escape(remaining - 1)

        return state

    # numbers ---------------------------------------------------------------------------------

    def _after_minus(self, byte: int) -> None:
        if byte == ord("0"):
            self.step = self._after_zero
        elif byte in _DIGITS:
            self.step = self._in_integer
        else:
            self._fail(byte, "in numeric literal")

    def _in_integer(self, byte: int) -> None:
        if byte not in _DIGITS:
            self._after_zero(byte)

    def _after_zero(self, byte: int) -> None:
        if byte == ord("."):
            self.step = self._after_dot
        elif byte in b"eE":
            self.step = self._after_e
        else:
            self._end_value(byte)

    def _after_dot(self, byte: int) -> None:
        if byte in _DIGITS:
            self.step = self._in_fraction
        else:
            self._fail(byte, "after decimal point in numeric literal")

    def _in_fraction(self, byte: int) -> None:
        if byte in b"eE":
            self.step = self._after_e
        elif byte not in _DIGITS:
            self._end_value(byte)

    def _after_e(self, byte: int) -> None:
        if byte in b"+-":
            self.step = self._after_exponent_sign
        else:
            self._after_exponent_sign(byte)

    def _after_exponent_sign(self, byte: int) -> None:
        if byte in _DIGITS:
            self.step = self._in_exponent
        else:
            self._fail(byte, "in exponent of numeric literal")

    def _in_exponent(self, byte: int) -> None:
        if byte not in _DIGITS:
            self._end_value(byte)

    # true / false / null ---------------------------------------------------------------------

    def _literal(self, word: str, index: int) -> Callable[[int], None]:
        def state(byte: int) -> None:
            expected = word[index]
            if byte != ord(expected):
                self._fail(byte, f"in literal {word} (expecting {_quote_char(ord(expected))})")
            last = index + 1 == len(word)
            self.step = self._end_value if last else self._literal(word, index + 1)

        return state


# --------------------------------------------------------------------------- syntax tree

_Kind = Literal["object", "array", "string", "number", "true", "false", "null"]


@dataclass(slots=True)
class _Node:
    """A JSON value with the byte offsets Go reports errors at."""

    kind: _Kind
    start: int
    end: int = 0
    text: str = ""  # decoded string, or the number literal as written
    items: list[_Node] = field(default_factory=list)
    members: list[tuple[str, _Node]] = field(default_factory=list)


_SURROGATE_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "\\": "\\", "/": "/", '"': '"'}


def _utf8(raw: bytes) -> str:
    # Go replaces every byte of an invalid UTF-8 sequence by U+FFFD; surrogateescape gives one
    # marker per such byte, which we then replace.
    text = raw.decode("utf-8", "surrogateescape")
    return _SURROGATE_ESCAPED_BYTE.sub("\ufffd", text)


def _hex4(raw: bytes, at: int) -> int | None:
    if raw[at : at + 2] != b"\\u" or len(raw) < at + 6:
        return None
    return int(raw[at + 2 : at + 6], 16)


def _unquote(raw: bytes) -> str:
    """The text of a string literal (without quotes) as Go decodes it."""
    if b"\\" not in raw:
        return _utf8(raw)
    parts: list[str] = []
    at = 0
    while True:
        slash = raw.find(b"\\", at)
        if slash < 0:
            parts.append(_utf8(raw[at:]))
            return "".join(parts)
        parts.append(_utf8(raw[at:slash]))
        letter = chr(raw[slash + 1])
        if letter != "u":
            parts.append(_ESCAPES[letter])
            at = slash + 2
            continue
        code = int(raw[slash + 2 : slash + 6], 16)
        at = slash + 6
        if 0xD800 <= code < 0xE000:
            low = _hex4(raw, at)
            if code < 0xDC00 and low is not None and 0xDC00 <= low < 0xE000:
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                at += 6
            else:
                code = 0xFFFD  # an unpaired surrogate
        parts.append(chr(code))


def _skip_space(data: bytes, at: int) -> int:
    while at < len(data) and data[at] in _SPACE:
        at += 1
    return at


def _read_string(data: bytes, at: int) -> tuple[str, int]:
    """The string literal starting at ``at`` (a quote) and the offset after it."""
    end = at + 1
    while data[end] != ord('"'):
        end += 2 if data[end] == ord("\\") else 1
    return _unquote(data[at + 1 : end]), end + 1


_NUMBER_BYTES = frozenset(b"0123456789+-.eE")


def _read_scalar(data: bytes, at: int) -> _Node:
    first = data[at]
    if first == ord('"'):
        text, end = _read_string(data, at)
        return _Node("string", at, end, text)
    if first == ord("t"):
        return _Node("true", at, at + 4)
    if first == ord("f"):
        return _Node("false", at, at + 5)
    if first == ord("n"):
        return _Node("null", at, at + 4)
    end = at
    while end < len(data) and data[end] in _NUMBER_BYTES:
        end += 1
    return _Node("number", at, end, data[at:end].decode("ascii"))


def _build_tree(data: bytes) -> _Node:
    """The tree of a document :class:`_Scanner` accepted. Iterative: nesting can be deep."""
    open_nodes: list[_Node] = []
    keys: list[str] = []  # the key waiting for its value, per open object
    at = _skip_space(data, 0)
    while True:
        if data[at] in b"{[":
            node = _Node("object" if data[at] == ord("{") else "array", at)
            at = _skip_space(data, at + 1)
            if data[at] not in b"}]":
                open_nodes.append(node)
                if node.kind == "object":
                    key, at = _read_string(data, at)
                    keys.append(key)
                    at = _skip_space(data, _skip_space(data, at) + 1)
                continue
            node.end = at + 1
            at += 1
        else:
            node = _read_scalar(data, at)
            at = node.end
        # Attach the finished value; close every container that ends right after it.
        while True:
            if not open_nodes:
                return node
            parent = open_nodes[-1]
            if parent.kind == "array":
                parent.items.append(node)
            else:
                parent.members.append((keys.pop(), node))
            at = _skip_space(data, at)
            if data[at] == ord(","):
                at = _skip_space(data, at + 1)
                if parent.kind == "object":
                    key, at = _read_string(data, at)
                    keys.append(key)
                    at = _skip_space(data, _skip_space(data, at) + 1)
                break
            parent.end = at + 1
            at += 1
            node = open_nodes.pop()


def _scalar_value(node: _Node) -> Any:
    if node.kind == "string":
        return node.text
    if node.kind == "number":
        # Go has float64 here; an integer is kept exact only while it fits in int64 (what the
        # JSON encoder and every reader can take), beyond that it is a float64 like in Go.
        # (At most 19 digits: int() refuses very long texts, and no longer one fits anyway.)
        if re.fullmatch(r"-?\d{1,19}", node.text) and int(node.text) in _INT64_RANGE:
            return int(node.text)
        return float(node.text)
    return {"true": True, "false": False, "null": None}[node.kind]


def _plain(root: _Node) -> Any:
    """Python value of a subtree (Go's decoding into ``interface{}``), without recursion."""
    if root.kind not in ("object", "array"):
        return _scalar_value(root)
    result: Any = {} if root.kind == "object" else []
    pending: list[tuple[_Node, Any]] = [(root, result)]
    while pending:
        node, target = pending.pop()
        pairs: Iterator[tuple[Any, _Node]] = (
            iter(node.members) if node.kind == "object" else enumerate(node.items)
        )
        for key, child in pairs:
            value: Any
            if child.kind in ("object", "array"):
                value = {} if child.kind == "object" else []
                pending.append((child, value))  # filled later, in place
            else:
                value = _scalar_value(child)
            if isinstance(target, list):
                target.append(value)
            else:
                target[key] = value
    return result


def _line_and_character(data: bytes, offset: int) -> tuple[int, int]:
    # Core's counting (encoding/json.lineAndCharacter), including its quirk that a newline is
    # character 1 of the line it starts.
    line, character = 1, 0
    for index, byte in enumerate(data):
        if byte == 0x0A:
            line += 1
            character = 0
        character += 1
        if index == offset:
            break
    return line, character


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body


def _parse(data: bytes) -> _Node:
    """The tree of ``data`` with Go's byte offsets, or Go's syntax error."""
    try:
        _Scanner().check(data)
    except _GoSyntaxError as problem:
        line, character = _line_and_character(data, problem.offset)
        raise DecodeError(
            f"syntax error at line {line}, character {character}: {problem.message}"
        ) from None
    return _build_tree(data)


class _Number(str):
    """A number literal as written (the fast path keeps it like :class:`_Node` does)."""


class _Pairs(list[tuple[str, Any]]):
    """An object's members in order, duplicates included (Go applies each)."""


def _refuse(constant: str) -> Any:
    raise ValueError(f"not JSON: {constant}")


# Escapes of UTF-16 surrogates: Go pairs and replaces them by its own rules (see _unquote).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _fast_tree(data: bytes) -> _Node | None:
    """The tree of a well-formed document by the C JSON parser, without byte offsets.

    The scanner and tree builder above walk the body byte by byte in Python, the larger part
    of a POST (bench/README.md). Where Go and Python read a document alike (valid UTF-8, no
    surrogate escapes, no NaN/Infinity, not nested deeper than Python's recursion limit) this
    gives the same tree; anything else (``None``) takes the exact path, as does every type
    error, whose message needs the offsets.
    """
    if _SURROGATE_ESCAPE.search(data):
        return None
    try:
        value = json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_Pairs,
            parse_int=_Number,
            parse_float=_Number,
            parse_constant=_refuse,
        )
        return _node_of(value)
    except (ValueError, RecursionError):
        return None


def _node_of(value: Any) -> _Node:
    if isinstance(value, _Pairs):
        return _Node("object", 0, members=[(key, _node_of(item)) for key, item in value])
    if isinstance(value, list):
        return _Node("array", 0, items=[_node_of(item) for item in value])
    if isinstance(value, _Number):
        return _Node("number", 0, text=str(value))
    if isinstance(value, str):
        return _Node("string", 0, text=value)
    if value is None:
        return _Node("null", 0)
    return _Node("true" if value else "false", 0)


def parse_json(body: bytes | str) -> Any:
    """Any JSON value (metadata bodies), with Go's syntax errors as :class:`DecodeError`."""
    data = _as_bytes(body)
    return _plain(_fast_tree(data) or _parse(data))


# --------------------------------------------------------------------------- Go struct shapes

_GoKind = Literal["string", "bool", "int", "uint", "float", "slice", "struct", "any"]


@dataclass(frozen=True)
class _GoType:
    kind: _GoKind
    name: str  # Go's reflect.Type.String(), e.g. "uint64", "[]api.ProcessConfigIO"
    elem: _GoType | None = None
    struct: _Struct | None = None


@dataclass(frozen=True)
class _GoField:
    name: str  # the JSON name (datarhei's field name)
    go_type: _GoType
    default: Any  # initial value of a fresh struct (deep-copied before use)


@dataclass(frozen=True)
class _Struct:
    name: str  # Go's unqualified struct name, e.g. "ProcessConfigIOCleanup"
    fields: tuple[_GoField, ...]

    def lookup(self, key: str) -> _GoField | None:
        """The field a JSON key decodes into: exact name first, then case-insensitively."""
        for candidate in self.fields:
            if candidate.name == key:
                return candidate
        folded = _fold(key)
        for candidate in self.fields:
            if _fold(candidate.name) == folded:
                return candidate
        return None


def _fold(text: str) -> str:
    # Go's simple case folding, which can only map these two non-ASCII runes onto ASCII:
    # KELVIN SIGN -> k, LATIN SMALL LETTER LONG S -> s. str.lower/casefold would do more.
    return "".join(
        {"\u212a": "k", "\u017f": "s"}.get(char, char.lower() if char.isascii() else char)
        for char in text
    )


#: Go struct names of the datarhei types whose Python names differ.
_GO_STRUCT_NAMES: dict[type[BaseModel], str] = {
    Cleanup: "ProcessConfigIOCleanup",
    Limits: "ProcessConfigLimits",
}

#: Fields that Core declares as Go ``uint`` (not uint64): the cleanup counters.
_GO_UINT_FIELDS = {(Cleanup, "max_files"), (Cleanup, "max_file_age_seconds")}

_STRING = _GoType("string", "string")
_BOOL = _GoType("bool", "bool")
_INT64 = _GoType("int", "int64")
_UINT64 = _GoType("uint", "uint64")
_UINT = _GoType("uint", "uint")
_FLOAT64 = _GoType("float", "float64")
_ANY = _GoType("any", "interface {}")


def _go_type(annotation: Any, metadata: list[Any]) -> _GoType:
    origin = get_origin(annotation)
    if origin is list:
        (element,) = get_args(annotation)
        elem = _go_type(element, [])
        return _GoType("slice", f"[]{elem.name}", elem=elem)
    if origin is Literal and all(isinstance(arg, str) for arg in get_args(annotation)):
        return _STRING
    if origin in (Union, types.UnionType) or origin is dict or annotation is Any:
        return _ANY
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        shape = _shape(annotation)
        return _GoType("struct", f"api.{shape.name}", struct=shape)
    if annotation is bool:
        return _BOOL
    if annotation is str:
        return _STRING
    if annotation is float:
        return _FLOAT64
    if annotation is int:
        unsigned = any(getattr(constraint, "ge", None) == 0 for constraint in metadata)
        return _UINT64 if unsigned else _INT64
    raise TypeError(f"no Go type for {annotation!r}")


def _zero(go_type: _GoType) -> Any:
    """Go's zero value; slices are nil (None), structs get the model's scalar defaults."""
    if go_type.struct is not None:
        return {f.name: copy.deepcopy(f.default) for f in go_type.struct.fields}
    return {"string": "", "bool": False, "int": 0, "uint": 0, "float": 0.0}.get(go_type.kind)


@functools.cache
def _shape(model: type[BaseModel]) -> _Struct:
    fields: list[_GoField] = []
    for name, info in model.model_fields.items():
        go_type = (
            _UINT if (model, name) in _GO_UINT_FIELDS else _go_type(info.annotation, info.metadata)
        )
        default = _zero(go_type)
        has_plain_default = not info.is_required() and info.default_factory is None
        if go_type.kind not in ("slice", "struct") and has_plain_default:
            default = info.default
        fields.append(_GoField(name, go_type, default))
    return _Struct(_GO_STRUCT_NAMES.get(model, model.__name__), tuple(fields))


#: Go kinds whose Python values are immutable: shared, not copied.
_SCALAR_KINDS = frozenset(("string", "bool", "int", "uint", "float"))


def _adopt(go_type: _GoType, value: Any) -> Any:
    """A caller's current value as this module's representation (deep copy, all fields)."""
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if go_type.struct is not None:
        given = value if isinstance(value, Mapping) else {}
        return {
            f.name: _adopt(f.go_type, given[f.name])
            if f.name in given
            else (f.default if f.go_type.kind in _SCALAR_KINDS else copy.deepcopy(f.default))
            for f in go_type.struct.fields
        }
    if go_type.elem is not None and value is not None:
        return [_adopt(go_type.elem, item) for item in value]
    if go_type.kind in _SCALAR_KINDS and isinstance(value, (str, bool, int, float)):
        return value
    return copy.deepcopy(value)


def _finish(go_type: _GoType, value: Any) -> Any:
    """Nil slices as empty lists: the form pydantic models and API responses use."""
    if go_type.struct is not None:
        return {f.name: _finish(f.go_type, value[f.name]) for f in go_type.struct.fields}
    if go_type.elem is not None:
        return [_finish(go_type.elem, item) for item in value or []]
    return value


# --------------------------------------------------------------------------- decoding


@dataclass(frozen=True)
class _TypeProblem:
    """Go's ``*json.UnmarshalTypeError`` plus the error context Go attaches to it."""

    what: str  # "string", "number", "number -1", "bool", "array", "object"
    go_type: str
    offset: int
    struct: str
    path: tuple[str, ...]

    def detail(self, data: bytes) -> str:
        dotted = ".".join(self.path)
        # Go adds the struct/field context only below the top level.
        into = f"Go struct field {self.struct}.{dotted}" if self.struct or self.path else "Go value"
        line, character = _line_and_character(data, self.offset)
        return (
            f"expect type '{self.go_type}' for '{dotted}' at line {line}, character {character}: "
            f"json: cannot unmarshal {self.what} into {into} of type {self.go_type}"
        )


_INT64_RANGE = range(-(2**63), 2**63)
_UINT64_RANGE = range(2**64)


class _Decoder:
    """Go's ``json.Unmarshal`` into a prefilled value; remembers the first type mismatch."""

    def __init__(self) -> None:
        self.problem: _TypeProblem | None = None

    def _mismatch(
        self, what: str, go_type: _GoType, offset: int, context: tuple[str, tuple[str, ...]]
    ) -> None:
        if self.problem is None:
            self.problem = _TypeProblem(what, go_type.name, offset, *context)

    def value(
        self, node: _Node, go_type: _GoType, old: Any, context: tuple[str, tuple[str, ...]]
    ) -> Any:
        if node.kind == "null":
            # null resets what can be nil (slices, interfaces) and is ignored otherwise.
            return None if go_type.kind in ("slice", "any") else old
        if go_type.kind == "any":
            return _plain(node)
        if node.kind in ("object", "array"):
            if node.kind == "object" and go_type.struct is not None:
                return self._object(node, go_type.struct, old, context[1])
            if node.kind == "array" and go_type.elem is not None:
                return self._array(node, go_type.elem, old, context)
            # Go reports a mistyped container at the byte after its opening bracket.
            self._mismatch(node.kind, go_type, node.start + 1, context)
            return old
        scalar = self._scalar(node, go_type)
        if scalar is _MISMATCH:
            what: str = "bool" if node.kind in ("true", "false") else node.kind
            if node.kind == "number" and go_type.kind in ("int", "uint", "float"):
                what = f"number {node.text}"
            self._mismatch(what, go_type, node.end, context)
            return old
        return scalar

    @staticmethod
    def _scalar(node: _Node, go_type: _GoType) -> Any:
        kind = go_type.kind
        if node.kind == "string":
            return node.text if kind == "string" else _MISMATCH
        if node.kind in ("true", "false"):
            return node.kind == "true" if kind == "bool" else _MISMATCH
        text = node.text
        if kind == "float":
            number = float(text)
            return _MISMATCH if number in (float("inf"), float("-inf")) else number
        if kind in ("int", "uint"):
            if not re.fullmatch(r"-?\d+", text):
                return _MISMATCH  # strconv.ParseInt/ParseUint take no fraction or exponent
            if len(text) > 21:
                return _MISMATCH  # out of range, and too long for int()
            integer = int(text)
            allowed = _UINT64_RANGE if kind == "uint" else _INT64_RANGE
            if integer not in allowed or (kind == "uint" and text.startswith("-")):
                return _MISMATCH
            return integer
        return _MISMATCH

    def _object(
        self, node: _Node, shape: _Struct, old: dict[str, Any], parent_path: tuple[str, ...]
    ) -> dict[str, Any]:
        # Go names a mistyped field by the innermost struct and the JSON names leading to it
        # (array indexes are not part of that path).
        result = dict(old)
        for key, child in node.members:
            target = shape.lookup(key)
            if target is None:
                continue  # unknown keys are skipped without looking at the value
            context = (shape.name, (*parent_path, target.name))
            result[target.name] = self.value(child, target.go_type, result[target.name], context)
        return result

    def _array(
        self,
        node: _Node,
        elem: _GoType,
        old: list[Any] | None,
        context: tuple[str, tuple[str, ...]],
    ) -> list[Any]:
        # Element i merges into the old element i; new elements start from zero values.
        previous = old or []
        return [
            self.value(
                item,
                elem,
                previous[index] if index < len(previous) else _zero(elem),
                context,
            )
            for index, item in enumerate(node.items)
        ]


_MISMATCH = object()


def _decode(model: type[BaseModel], data: bytes, start: dict[str, Any]) -> dict[str, Any]:
    fast = _fast_tree(data)
    shape = _shape(model)
    decoder = _Decoder()
    struct_type = _GoType("struct", f"api.{shape.name}", struct=shape)
    result: dict[str, Any] = decoder.value(fast or _parse(data), struct_type, start, ("", ()))
    if decoder.problem is not None and fast is not None:
        # The message needs Go's offsets: decode again on the exact tree.
        decoder = _Decoder()
        result = decoder.value(_parse(data), struct_type, start, ("", ()))
    if decoder.problem is not None:
        raise DecodeError(decoder.problem.detail(data))
    return result


def _start(model: type[BaseModel], current: Mapping[str, Any] | None) -> dict[str, Any]:
    shape = _shape(model)
    struct_type = _GoType("struct", f"api.{shape.name}", struct=shape)
    start: dict[str, Any] = _adopt(struct_type, current or {})
    return start


def decode_into(
    model: type[BaseModel], body: bytes | str, current: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Go's ``json.Unmarshal`` of ``body`` into ``model``'s struct prefilled with ``current``.

    ``current`` uses datarhei field names (e.g. ``ProcessConfig.model_dump()``); absent fields
    and ``None`` mean the model's defaults. Returns every field, ready for ``model_validate``.
    Raises :class:`DecodeError` with Core's detail for syntax and type errors.
    """
    shape = _shape(model)
    decoded = _decode(model, _as_bytes(body), _start(model, current))
    return {f.name: _finish(f.go_type, decoded[f.name]) for f in shape.fields}


def _required_failure(struct: str, go_field: str, tag: str = "required") -> str:
    # go-playground's FieldError text; the namespace uses Go field names.
    return (
        f"Key: '{struct}.{go_field}' Error:Field validation for '{go_field}' "
        f"failed on the '{tag}' tag"
    )


def bind_process_config(body: bytes | str, current: ProcessConfig | None = None) -> ProcessConfig:
    """Core's binding of a POST (``current=None``) or PUT (``current`` = stored) body.

    POST starts from Core's defaults (new ``id``, ``type="ffmpeg"``, ``autostart=true``); PUT
    decodes on top of the stored config. Then the struct tags: ``type`` oneof ffmpeg/"" and
    ``input``/``output`` required. A ``required`` slice fails only when nil, i.e. missing on
    POST or ``null``; ``[]`` passes here and is rejected later (POST: "At least one input and
    one output need to be defined", see :func:`has_inputs_and_outputs`; PUT: process
    validation, "Process can't be updated"). So a PUT with ``"input": null`` is "Invalid JSON".

    Finally empty IO IDs are generated and input cleanup rules dropped (Core's conversion keeps
    cleanup for outputs only). ``type`` stays as sent on POST (the API answers
    "Unsupported process type" for ""), and is "ffmpeg" on PUT, where Core ignores it.
    """
    data = _as_bytes(body)
    if current is None:
        start = _start(ProcessConfig, {"id": new_id(), "type": "ffmpeg", "autostart": True})
        start["input"] = start["output"] = start["options"] = None  # nil slices, like Go
    else:
        start = _start(ProcessConfig, current.model_dump())
    decoded = _decode(ProcessConfig, data, start)

    failures: list[str] = []
    if decoded["type"] not in ("ffmpeg", ""):
        failures.append(_required_failure("ProcessConfig", "Type", "oneof"))
    for name in ("input", "output"):
        if decoded[name] is None:
            failures.append(_required_failure("ProcessConfig", name.capitalize()))
    if failures:
        raise DecodeError("\n".join(failures))

    shape = _shape(ProcessConfig)
    finished = {f.name: _finish(f.go_type, decoded[f.name]) for f in shape.fields}
    if current is not None:
        finished["type"] = "ffmpeg"
    for io in finished["input"]:
        io["cleanup"] = []
    return fill_io_ids(ProcessConfig.model_validate(finished))


def has_inputs_and_outputs(config: ProcessConfig) -> bool:
    """POST's extra check: at least one input and one output (else 400 without details)."""
    return bool(config.input) and bool(config.output)


def bind_command(body: bytes | str) -> str:
    """The verb of a command body (§2.7). Missing/empty is a :class:`DecodeError`.

    The verb is not checked against the known ones: an unknown verb is a different error
    ("Unknown command provided") that the API produces.
    """
    verb: str = decode_into(Command, body)["command"]
    if not verb:
        raise DecodeError(_required_failure("Command", "Command"))
    return verb


class _Login(BaseModel):
    """Go's ``api.Login``: the body of POST /api/login."""

    username: str = ""
    password: str = ""


def bind_login(body: bytes | str) -> tuple[str, str]:
    """(username, password) of a login body; both are required (non-empty)."""
    decoded = decode_into(_Login, body)
    failures = [
        _required_failure("Login", name.capitalize())
        for name in ("username", "password")
        if not decoded[name]
    ]
    if failures:
        raise DecodeError("\n".join(failures))
    return decoded["username"], decoded["password"]
