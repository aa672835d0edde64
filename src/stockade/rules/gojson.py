"""Decode JSON the way BFE's Go decoders see it.

BFE reads ``block_rules.data`` with a ``json.Decoder`` (jsoniter, compatible with the
standard library) and the blocklist's meta header with ``encoding/json``. What differs
from :func:`json.loads`:

- only the **first** JSON value is decoded; whatever follows it is never read;
- an empty input (or only whitespace) is the error ``EOF``;
- ``NaN`` and ``Infinity`` are not JSON;
- objects keep every key in order, so that the caller can match struct fields
  case-insensitively with the last matching key winning, as Go does;
- a lone surrogate from a ``\\ud800`` escape becomes U+FFFD in Go: :func:`go_string`
  does that for the strings a caller keeps.

Decoded values keep no positions; :func:`locate` finds where a value sits in the text
again (only an error needs it), and :func:`string_offset` where a character of a string
value sits, escapes counted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence

__all__ = [
    "JSONObject",
    "JSONSyntaxError",
    "decode_first",
    "go_string",
    "go_type_name",
    "line_column",
    "locate",
    "string_at",
    "string_offset",
]

Step = int | Callable[[str], bool]  # an array index, or which keys of an object match

_WHITESPACE = " \t\n\r"
_SURROGATE = re.compile("[\ud800-\udfff]")


class JSONObject(list[tuple[str, object]]):
    """A JSON object as its ``(key, value)`` pairs in file order (duplicates kept)."""


class JSONSyntaxError(ValueError):
    """The text is not JSON; ``line`` and ``column`` are 1-based, 0 when unknown."""

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column

    def __str__(self) -> str:
        if not self.line:
            return self.message
        return f"{self.message} (line {self.line}, column {self.column})"


def _no_constant(name: str) -> object:
    raise ValueError(f"invalid character {name[0]!r} looking for beginning of value")


def _pairs(pairs: list[tuple[str, object]]) -> JSONObject:
    return JSONObject((go_string(key), value) for key, value in pairs)


def go_string(text: str) -> str:
    """``text`` with lone surrogates (from ``\\ud800``-style escapes) as U+FFFD, as Go decodes them."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_no_constant)


def decode_first(text: str) -> object:
    """The first JSON value of ``text`` (objects as :class:`JSONObject`); raise :class:`JSONSyntaxError`."""
    start = len(text) - len(text.lstrip(_WHITESPACE))
    if start == len(text):
        raise JSONSyntaxError("EOF")
    try:
        value, _end = _DECODER.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        raise JSONSyntaxError(exc.msg, exc.lineno, exc.colno) from None
    except ValueError as exc:
        raise JSONSyntaxError(str(exc)) from None
    except RecursionError:
        raise JSONSyntaxError("exceeded max depth") from None
    return value


def go_type_name(value: object) -> str:
    """The JSON kind Go names in an ``UnmarshalTypeError``: string, number, bool, array, object."""
    if isinstance(value, JSONObject):
        return "object"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    return "null"


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in _WHITESPACE:
        index += 1
    return index


def locate(text: str, path: Sequence[Step]) -> int | None:
    """The offset of the first character of the value at ``path`` in the first JSON value of ``text``.

    Of an object's keys that match a step the last one counts, as Go's decoders keep the
    last. ``None`` when the path is not there (or the text is not JSON).
    """
    try:
        return _locate(text, _skip_space(text, 0), path)
    except (ValueError, IndexError, RecursionError):
        return None


def _locate(text: str, start: int, path: Sequence[Step]) -> int | None:
    if not path:
        return start
    step, rest = path[0], path[1:]
    found: int | None = None
    if isinstance(step, int) and text[start] == "[":
        index = _skip_space(text, start + 1)
        for _ in range(step):
            if text[index] == "]":
                return None
            index = _skip_space(text, _DECODER.raw_decode(text, index)[1])
            index = _skip_space(text, index + 1) if text[index] == "," else index
        found = None if text[index] == "]" else index
    elif callable(step) and text[start] == "{":
        index = _skip_space(text, start + 1)
        while text[index] != "}":
            key, index = _DECODER.raw_decode(text, index)
            index = _skip_space(text, _skip_space(text, index) + 1)  # past the colon
            if step(go_string(key)):
                found = index
            index = _skip_space(text, _DECODER.raw_decode(text, index)[1])
            index = _skip_space(text, index + 1) if text[index] == "," else index
    return None if found is None else _locate(text, found, rest)


def string_at(text: str, start: int) -> str:
    """The JSON string whose quote is at ``start``, decoded as Go decodes it."""
    value, _end = _DECODER.raw_decode(text, start)
    return go_string(str(value))


def string_offset(text: str, start: int, index: int) -> int:
    """The offset in ``text`` of character ``index`` of the JSON string whose quote is at ``start``.

    An escape is one character however long it is spelt (a surrogate pair too, as it
    decodes to one); an index past the end gives the closing quote.
    """
    offset = start + 1
    for _ in range(index):
        if offset >= len(text) or text[offset] == '"':
            break
        if text[offset] != "\\":
            offset += 1
        elif text[offset + 1] != "u":
            offset += 2
        else:
            high = int(text[offset + 2 : offset + 6], 16)
            offset += 6
            if 0xD800 <= high < 0xDC00 and text[offset : offset + 2] == "\\u":
                low = int(text[offset + 2 : offset + 6], 16)
                offset += 6 if 0xDC00 <= low < 0xE000 else 0
    return offset


def line_column(text: str, offset: int) -> tuple[int, int]:
    """The 1-based line and column (in characters) of ``offset``."""
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1
