"""The targets a rule can read, each one string per request (values separated by line breaks).

* ``path``: the canonical path and the raw path decoded up to three times (distinct forms
  only), without RFC 8615's ``/.well-known`` folder;
* ``path_raw``: the path as sent, before any decoding;
* ``query_raw``: the query as sent;
* ``args``: every query argument, form field (urlencoded or multipart, file names included)
  and JSON member as a ``name=value`` line, decoded once; any other body as text;
* ``cookies``: every cookie as a ``name=value`` line, decoded once;
* ``user_agent``, ``referer``: those headers; ``headers``: every named header's value
  (User-Agent, Referer and those the operator adds).

Joining the values lets one RE2 pass cover them all; explain finds the line a match sits in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from urllib.parse import unquote, unquote_plus

from stockade.detection.request import Request

TARGETS = ("path", "path_raw", "query_raw", "args", "cookies", "user_agent", "referer", "headers", "method")
DEFAULT_HEADERS = ("user-agent", "referer")
_DECODE_ROUNDS = 3
_WELL_KNOWN = re.compile(r"/\.well-known(?=/|$)", re.IGNORECASE)
_BOUNDARY = re.compile(r'boundary="?([^";,]+)"?', re.IGNORECASE)
_DISPOSITION = re.compile(r'\b(name|filename)="([^"]*)"', re.IGNORECASE)
_JSON_DEPTH = 32


def path_forms(request: Request) -> str:
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
    text = "\n".join(forms)
    if ".well-known" in text or ".WELL-KNOWN" in text.upper():
        text = _WELL_KNOWN.sub("", text)
    return text


def query_args(query: str) -> str:
    if not query:
        return ""
    return unquote_plus(query.replace("&", "\n"), errors="replace")


def body_args(request: Request) -> str:
    body = request.body
    if not body:
        return ""
    kind = request.content_type.lower()
    text = body.decode("utf-8", "replace")
    if "json" in kind or (not kind and text.lstrip()[:1] in ("{", "[")):
        try:
            document = json.loads(text)
        except ValueError:
            return text
        return "\n".join(_json_lines(document, "", 0))
    if "multipart/form-data" in kind:
        found = _BOUNDARY.search(request.content_type)
        if found:
            return "\n".join(_multipart_lines(text, found.group(1)))
        return text
    if "x-www-form-urlencoded" in kind or (not kind and "=" in text and "<" not in text):
        return query_args(text)
    return text


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
        fields = dict((key.lower(), value) for key, value in _DISPOSITION.findall(head))
        name = fields.get("name", "")
        if "filename" in fields:
            yield f"{name}.filename={fields['filename']}"
        yield f"{name}={content.removesuffix(chr(13) + chr(10)).removesuffix(chr(10))}"


def cookie_lines(request: Request) -> str:
    lines = []
    for value in request.header_values("cookie"):
        for part in value.split(";"):
            pair = part.strip()
            if pair:
                lines.append(unquote_plus(pair, errors="replace") if "%" in pair or "+" in pair else pair)
    return "\n".join(lines)


def header_lines(request: Request, names: tuple[str, ...]) -> str:
    return "\n".join(value for key, value in request.headers if key.lower() in names)
