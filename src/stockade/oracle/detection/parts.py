"""The parts of a request rules read, each as a list of values.

* ``path``: the canonical path and the raw path decoded up to three times (distinct forms
  only), without RFC 8615's ``/.well-known`` folder;
* ``path_raw``: the path as sent, before any decoding;
* ``query_raw``: the query as sent;
* ``args``: every query argument, form field (urlencoded or multipart, file names included),
  JSON member and XML attribute or text as a ``name=value`` line, decoded once; any other
  body as text;
* ``cookies``: every cookie as a ``name=value`` line, decoded once;
* ``user_agent``, ``referer``: those headers; ``headers``: every named header's value
  (User-Agent, Referer and those the operator adds); ``any_header``: every header's value
  but the cookies (for the few rules whose attacks arrive in any header: Log4Shell,
  Shellshock).

Encoded text (a query, a form body, a ``Cookie`` header) is read lazily: given a gate (see
:mod:`stockade.detection.gate`), only the fields the gate finds something in are split and
decoded, so a 64 KB form with nothing suspicious costs one scan.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from urllib.parse import unquote, unquote_to_bytes

from stockade.detection.request import Request
from stockade.oracle.detection.gate import Gate

_DECODE_ROUNDS = 3
_WELL_KNOWN = re.compile(r"/\.well-known(?=/|$)", re.IGNORECASE)
_BOUNDARY = re.compile(r'boundary="?([^";,]+)"?', re.IGNORECASE)
_DISPOSITION = re.compile(r'\b(name|filename)="([^"]*)"', re.IGNORECASE)
_XML_ATTRIBUTE = re.compile(r"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_XML_TEXT = re.compile(r">([^<]+)<")
_JSON_DEPTH = 32


def path_forms(request: Request) -> list[str]:
    forms = [request.path]
    raw = request.raw_path or request.path
    if raw != request.path:
        forms.append(raw)
    last = raw
    for _ in range(_DECODE_ROUNDS):
        if "%" not in last:
            break
        decoded = unquote(last, errors="replace")
        if decoded == last:
            break
        if decoded not in forms:
            forms.append(decoded)
        last = decoded
    if any(".well-known" in form.lower() for form in forms):
        forms = [_WELL_KNOWN.sub("", form) for form in forms]
    return forms


def fields(data: bytes, separator: bytes, gate: Gate | None, *, plus: bool = True) -> list[str]:
    """``name=value`` lines of the fields of ``data`` (a query, a form, a cookie header), decoded.

    With a ``gate``, only the fields it finds an anchor in.
    """
    if gate is None:
        return [_field(raw, plus) for raw in data.split(separator) if raw.strip()]
    out: list[str] = []
    size, position = len(data), 0
    while position < size:
        start = gate.find(data, position)
        if start < 0:
            break
        if data[start : start + 1] == separator:
            start += 1
        begin = data.rfind(separator, 0, start) + 1
        end = data.find(separator, start)
        end = size if end < 0 else end
        raw = data[begin:end]
        if raw.strip():
            out.append(_field(raw, plus))
        position = end + 1
    return out


def _field(raw: bytes, plus: bool) -> str:
    raw = raw.strip()
    if plus and b"+" in raw:
        raw = raw.replace(b"+", b" ")
    if b"%" in raw:
        raw = unquote_to_bytes(raw)
    return raw.decode("utf-8", "replace")


def body_values(
    request: Request, query_gate: Gate | None, json_gate: Gate | None, value_gate: Gate | None
) -> list[str]:
    """The ``args`` lines of the body: form fields, JSON members, multipart parts, XML values, or the text."""
    body = request.body
    if not body:
        return []
    kind = request.content_type.lower()
    head = body[:1].lstrip() or body.lstrip()[:1]
    if "x-www-form-urlencoded" in kind or (not kind and b"=" in body and b"<" not in body and head not in (b"{", b"[")):
        return fields(body, b"&", query_gate)
    if "json" in kind or (not kind and head in (b"{", b"[")):
        if json_gate is not None and json_gate.find(body) < 0:
            return []
        text = body.decode("utf-8", "replace")
        try:
            document = json.loads(text)
        except ValueError:
            return _gated([text], value_gate)
        return _gated(list(_json_lines(document, "", 0)), value_gate)
    text = body.decode("utf-8", "replace")
    if "multipart/form-data" in kind:
        found = _BOUNDARY.search(request.content_type)
        return _gated(list(_multipart_lines(text, found.group(1))) if found else [text], value_gate)
    if "xml" in kind or text.lstrip().startswith("<"):
        values = [text]
        for found in _XML_ATTRIBUTE.finditer(text):
            values.append(f"{found.group(1)}={found.group(2) if found.group(2) is not None else found.group(3)}")
        values += [m.group(1) for m in _XML_TEXT.finditer(text) if m.group(1).strip()]
        return _gated(values, value_gate)
    return [] if _is_binary(text) else _gated([text], value_gate)


def _is_binary(text: str) -> bool:
    """A NUL, or bytes that are not UTF-8 before the last character (the limit may cut one)."""
    return "\0" in text or "\ufffd" in text.rstrip("\ufffd")


def _gated(values: list[str], gate: Gate | None) -> list[str]:
    return values if gate is None else [value for value in values if gate.touches(value)]


def _json_lines(node: object, name: str, depth: int) -> Iterator[str]:
    if depth > _JSON_DEPTH:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _json_lines(value, str(key), depth + 1)
    elif isinstance(node, list):
        for item in node:
            yield from _json_lines(item, name, depth + 1)
    elif isinstance(node, str) or (node is not None and not isinstance(node, bool)):
        yield f"{name}={node}"
    else:
        yield f"{name}="


def _multipart_lines(text: str, boundary: str) -> Iterator[str]:
    for part in text.split("--" + boundary):
        head, sep, content = part.partition("\r\n\r\n")
        if not sep:
            head, sep, content = part.partition("\n\n")
        if not sep:
            continue
        found = dict((key.lower(), value) for key, value in _DISPOSITION.findall(head))
        name = found.get("name", "")
        content = content.removesuffix("\r\n").removesuffix("\n")
        if "filename" in found:
            yield f"{name}.filename={found['filename']}"
            if _is_binary(content):
                continue
        yield f"{name}={content}"


def cookie_values(request: Request, gate: Gate | None) -> list[str]:
    out: list[str] = []
    for value in request.header_values("cookie"):
        out += fields(value.encode("utf-8", "surrogateescape"), b";", gate, plus=False)
    return out


def header_values(request: Request, names: tuple[str, ...]) -> list[str]:
    return [value for key, value in request.headers if key.lower() in names and value]
