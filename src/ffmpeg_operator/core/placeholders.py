"""Placeholders in process configs: ``{processid}``, ``{diskfs}``, ``{rtmp,name=x}``, ... (spec §5).

Two parts:

- :class:`Replacer`, a generic replacer with the semantics of Core's ``restream/replace``:
  it knows the placeholder syntax (§5.1), templates with parameters and defaults, ``$variables``
  in parameter values (§5.4) and the ``^C`` escaping rule (§5.5);
- :func:`resolve_placeholders`, which applies the location table §5.2 to a whole
  :class:`~ffmpeg_operator.core.models.ProcessConfig`, with the values of a
  :class:`PlaceholderSettings` (the storage directory, the memfs URL, the RTMP/SRT server).

Helpers build the settings' URLs the way Core derives them from its own config (§5.3).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import quote, unquote_to_bytes

from ffmpeg_operator.core.glob import GlobError, compile_glob
from ffmpeg_operator.core.models import ProcessConfig, ProcessConfigIO

__all__ = [
    "RESERVED_STORAGE_NAMES",
    "PlaceholderSettings",
    "Replacer",
    "TemplateFn",
    "http_service_url",
    "memfs_url",
    "resolve_placeholders",
    "rtmp_template",
    "srt_template",
]

TemplateFn = Callable[[str], str]
"""Returns a template's text for a section (``"global"``, ``"input"`` or ``"output"``)."""

#: ``{NAME}``, ``{NAME^C}``, ``{NAME,params}``, ``{NAME^C,params}`` (§5.1). The escape char
#: is exactly one character; parameters run up to the first ``}``.
_PLACEHOLDER = re.compile(r"\{([a-z]+(?::[A-Za-z0-9]+)?)(?:\^(.))?(?:,(.*?))?\}")
#: ``{key}`` inside a template, filled from the placeholder's parameters.
_TEMPLATE_KEY = re.compile(r"\{([a-z:]+)\}")
#: A ``%`` that does not start a two-digit hex escape: Go's QueryUnescape refuses it.
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")

#: Storage names Core reserves for the disk and memory filesystems (§5.3).
RESERVED_STORAGE_NAMES = frozenset({"disk", "diskfs", "mem", "memfs"})

SECTION_GLOBAL = "global"
SECTION_INPUT = "input"
SECTION_OUTPUT = "output"


@dataclass(frozen=True)
class _Template:
    render: TemplateFn
    defaults: Mapping[str, str]


def _query_unescape(text: str) -> str | None:
    """Go's ``url.QueryUnescape``: ``+`` is a space, ``%XX`` a byte; ``None`` if malformed."""
    if _BAD_PERCENT.search(text):
        return None
    # Go keeps undecodable bytes as they are; they could only reach ffmpeg's argv and Core's
    # JSON output, which shows them as U+FFFD, so replacing them here gives the same text.
    return unquote_to_bytes(text.replace("+", " ")).decode("utf-8", errors="replace")


def _escape(value: str, char: str) -> str:
    """§5.5: the value is unescaped twice by ffmpeg (filter/tee syntax), hence two backslashes."""
    if char != "\\":
        value = value.replace("\\", "\\\\\\")
    return value.replace(char, "\\\\" + char)


class Replacer:
    """Replaces placeholders in text, like Core's ``replace.Replacer``.

    Value placeholders (``{processid}``) are replaced by the value passed to :meth:`replace`.
    When that value is empty, a template registered under the placeholder's name is used
    instead (``{diskfs}``, ``{rtmp,name=x}``); with no template the placeholder becomes ``""``.
    """

    def __init__(self) -> None:
        self._templates: dict[str, _Template] = {}

    def register_template(
        self,
        name: str,
        template: str | TemplateFn,
        defaults: Mapping[str, str] | None = None,
    ) -> None:
        """Register a template for placeholder ``name``.

        ``{key}`` in the template is replaced by the placeholder's parameter ``key`` (or its
        default); keys without a value stay verbatim.
        """
        render = template if callable(template) else _constant(template)
        self._templates[name] = _Template(render, MappingProxyType(dict(defaults or {})))

    def replace(
        self,
        text: str,
        name_pattern: str,
        value: str = "",
        variables: Mapping[str, str] | None = None,
        section: str = "",
    ) -> str:
        """Replace every placeholder whose name matches the glob ``name_pattern``.

        ``name_pattern`` uses ``:`` as the glob separator (``fs:*`` matches ``fs:disk`` but not
        ``fs``). ``variables`` are substituted as ``$name`` inside parameter values only.
        """
        if "{" not in text:
            return text  # no placeholder: most options and addresses (54 calls per POST)
        try:
            names = compile_glob(name_pattern, ":")
        except GlobError:
            return text

        def substitute(match: re.Match[str]) -> str:
            name, escape_char, params = match.group(1), match.group(2), match.group(3)
            if not names.match(name):
                return match.group(0)
            template = _Template(_constant(value), MappingProxyType({}))
            if not value:
                template = self._templates.get(name, template)
            result = _compile_template(
                template.render(section), params or "", variables or {}, template.defaults
            )
            if escape_char:
                result = _escape(result, escape_char)
            return result

        return _PLACEHOLDER.sub(substitute, text)


