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
"""

from __future__ import annotations

import json
import re

__all__ = ["JSONObject", "JSONSyntaxError", "decode_first", "go_string", "go_type_name"]

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
