"""Bytes of HTTP/1.1 responses: status lines, header checks, chunks, the server's own answers."""

from __future__ import annotations

import re
from email.utils import formatdate
from http import HTTPStatus

_STATUS_LINES = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n".encode("ascii") for s in HTTPStatus}
# RFC 9110 5.1 (token) and 5.5 (field values: no CR, LF, NUL or other controls but HTAB).
_NOT_TOKEN = re.compile(rb"[^!#$%&'*+\-.^_`|~0-9A-Za-z]")
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")

LAST_CHUNK = b"0\r\n\r\n"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
CLOSE = b"connection: close\r\n"
KEEP_ALIVE = b"connection: keep-alive\r\n"
CHUNKED = b"transfer-encoding: chunked\r\n"


def status_line(status: int) -> bytes:
    line = _STATUS_LINES.get(status)
    if line is not None:
        return line
    if not isinstance(status, int) or not 100 <= status <= 999:
        raise ValueError(f"invalid HTTP status {status!r}")
    return b"HTTP/1.1 %d \r\n" % status


def header_line(name: bytes, value: bytes) -> bytes:
    """``name: value\\r\\n``; raises ``ValueError`` for a name or value that would break the framing."""
    if not name or _NOT_TOKEN.search(name) or _BAD_VALUE.search(value):
        raise ValueError(f"invalid response header {name!r}: {value!r}")
    return name + b": " + value + b"\r\n"


def chunk(data: bytes) -> list[bytes]:
    return [b"%x\r\n" % len(data), data, b"\r\n"]


def date_line(now: float) -> bytes:
    return b"date: " + formatdate(now, usegmt=True).encode("ascii") + b"\r\n"


def canned(status: int, date: bytes) -> bytes:
    """A complete short answer of the server itself, after which it closes the connection."""
    body = HTTPStatus(status).phrase.encode("ascii") + b"\n"
    return b"".join(
        (
            status_line(status),
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: %d\r\n" % len(body),
            CLOSE,
            date,
            b"\r\n",
            body,
        )
    )
