"""BFE's module config ``<conf root>/mod_block/mod_block.conf``, read as gcfg reads it.

```ini
[Basic]
ProductRulePath = mod_block/block_rules.data
IPBlocklistPath = mod_block/ip_blocklist.data

[Log]
OpenDebug = false
```

gcfg is git-config syntax (``bfe.md`` §2.1), written by hand here because no Python INI
reader agrees with it (:mod:`configparser` folds keys but not sections, has no gcfg
quoting, and accepts keys outside sections):

- ``[Section]`` headers; ``name = value`` lines; ``;`` and ``#`` start a comment anywhere
  outside quotes. Section and variable names match in any case (Go's ``EqualFold``) and
  are a letter followed by letters, digits and ``-``.
- A value runs to the end of the line, without surrounding blanks; ``"..."`` quotes keep
  blanks and ``;``/``#``, with the escapes ``\\\\``, ``\\"``, ``\\n`` and ``\\t``; a ``\\`` at
  the end of a line continues the value on the next.
- ``OpenDebug`` takes ``true/yes/on/1`` or ``false/no/off/0`` in any case, and alone on its
  line (no ``=``) means true. The paths need a value.
- An unknown section, subsection or variable is an error (``can't store data at section
  "X", variable "Y"``), and so is a variable before the first section.
- An empty or missing path takes its default, ``mod_block/block_rules.data`` or
  ``mod_block/ip_blocklist.data``, with a warning. A path starting with ``/`` is used as
  is; any other is joined to the conf root and cleaned like Go's ``path.Join``.

Every problem is reported at once (:class:`~stockade.errors.BlockConfError`, each as
``line:col: text``); BFE stops at its first.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass

from stockade.errors import BlockConfError

__all__ = [
    "DEFAULT_IP_BLOCKLIST_PATH",
    "DEFAULT_RULE_PATH",
    "ModuleConf",
    "conf_path",
    "go_path_join",
    "load_module_conf",
    "parse_module_conf",
]

DEFAULT_RULE_PATH = "mod_block/block_rules.data"
DEFAULT_IP_BLOCKLIST_PATH = "mod_block/ip_blocklist.data"

# section -> variable -> kind; names folded (see _fold).
_SCHEMA: dict[str, dict[str, str]] = {
    "basic": {"productrulepath": "ProductRulePath", "ipblocklistpath": "IPBlocklistPath"},
    "log": {"opendebug": "OpenDebug"},
}
_BOOLS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t"}


@dataclass(frozen=True, slots=True)
class ModuleConf:
    """mod_block's settings: the two data files (resolved against the conf root), the debug flag, and warnings."""

    product_rule_path: str
    ip_blocklist_path: str
    open_debug: bool = False
    warnings: tuple[str, ...] = ()


def go_path_join(*elements: str) -> str:
    """Go's ``path.Join``: the non-empty elements joined by ``/`` and cleaned lexically; ``""`` if all are empty."""
    joined = "/".join(element for element in elements if element)
    return _go_clean(joined) if joined else ""


def _go_clean(path: str) -> str:
    """Go's ``path.Clean``: no ``.``, no ``..`` after a name, no doubled ``/``; ``"."`` for nothing."""
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def conf_path(path: str, conf_root: str) -> str:
    """BFE's ``ConfPathProc``: an absolute path as is, else joined to the conf root."""
    return path if path.startswith("/") else go_path_join(conf_root, path)


