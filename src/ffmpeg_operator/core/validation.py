"""Validation of a resolved process config: ids and input/output addresses (spec §7, §3.2).

Runs after placeholders and references are resolved. IDs and addresses are checked on trimmed
copies; the config itself (and so the ffmpeg command) keeps them as they are. Error texts are
Core's, because the API shows them as the detail of a 400.
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ffmpeg_operator.core.errors import ConfigError
from ffmpeg_operator.core.models import ProcessConfig, ProcessConfigIO

__all__ = [
    "AddressPolicy",
    "check_process_id",
    "has_url_scheme",
    "normalize_output_address",
    "validate_input_address",
    "validate_process",
    "validate_url",
]

# `+-:` is a range (`+ , - . / 0-9 :`), exactly as in Core's expression.
_SCHEME = re.compile(r"^([a-z][a-z0-9.+-:]*):/{1,3}", re.IGNORECASE | re.ASCII)
_TEE_OPTIONS = re.compile(r"^\[[^\]]*\]")
_NOT_ALLOWED = "address is not allowed"


@dataclass(frozen=True)
class AddressPolicy:
    """Where addresses may point (Core's ``storage.disk.dir`` and ``ffmpeg.access``).

    ``disk_dir`` is the absolute storage directory file outputs must lie in; ``cwd`` is the
    directory relative output paths are resolved against. The allow/block lists are regular
    expressions searched anywhere in an address; block wins, an empty allow list allows all.
    """

    disk_dir: str
    cwd: str = "/"
    input_allow: tuple[str, ...] = ()
    input_block: tuple[str, ...] = ()
    output_allow: tuple[str, ...] = ()
    output_block: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Refuse a bad expression when the policy is made, not on the first request.
        for expressions in (self.input_allow, self.input_block):
            _compile(expressions)
        for expressions in (self.output_allow, self.output_block):
            _compile(expressions)

    def allows_input(self, address: str) -> bool:
        return _allowed(address, self.input_allow, self.input_block)

    def allows_output(self, address: str) -> bool:
        return _allowed(address, self.output_allow, self.output_block)


@functools.lru_cache(maxsize=64)
def _compile(expressions: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for raw in expressions:
        expression = raw.strip()
        if not expression:
            continue  # Core ignores empty expressions
        try:
            compiled.append(re.compile(expression))
        except re.error as error:
            raise ValueError(f"invalid expression: '{expression}' ({error})") from None
    return tuple(compiled)


def _allowed(address: str, allow: tuple[str, ...], block: tuple[str, ...]) -> bool:
    if any(pattern.search(address) for pattern in _compile(block)):
        return False
    allowed = _compile(allow)
    return not allowed or any(pattern.search(address) for pattern in allowed)


# --------------------------------------------------------------------------- process


def check_process_id(config: ProcessConfig) -> None:
    """The process id must not be empty or whitespace (checked before anything else)."""
    if not config.id.strip():
        raise ConfigError("an empty ID is not allowed")


def validate_process(config: ProcessConfig, policy: AddressPolicy) -> None:
    """Raise :class:`ConfigError` with Core's text if the resolved ``config`` cannot run."""
    check_process_id(config)
    pid = config.id
    if not config.input:
        raise ConfigError(f"at least one input must be defined for the process '{pid}'")
    for io_id, address in _checked_ios(config.input, "input", pid):
        try:
            validate_input_address(address, policy)
        except ConfigError as error:
            raise ConfigError(
                f"the address for input '#{pid}:{io_id}' ({address}) is invalid: {error}"
            ) from None
    if not config.output:
        raise ConfigError(f"at least one output must be defined for the process '#{pid}'")
    for io_id, address in _checked_ios(config.output, "output", pid):
        try:
            normalize_output_address(address, policy)
        except ConfigError as error:
            raise ConfigError(
                f"the address for output '#{pid}:{io_id}' is invalid: {error}"
            ) from None


def _checked_ios(
    ios: Sequence[ProcessConfigIO], direction: str, pid: str
) -> Iterator[tuple[str, str]]:
    """Trimmed ``(id, address)`` pairs, after the id and emptiness checks of one direction.

    A generator: the caller validates each address before the next IO's id is looked at, as
    Core checks one IO completely before the next, so the first failing IO decides the error.
    """
    seen: set[str] = set()
    for io in ios:
        io_id = io.id.strip()
        if not io_id:
            raise ConfigError(f"empty {direction} IDs are not allowed (process '{pid}')")
        if io_id in seen:
            raise ConfigError(
                f"the {direction} ID '{io_id}' is already in use for the process `{pid}`"
            )
        seen.add(io_id)
        address = io.address.strip()
        if not address:
            raise ConfigError(f"the address for {direction} '#{pid}:{io_id}' must not be empty")
        yield io_id, address


# --------------------------------------------------------------------------- addresses


def validate_input_address(address: str, policy: AddressPolicy) -> None:
    """A URL must parse; every input must pass the input allow/block lists.

    Local files are not confined to the storage directory.
    """
    if has_url_scheme(address):
        validate_url(address)
    if not policy.allows_input(address):
        raise ConfigError(_NOT_ALLOWED)


def normalize_output_address(address: str, policy: AddressPolicy) -> str:
    """Core's normalised form of an output address, used only for validation.

    ``-`` becomes ``pipe:``, paths become ``file:<absolute path>``, tee addresses are handled
    part by part. Raises :class:`ConfigError` (``/etc/x is not inside of /core/data``,
    ``address is not allowed``, a URL parse error).
    """
    return _normalize_output(address, policy)[0]


def _normalize_output(address: str, policy: AddressPolicy) -> tuple[str, bool]:
    """The normalised address and whether it writes a file into the storage directory."""
    if "|" in address or address.startswith("["):
        # Tee muxer syntax: `[options]address|[options]address...`.
        parts = address.split("|")
        writes_file = False
        for index, part in enumerate(parts):
            # Core strips one options block and recurses on the rest, which may start with the
            # next block. Stripped in a loop here: thousands of blocks are no deeper, and a
            # "[" without its "]" (on which Core recurses until its stack overflows) ends the
            # loop as a plain address, a file name starting with "[".
            options = ""
            rest = part
            while (match := _TEE_OPTIONS.match(rest)) is not None:
                options += match.group(0)
                rest = rest[match.end() :]
            normalised, is_file = _normalize_single(rest, policy)
            writes_file = writes_file or is_file
            parts[index] = options + normalised
        return "|".join(parts), writes_file
    return _normalize_single(address, policy)


def _normalize_single(address: str, policy: AddressPolicy) -> tuple[str, bool]:
    """:func:`_normalize_output` of an address that is not split as a tee address."""
    address = address.removeprefix("file:")
    if has_url_scheme(address):
        validate_url(address)
        if not policy.allows_output(address):
            raise ConfigError(_NOT_ALLOWED)
        return address, False
    if address == "-":
        return "pipe:", False

    path = _absolute(address, policy.cwd)
    if path.startswith("/dev/"):
        if not policy.allows_output("file:" + path):
            raise ConfigError(_NOT_ALLOWED)
        return "file:" + path, False
    # Core compares plain string prefixes, so `/core/database` passes for `/core/data`; we
    # require a path boundary (a deliberate difference, docs/compatibility.md).
    root = policy.disk_dir.rstrip("/")
    if path != root and not path.startswith(root + "/"):
        raise ConfigError(f"{path} is not inside of {policy.disk_dir}")
    if not policy.allows_output("file:" + path):
        raise ConfigError(_NOT_ALLOWED)
    return "file:" + path, True


def _absolute(path: str, cwd: str) -> str:
    """Go's ``filepath.Abs``: join with the working directory, then ``filepath.Clean``."""
    cleaned = posixpath.normpath(posixpath.join(cwd, path))
    # POSIX keeps a leading `//`; Go's Clean does not.
    return "/" + cleaned.lstrip("/") if cleaned.startswith("/") else cleaned


# --------------------------------------------------------------------------- URLs


def has_url_scheme(address: str) -> bool:
    """Whether ``address`` starts like a URL (``scheme:/``, ``scheme://``, ``scheme:///``)."""
    return _SCHEME.match(address) is not None


def validate_url(address: str) -> None:
    """Core's relaxed URL parse: only the authority (``//user:pass@host:port``) can fail.

    Raises :class:`ConfigError` with Go's ``net/url`` text, e.g.
    ``parse "//host:x": invalid port ":x" after host``.
    """
    address = address.partition("#")[0]
    match = _SCHEME.match(address)
    if match is not None:
        address = address.replace(match.group(1) + ":", "", 1)
    address = address.partition("?")[0]
    if address.startswith("///") or not address.startswith("//"):
        return
    authority = "//" + address[2:].partition("/")[0]
    if _has_control_byte(authority):
        error: str | None = "net/url: invalid control character in URL"
    else:
        error = _authority_error(authority[2:])
    if error is not None:
        raise ConfigError(f"parse {_go_quote(authority)}: {error}")


def _has_control_byte(text: str) -> bool:
    return any(ord(char) < 0x20 or ord(char) == 0x7F for char in text)


_DIGITS = frozenset("0123456789")
_USERINFO_EXTRA = frozenset("-._:~!$&'()*+,;=%@")
_HOST_EXTRA = frozenset("-_.~!$&'()*+,;=:[]<>\"")


def _authority_error(authority: str) -> str | None:
    """Go's ``parseAuthority`` on ``user:pass@host:port``; the error text or ``None``."""
    userinfo, at, host = authority.rpartition("@")
    error = _host_error(host)
    if error is not None or not at:
        return error
    if not all(_is_ascii_alnum(char) or char in _USERINFO_EXTRA for char in userinfo):
        return "net/url: invalid userinfo"
    for part in userinfo.split(":", 1):
        error = _escape_error(part, host=False)
        if error is not None:
            return error
    return None


def _host_error(host: str) -> str | None:
    if host.startswith("["):
        end = host.rfind("]")
        if end < 0:
            return "missing ']' in host"
        port = host[end + 1 :]
    else:
        colon = host.rfind(":")
        port = host[colon:] if colon >= 0 else ""
    if port and not (port.startswith(":") and all(c in _DIGITS for c in port[1:])):
        return f"invalid port {_go_quote(port)} after host"
    return _escape_error(host, host=True)


def _escape_error(text: str, *, host: bool) -> str | None:
    """Go's ``unescape`` checks: well-formed ``%XX``; in a host, only allowed characters."""
    index = 0
    while index < len(text):
        char = text[index]
        if char == "%":
            escape = text[index : index + 3]
            if len(escape) < 3 or not all(c in "0123456789abcdefABCDEF" for c in escape[1:]):
                return f"invalid URL escape {_go_quote(escape)}"
            # In a host, %-escapes are for non-ASCII bytes only (and %25 for IPv6 zones).
            if host and int(escape[1], 16) < 8 and escape != "%25":
                return f"invalid URL escape {_go_quote(escape)}"
            index += 3
            continue
        if host and ord(char) < 0x80 and not (_is_ascii_alnum(char) or char in _HOST_EXTRA):
            return f"invalid character {_go_quote(char)} in host name"
        index += 1
    return None


def _is_ascii_alnum(char: str) -> bool:
    return char.isascii() and char.isalnum()


_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def _go_quote(text: str) -> str:
    """Go's ``strconv.Quote`` (as ``%q`` prints a string)."""
    quoted = []
    for char in text:
        if char in _GO_ESCAPES:
            quoted.append(_GO_ESCAPES[char])
        elif char.isprintable():
            quoted.append(char)
        elif ord(char) < 0x80:
            quoted.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            quoted.append(f"\\u{ord(char):04x}")
        else:
            quoted.append(f"\\U{ord(char):08x}")
    return '"' + "".join(quoted) + '"'