def _constant(text: str) -> TemplateFn:
    return lambda _section: text


def _compile_template(
    template: str, params: str, variables: Mapping[str, str], defaults: Mapping[str, str]
) -> str:
    """Fill ``{key}`` in ``template`` from the defaults overridden by ``params`` (``k=v,...``)."""
    # Core skips this step entirely without parameters and defaults, so even a value
    # placeholder with parameters has its own ``{key}`` text filled (a Core quirk we keep).
    if not params and not defaults:
        return template
    values = dict(defaults)
    for pair in params.split(","):
        if not pair:
            continue
        raw_key, _, raw_value = pair.partition("=")
        key = _query_unescape(raw_key)
        param = _query_unescape(raw_value)
        if key is None or param is None:
            continue
        for variable, substitution in variables.items():
            param = param.replace("$" + variable, substitution)
        values[key] = param

    def fill(match: re.Match[str]) -> str:
        return values.get(match.group(1), match.group(0))

    return _TEMPLATE_KEY.sub(fill, template)


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class PlaceholderSettings:
    """What the server-wide placeholders expand to (§5.3).

    - ``diskfs``: absolute storage directory, no trailing slash (``{diskfs}``, ``{fs:disk}``);
    - ``memfs``: base URL of the in-memory filesystem (``{memfs}``, ``{fs:mem}``), see
      :func:`memfs_url`;
    - ``rtmp``: template of ``{rtmp,name=N}``, ``{name}`` is filled from the parameter, see
      :func:`rtmp_template`;
    - ``srt``: template of ``{srt,name=N,latency=L}``; ``{mode}`` is filled with ``publish`` in
      output addresses and ``request`` in input addresses, ``{latency}`` defaults to
      ``20000``; see :func:`srt_template`;
    - ``storages``: ``{fs:NAME}`` URLs of further storages by NAME (reserved names ignored).
    """

    diskfs: str
    memfs: str
    rtmp: str = "rtmp://localhost:1935/{name}"
    srt: str = (
        "srt://localhost:6000?mode=caller&transtype=live&latency={latency}&streamid={name},"
        "mode:{mode}"
    )
    storages: Mapping[str, str] = field(default_factory=dict)


#: Default SRT latency in microseconds (20 ms); ffmpeg's srt option takes microseconds.
SRT_DEFAULT_LATENCY = "20000"


def _split_host_port(address: str) -> tuple[str, str]:
    host, _, port = address.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, port


def http_service_url(
    address: str, path: str, *, username: str | None = None, password: str = ""
) -> str:
    """``http://[USER:PASS@]HOST:PORT<path>`` for a service on Core's HTTP ``address``.

    An address without host (``:8080``) means ``localhost:8080``; any other address is used
    verbatim. Credentials are included when ``username`` is given, escaped as in a URL.
    """
    host, port = _split_host_port(address)
    netloc = f"localhost:{port}" if not host else address
    if username is not None:
        userinfo = quote(username, safe="$&+,;=") + ":" + quote(password, safe="$&+,;=")
        netloc = f"{userinfo}@{netloc}"
    return f"http://{netloc}{path}"


def memfs_url(address: str = ":8080", *, username: str | None = None, password: str = "") -> str:
    """The ``{memfs}`` value: ``http_service_url(address, "/memfs", ...)``.

    Pass the credentials when memfs basic auth is enabled (Core's default: user ``admin``).
    """
    return http_service_url(address, "/memfs", username=username, password=password)


