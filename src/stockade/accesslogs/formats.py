"""Lines of a proxy's access log as entries: the combined format, and JSON lines with a field map.

The **combined** format is nginx's and Apache's default::

    203.0.113.7 - - [10/Oct/2026:13:55:36 +0000] "GET /.env HTTP/1.1" 404 153 "-" "curl/8.0"

Both escape what may not show in a log line: nginx writes ``\\xHH`` for ``"``, ``\\`` and
bytes outside printable ASCII; Apache writes ``\\"``, ``\\\\`` and ``\\xhh``. Both are undone,
so the request target is the bytes the client sent. A request line that is not
``METHOD TARGET PROTOCOL`` (what a scanner sends to a web port, logged with status 400)
still has its status counted; it has no target.

A **JSON** line is an object; :class:`JsonFields` reads each value stockade needs from the
key the field map names (a dotted path reaches into nested objects, as in Caddy's
``request.client_ip``; a list, as Caddy writes a header's values, gives its first item).

The time a line carries is not read: lines are counted as they are read, on the clock of
the guard, as a server counts the requests it sees.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from stockade.accesslogs.settings import DEFAULT_FIELDS, LogSettings

__all__ = ["JsonFields", "LineError", "LogEntry", "parse_combined", "parser_for"]

_COMBINED: Final = re.compile(
    rb'^(?P<client>\S+) \S+ (?:\S+|"[^"]*") \[[^\]]*\] "(?P<request>(?:[^"\\]|\\.)*)" (?P<status>\d{3}) \S+'
    rb'(?: "(?P<referer>(?:[^"\\]|\\.)*)" "(?P<agent>(?:[^"\\]|\\.)*)")?'
)
_ESCAPE: Final = re.compile(rb"\\(x[0-9A-Fa-f]{2}|.)")
_TOKEN: Final = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


class LineError(ValueError):
    """A line that is not an access-log entry of the configured format."""


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One logged request: who asked what, and the status it got.

    ``target`` is the request target as sent (path and query), ``None`` when the logged
    request line is not one; ``forwarded_for`` is the logged ``X-Forwarded-For``, if any.
    """

    client: str
    status: int
    method: str = ""
    target: bytes | None = None
    protocol: str = "HTTP/1.1"
    host: str = ""
    user_agent: str = ""
    referer: str = ""
    forwarded_for: str = ""


def parse_combined(line: bytes) -> LogEntry:
    """A combined-format line; raises :class:`LineError` for a line of another shape."""
    found = _COMBINED.match(line)
    if found is None:
        raise LineError("not a combined-format line")
    method, target, protocol = _request_line(_unescape(found["request"]))
    return LogEntry(
        client=found["client"].decode("latin-1"),
        status=int(found["status"]),
        method=method,
        target=target,
        protocol=protocol,
        user_agent=_text(found["agent"]),
        referer=_text(found["referer"]),
    )


class JsonFields:
    """JSON lines read through a field map (see :data:`~stockade.accesslogs.settings.DEFAULT_FIELDS`)."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        merged = {**DEFAULT_FIELDS, **fields}
        self._paths = {name: _path(key) for name, key in merged.items()}

    def __call__(self, line: bytes) -> LogEntry:
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError; nesting too deep
            raise LineError("not a JSON line") from None
        if not isinstance(record, dict):
            raise LineError("not a JSON object")
        client = self._value(record, "client")
        status_text = self._value(record, "status")
        if not client or len(status_text) != 3 or not status_text.isascii() or not status_text.isdigit():
            raise LineError("no client or no HTTP status in the line")
        if not 100 <= int(status_text) <= 599:
            raise LineError("no client or no HTTP status in the line")
        method, uri = self._value(record, "method"), self._value(record, "uri")
        protocol = self._value(record, "protocol")
        target: bytes | None = None
        if uri:
            target = uri.encode("utf-8", "surrogateescape")
            if not _TOKEN.match(method.encode("latin-1", "replace")):
                method, target = "", None
        else:
            request = self._value(record, "request")
            if request:
                method, target, logged = _request_line(request.encode("utf-8", "surrogateescape"))
                protocol = protocol or logged
        return LogEntry(
            client=client,
            status=int(status_text),
            method=method if target is not None else "",
            target=target,
            protocol=protocol or "HTTP/1.1",
            host=self._value(record, "host"),
            user_agent=self._value(record, "user_agent"),
            referer=self._value(record, "referer"),
            forwarded_for=self._value(record, "forwarded_for"),
        )

    def _value(self, record: Mapping[str, object], name: str) -> str:
        path = self._paths[name]
        if not path:
            return ""
        value: object = record.get(".".join(path)) if len(path) > 1 else None
        if value is None:
            value = record
            for key in path:
                if isinstance(value, list):
                    value = value[0] if value else None
                if not isinstance(value, dict):
                    return ""
                value = value.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, bool) or value is None or value == "-":
            return ""
        if isinstance(value, int | float | str):
            return str(value)
        return ""


def parser_for(settings: LogSettings) -> Callable[[bytes], LogEntry]:
    """The parser of a log's lines."""
    return JsonFields(settings.fields) if settings.format == "json" else parse_combined


def _path(key: str) -> tuple[str, ...]:
    return tuple(key.split(".")) if key else ()


def _request_line(line: bytes) -> tuple[str, bytes | None, str]:
    """``METHOD TARGET PROTOCOL`` (HTTP/0.9's ``METHOD TARGET`` too); no target for anything else."""
    parts = line.split(b" ")
    if len(parts) not in (2, 3) or not _TOKEN.match(parts[0]) or not parts[1]:
        return "", None, "HTTP/1.1"
    protocol = parts[2].decode("latin-1") if len(parts) == 3 else "HTTP/0.9"
    return parts[0].decode("latin-1"), parts[1], protocol


def _unescape(value: bytes) -> bytes:
    if b"\\" not in value:
        return value
    return _ESCAPE.sub(lambda m: bytes([int(m[1][1:], 16)]) if len(m[1]) == 3 else m[1], value)


def _text(value: bytes | None) -> str:
    if not value or value == b"-":
        return ""
    return _unescape(value).decode("utf-8", "replace")
