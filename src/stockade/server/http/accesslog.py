"""Structured access log: one JSON object a line, one line per response.

Off unless a sink is given, because a line costs 6-12 µs, more than a whole protection
decision. A sink is any callable taking an :class:`AccessEntry`; :class:`JsonLinesLog`
writes them to a file (appended, so several worker processes can share it) or to stdout.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from json.encoder import encode_basestring
from pathlib import Path
from typing import TextIO

_string: Callable[[str], str] = encode_basestring  # a JSON string literal, non-ASCII kept as it is


@lru_cache(maxsize=4)
def _iso_second(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """One answered request."""

    time: float  # when the response was complete, seconds since the epoch
    client: str
    method: str
    path: str  # the request target as sent, query string included
    status: int
    bytes: int  # response body bytes written
    duration_ms: float  # from the end of the request headers to the end of the response
    listener: str  # the listening address, as ``127.0.0.1:8080``

    def to_json(self) -> str:
        """The JSON line, built by hand: ``json.dumps`` of a dict and ``datetime`` cost 14 µs, this 2."""
        second = int(self.time)
        when = f"{_iso_second(second)}.{int((self.time - second) * 1000):03d}Z"
        return (
            f'{{"time":"{when}","client":{_string(self.client)},"method":{_string(self.method)},'
            f'"path":{_string(self.path)},"status":{int(self.status)},"bytes":{int(self.bytes)},'
            f'"duration_ms":{round(float(self.duration_ms), 3)!r},"listener":{_string(self.listener)}}}'
        )


AccessLogSink = Callable[[AccessEntry], None]


class JsonLinesLog:
    """An access log sink writing JSON lines to a text stream, flushed after every line."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    @classmethod
    def open(cls, target: str | Path) -> JsonLinesLog:
        """``"-"`` is stdout; anything else a file opened for appending (and never closed)."""
        if str(target) == "-":
            return cls(sys.stdout)
        return cls(open(target, "a", encoding="utf-8", buffering=1))  # lives as long as the server

    def __call__(self, entry: AccessEntry) -> None:
        self.stream.write(entry.to_json() + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.stream is not sys.stdout:
            self.stream.close()