def rtmp_template(address: str = ":1935", app: str = "/", token: str = "") -> str:
    """The ``{rtmp}`` template of an RTMP server on ``address`` (§5.3)."""
    host, port = _split_host_port(address)
    url = f"rtmp://{host or 'localhost'}:{port}"
    if app != "/":
        url += app
    url += "/{name}"
    if token:
        url += "?token=" + token
    return url


def srt_template(address: str = ":6000", token: str = "", passphrase: str = "") -> str:
    """The ``{srt}`` template of an SRT server on ``address`` (§5.3, Core 16.12+ streamid)."""
    host, port = _split_host_port(address)
    url = (
        f"srt://{host or 'localhost'}:{port}?mode=caller&transtype=live&latency={{latency}}"
        "&streamid={name},mode:{mode}"
    )
    if token:
        url += ",token:" + token
    if passphrase:
        url += "&passphrase=" + passphrase
    return url


def _build_replacer(settings: PlaceholderSettings) -> Replacer:
    replacer = Replacer()
    replacer.register_template("diskfs", settings.diskfs)
    replacer.register_template("fs:disk", settings.diskfs)
    replacer.register_template("memfs", settings.memfs)
    replacer.register_template("fs:mem", settings.memfs)
    for name, url in settings.storages.items():
        if name not in RESERVED_STORAGE_NAMES:
            replacer.register_template("fs:" + name, url)
    replacer.register_template("rtmp", settings.rtmp)

    def srt(section: str) -> str:
        # The mode comes from where the address is used; a `mode=` parameter is ignored (16.12+).
        return settings.srt.replace("{mode}", "publish" if section == SECTION_OUTPUT else "request")

    replacer.register_template("srt", srt, {"latency": SRT_DEFAULT_LATENCY})
    return replacer


# --------------------------------------------------------------------------- config


def resolve_placeholders(config: ProcessConfig, settings: PlaceholderSettings) -> ProcessConfig:
    """Return a copy of ``config`` with placeholders replaced per the location table §5.2.

    Replacement is sequential in the table's order, so text inserted by one placeholder can be
    matched by a later one. ``{inputid}``/``{outputid}`` (and ``$inputid``/``$outputid``) use
    the IO id after its own placeholders were replaced.
    """
    resolved = config.clone()
    resolver = _ConfigResolver(_build_replacer(settings), config.id, config.reference)
    resolved.options = [resolver.global_option(option) for option in resolved.options]
    for io in resolved.input:
        resolver.resolve_io(io, SECTION_INPUT, "inputid")
    for io in resolved.output:
        resolver.resolve_io(io, SECTION_OUTPUT, "outputid")
        for rule in io.cleanup:
            rule.pattern = resolver.own(rule.pattern, SECTION_OUTPUT, "outputid", io.id)
    return resolved


class _ConfigResolver:
    """The rows of table §5.2 for one process."""

    def __init__(self, replacer: Replacer, process_id: str, reference: str) -> None:
        self._replacer = replacer
        self._process_id = process_id
        self._reference = reference
        self._variables = {"processid": process_id, "reference": reference}

    def global_option(self, option: str) -> str:
        # Global options know only the file systems: no {memfs}, {processid}, {reference}.
        option = self._replacer.replace(option, "diskfs", "", self._variables, SECTION_GLOBAL)
        return self._replacer.replace(option, "fs:*", "", self._variables, SECTION_GLOBAL)

    def ids(self, text: str, section: str) -> str:
        text = self._replacer.replace(text, "processid", self._process_id, None, section)
        return self._replacer.replace(text, "reference", self._reference, None, section)

    def own(self, text: str, section: str, io_name: str, io_id: str) -> str:
        """``{inputid}``/``{outputid}``, then ``{processid}``, ``{reference}``."""
        return self.ids(self._replacer.replace(text, io_name, io_id, None, section), section)

    def resolve_io(self, io: ProcessConfigIO, section: str, io_name: str) -> None:
        io.id = self.ids(io.id, section)
        variables = {**self._variables, io_name: io.id}

        def with_files(text: str, extra: tuple[str, ...]) -> str:
            text = self.own(text, section, io_name, io.id)
            for pattern in ("diskfs", "memfs", "fs:*", *extra):
                text = self._replacer.replace(text, pattern, "", variables, section)
            return text

        io.address = with_files(io.address, ("rtmp", "srt"))
        io.options = [with_files(option, ()) for option in io.options]
