"""The subset of gjson paths that BFE's ``req_body_json_*`` conditions read from a JSON body.

BFE looks values up with ``gjson.GetBytes(body, path).String()``. This module reproduces
that for dotted keys (with ``\\`` escapes), array indices and a final ``#`` (array
length); the rest of gjson's syntax (wildcards, queries, modifiers, pipes) reads as ``""``,
as do invalid JSON, ``null`` and a missing path. Only the first 2 MiB of a body are read,
and a body nested deeper than :data:`MAX_DEPTH` reads as invalid (bounded work). A lone
UTF-16 surrogate escape (``"\\ud800"``) reads as U+FFFD, as gjson reads it. The native
evaluator (``native/core/src/conditions/jsonpath.rs``) follows the same rules.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from decimal import Decimal

__all__ = ["BODY_LIMIT", "MAX_DEPTH", "json_path_value"]

BODY_LIMIT = 2 * 1024 * 1024  # BFE reads at most 2 MiB of a body for JSON conditions
MAX_DEPTH = 400  # objects and arrays nested deeper make the body invalid


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_INTEGER = re.compile(r"-?[0-9]+")
_NESTING = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_SURROGATE = re.compile("[\ud800-\udfff]")


def _too_deep(text: str) -> bool:
    """Whether (valid JSON) ``text`` nests objects and arrays deeper than :data:`MAX_DEPTH`."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return False
    depth = 0
    for token in _NESTING.finditer(text):
        mark = token.group()
        if mark in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif mark in "]}":
            depth -= 1
    return False


def _text(value: str) -> str:
    """A decoded JSON string with any lone surrogate as U+FFFD (gjson decodes them so)."""
    return value if value.isascii() else _SURROGATE.sub("\ufffd", value)


def _path_parts(path: str) -> tuple[list[str], bool] | None:
    """Split a gjson path on unescaped dots, and tell whether it ends with a bare ``#`` (array length).

    ``None`` for syntax outside the subset: wildcards, queries, modifiers, pipes.
    """
    parts: list[str] = []
    current: list[str] = []
    special = False  # the current component holds an unescaped special character
    chars = iter(path)
    for char in chars:
        if char == "\\":
            current.append(next(chars, ""))
        elif char == ".":
            if special:
                return None
            parts.append("".join(current))
            current = []
        else:
            special = special or char in "*?|@!#"
            current.append(char)
    last = "".join(current)
    if special and last != "#":
        return None
    if not special:
        parts.append(last)
    return parts, special


def _skip(text: str, pos: int) -> int:
    match = _WHITESPACE.match(text, pos)
    return match.end() if match else pos


def _members(text: str, pos: int) -> Iterator[tuple[str | int, int]]:
    """The key (or index) and value position of each member of the object or array at ``pos``."""
    is_object = text[pos] == "{"
    closing = "}" if is_object else "]"
    pos = _skip(text, pos + 1)
    index = 0
    while text[pos] != closing:
        name: str | int = index
        if is_object:
            key, pos = _DECODER.raw_decode(text, pos)
            name = _text(key)
            pos = _skip(text, _skip(text, pos) + 1)  # past the ':'
        yield name, pos
        pos = _skip(text, _DECODER.raw_decode(text, pos)[1])
        index += 1
        if text[pos] == ",":
            pos = _skip(text, pos + 1)


def _number_text(raw: str) -> str:
    """gjson's ``Result.String()`` of a number: integers as written, others as Go's ``FormatFloat(f, 'f', -1)``."""
    if _INTEGER.fullmatch(raw):
        return raw
    value = float(raw)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def json_path_value(body: bytes | None, path: str) -> str:
    """BFE's ``gjson.GetBytes(body, path).String()`` for dotted keys, array indices and a final ``#``.

    Strings come back unquoted, numbers as gjson prints them, ``true``/``false`` as text,
    objects and arrays as their raw JSON. No body, invalid JSON, ``null``, a missing path or
    a path outside the subset (wildcards, queries, modifiers) give ``""``.
    """
    split = _path_parts(path) if path else None
    if body is None or split is None:
        return ""
    parts, count = split
    try:
        text = body[:BODY_LIMIT].decode("utf-8")
        _DECODER.decode(text)
    except (ValueError, RecursionError):
        return ""
    if _too_deep(text):
        return ""
    pos = _skip(text, 0)
    for part in parts:
        if text[pos] == "{":
            wanted: str | int = part
        elif text[pos] == "[" and part.isascii() and part.isdigit():
            wanted = int(part)
        else:
            return ""
        pos = next((found for name, found in _members(text, pos) if name == wanted), -1)
        if pos < 0:
            return ""
    if count:
        return str(sum(1 for _ in _members(text, pos))) if text[pos] == "[" else ""
    value, end = _DECODER.raw_decode(text, pos)
    if isinstance(value, str):
        return _text(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number_text(text[pos:end])
    return text[pos:end]