def load_module_conf(path: str, conf_root: str | None = None) -> ModuleConf:
    """Read ``mod_block.conf``; ``conf_root`` defaults to the directory above the file's (``<root>/mod_block/``)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        text = exc.strerror or str(exc)
        raise BlockConfError(path, [(0, 0, f"open {path}: {text[:1].lower()}{text[1:]}")]) from None
    root = conf_root if conf_root is not None else os.path.dirname(os.path.dirname(path))
    return parse_module_conf(data, conf_root=root, file=path)


def parse_module_conf(data: bytes | str, *, conf_root: str, file: str = "mod_block.conf") -> ModuleConf:
    """The settings of a ``mod_block.conf`` content; raise :class:`BlockConfError` listing every problem."""
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    if len(raw) > 3 and raw.startswith(b"\xef\xbb\xbf"):  # gcfg skips one UTF-8 byte order mark
        raw = raw[3:]
    reader = _Reader(raw)
    values = reader.read()
    if reader.issues:
        raise BlockConfError(file, reader.issues)
    warnings: list[str] = []
    rule_path = values.get(("basic", "productrulepath"), "")
    if not isinstance(rule_path, str) or not rule_path:
        warnings.append("ModBlock.ProductRulePath not set, use default value")
        rule_path = DEFAULT_RULE_PATH
    blocklist_path = values.get(("basic", "ipblocklistpath"), "")
    if not isinstance(blocklist_path, str) or not blocklist_path:
        warnings.append("ModBlock.IPBlocklistPath not set, use default value")
        blocklist_path = DEFAULT_IP_BLOCKLIST_PATH
    debug = values.get(("log", "opendebug"), False)
    return ModuleConf(
        conf_path(rule_path, conf_root), conf_path(blocklist_path, conf_root), bool(debug), tuple(warnings)
    )


def _fold(name: str) -> str:
    """A name as Go's ``strings.EqualFold`` compares it with an ASCII field name (U+212A and U+017F fold to k, s)."""
    return name.replace("\u212a", "k").replace("\u017f", "s").lower()


def _is_letter(char: str) -> bool:
    if char.isascii():
        return char.isalpha()
    return unicodedata.category(char).startswith("L")


def _is_digit(char: str) -> bool:
    if char.isascii():
        return "0" <= char <= "9"
    return unicodedata.category(char) == "Nd"


