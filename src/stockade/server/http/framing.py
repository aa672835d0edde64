"""Bytes of HTTP/1.1 responses: status lines, header checks, chunks, the server's own answers."""

from __future__ import annotations

import re
from collections.abc import Iterable
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


# What the framing of a response makes of a header: most are passed on as they are.
OTHER, LENGTH, TRANSFER_ENCODING, CONNECTION, DATE = range(5)
_KINDS = {b"content-length": LENGTH, b"transfer-encoding": TRANSFER_ENCODING, b"connection": CONNECTION, b"date": DATE}
_NO_LINE = b""

# Responses repeat their headers (the same server, content type, length): each pair is
# checked and made into its line once, then looked up. Long values (cookies) are not kept.
HeaderEntry = tuple[int, bytes, bytes]
HEADER_LINES: dict[tuple[bytes, bytes], HeaderEntry] = {}
_LINES_KEPT = 4096
_LONGEST_KEPT = 256


def header_entry(name: bytes, value: bytes) -> HeaderEntry:
    """``(kind, line, value)`` of a response header, checked (see :func:`header_line`).

    ``line`` is empty for ``transfer-encoding`` (the server frames the body itself, so its
    value is never sent and not checked); ``value`` is lower-cased for ``connection``.
    Raises ``ValueError`` for a ``content-length`` that is not a non-negative integer.
    """
    kind = _KINDS.get(name.lower(), OTHER)
    if kind == TRANSFER_ENCODING:
        entry: HeaderEntry = (kind, _NO_LINE, value)
    else:
        if kind == LENGTH and not value.isdigit():
            raise ValueError(f"invalid content-length {value!r}")
        entry = (kind, header_line(name, value), value.lower() if kind == CONNECTION else value)
    if len(name) + len(value) <= _LONGEST_KEPT and type(name) is bytes and type(value) is bytes:
        if len(HEADER_LINES) >= _LINES_KEPT:
            HEADER_LINES.clear()
        HEADER_LINES[name, value] = entry
    return entry


def header_lines(headers: Iterable[tuple[bytes, bytes]], parts: list[bytes]) -> tuple[int, bool, bytes]:
    """Append the lines of a response's headers to ``parts`` (``transfer-encoding`` left out).

    Returns the last ``content-length`` (-1 for none), whether there is a ``date``, and the
    ``connection`` values lower-cased, run together.
    """
    length = -1
    date = False
    options = b""
    lines = HEADER_LINES
    for pair in headers:
        try:
            entry = lines.get(pair)
        except TypeError:  # a list rather than a tuple
            entry = None
        if entry is None:
            name, value = pair
            entry = header_entry(name, value)
        kind = entry[0]
        if kind:
            if kind == LENGTH:
                length = int(entry[2])
            elif kind == TRANSFER_ENCODING:
                continue  # the server frames the body itself
            elif kind == CONNECTION:  # kept: it may name more hop-by-hop headers
                options += entry[2]
            else:
                date = True
        parts.append(entry[1])
    return length, date, options


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