class _Reader:
    """A line-oriented reading of gcfg's grammar that records issues and resynchronises at the next line."""

    def __init__(self, raw: bytes) -> None:
        self.issues: list[tuple[int, int, str]] = []
        if b"\x00" in raw:
            line = raw[: raw.index(b"\x00")].count(b"\n") + 1
            self.issues.append((line, 0, "illegal character NUL"))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            self.issues.append((line, 0, "illegal UTF-8 encoding"))
            text = raw.decode("utf-8", "replace")
        self.lines = text.split("\n")

    def issue(self, line: int, col: int, message: str) -> None:
        self.issues.append((line, col, message))

    def read(self) -> dict[tuple[str, str], str | bool]:
        values: dict[tuple[str, str], str | bool] = {}
        section: str | None = None  # folded; "" for a section we cannot store into
        number = 0
        while number < len(self.lines):
            text = self.lines[number]
            number += 1
            pos = _skip_blanks(text, 0)
            if pos >= len(text) or text[pos] in ";#":
                continue
            if text[pos] == "[":
                section = self.header(number, text, pos)
                continue
            if not _is_letter(text[pos]):
                self.issue(number, pos + 1, "expected section header or variable declaration")
                continue
            end = _name_end(text, pos)
            name = text[pos:end]
            if section is None:
                self.issue(number, pos + 1, "expected section header")
                continue
            rest = _skip_blanks(text, end)
            if rest >= len(text) or text[rest] in ";#":
                self.assign(number, pos + 1, section, name, None, into=values)
                continue
            if text[rest] != "=":
                self.issue(number, rest + 1, "expected '='")
                continue
            value, number = self.value(number, text, rest + 1)
            if value is not None:
                self.assign(number, pos + 1, section, name, value, into=values)
        return values

    def header(self, number: int, text: str, pos: int) -> str:
        pos = _skip_blanks(text, pos + 1)
        if pos >= len(text) or not _is_letter(text[pos]):
            self.issue(number, pos + 1, "expected section name")
            return ""
        end = _name_end(text, pos)
        name = text[pos:end]
        pos = _skip_blanks(text, end)
        subsection: str | None = None
        if pos < len(text) and text[pos] == '"':
            subsection, pos = _quoted(text, pos)
            if subsection is None:
                self.issue(number, pos + 1, "string not terminated")
                return ""
            if subsection == "":
                self.issue(number, pos + 1, "empty subsection name")
            pos = _skip_blanks(text, pos)
        if pos >= len(text) or text[pos] != "]":
            self.issue(number, pos + 1, "expected right bracket")
            return ""
        pos = _skip_blanks(text, pos + 1)
        if pos < len(text) and text[pos] not in ";#":
            self.issue(number, pos + 1, "expected EOL, EOF, or comment")
        folded = _fold(name)
        if folded not in _SCHEMA:
            self.issue(number, 1, f'can\'t store data at section "{name}"')
            return ""
        if subsection:
            self.issue(number, 1, f'can\'t store data at section "{name}", subsection "{subsection}"')
            return ""
        return folded

    def value(self, number: int, text: str, pos: int) -> tuple[str | None, int]:
        """The value after ``=`` (quotes and escapes resolved, continuation lines joined), and the last line read."""
        out: list[str] = []
        pending = ""  # blanks kept only if more value follows
        in_quote = False
        pos = _skip_blanks(text, pos)
        start_line, start_col = number, pos + 1  # gcfg reports a value's errors where it starts
        while True:
            if pos >= len(text):
                if in_quote:
                    self.issue(start_line, start_col, "string not terminated")
                    return None, number
                break
            char = text[pos]
            if not in_quote and char in ";#":
                break
            pos += 1
            if char == '"':
                in_quote = not in_quote
                out.append(pending)
                pending = ""
            elif char == "\\" and in_quote:
                escaped = text[pos : pos + 1]
                if escaped not in _ESCAPES:
                    self.issue(number, pos + 1, "unknown escape sequence")
                    return None, number
                out.append(pending + _ESCAPES[escaped])
                pending = ""
                pos += 1
            elif char == "\\":
                if text[pos:] not in ("", "\r") or number >= len(self.lines):
                    self.issue(start_line, start_col, "unquoted '\\' must be followed by new line")
                    return None, number
                out.append(pending)
                pending = ""
                text, pos = self.lines[number], 0
                number += 1
            elif char == "\r":
                continue
            elif char in " \t" and not in_quote:
                pending += char
            else:
                out.append(pending + char)
                pending = ""
        return "".join(out), number

    def assign(
        self,
        number: int,
        col: int,
        section: str,
        name: str,
        value: str | None,
        *,
        into: dict[tuple[str, str], str | bool],
    ) -> None:
        if not section:
            return  # the section's own issue was reported at its header
        field = _SCHEMA[section].get(_fold(name))
        if field is None:
            shown = {"basic": "Basic", "log": "Log"}[section]
            self.issue(number, col, f'can\'t store data at section "{shown}", variable "{name}"')
            return
        if field == "OpenDebug":
            if value is None:
                into[section, "opendebug"] = True
            elif value.lower() in _BOOLS:
                into[section, "opendebug"] = _BOOLS[value.lower()]
            else:
                self.issue(number, col, f"failed to parse {value!r} as bool for {field}")
            return
        if value is None:
            self.issue(number, col, f"blank value not supported for type string ({field} needs '= <path>')")
            return
        into[section, field.lower()] = value


def _skip_blanks(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r":
        pos += 1
    return pos


def _name_end(text: str, pos: int) -> int:
    pos += 1
    while pos < len(text) and (_is_letter(text[pos]) or _is_digit(text[pos]) or text[pos] == "-"):
        pos += 1
    return pos


def _quoted(text: str, pos: int) -> tuple[str | None, int]:
    """A ``"..."`` subsection name starting at ``pos``: its text and the position after the closing quote."""
    out: list[str] = []
    pos += 1
    while pos < len(text):
        char = text[pos]
        pos += 1
        if char == '"':
            return "".join(out), pos
        if char == "\\":
            escaped = text[pos : pos + 1]
            out.append(_ESCAPES.get(escaped, escaped))
            pos += 1
        else:
            out.append(char)
    return None, pos
