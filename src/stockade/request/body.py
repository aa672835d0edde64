"""The first bytes of a request body, read before the checks decide, and the whole body after.

Detection inspects a body only up to ``[bans] body_limit`` bytes, and it must see them
before the request is decided: a malicious body counts its strike before the app or the
upstream runs. A front therefore reads that much ahead (nothing more, and only when the
checks will inspect the request, see :meth:`~stockade.engine._async.ladder.AsyncLadder.body_wanted`),
gives it to the canonical request, and hands the app or the upstream the whole body
unchanged: the bytes read ahead first, then the rest streamed as before. A request never
holds more than the limit (plus what one read of the server brings) however large its body.

ASGI (the protecting server, the ASGI middleware): :func:`read_ahead` takes ``http.request``
messages from ``receive`` (so the server's flow control, its body timeout and its
``100 Continue`` apply as when the app reads), and :meth:`BodyAhead.replay` is the
``receive`` the app gets. WSGI (the middleware, Django, Flask): :func:`read_ahead_wsgi` reads
from ``wsgi.input`` within ``CONTENT_LENGTH`` and puts a :class:`PrefixedInput` in its place.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]

_CHUNK = 64 * 1024  # what the WSGI front asks of wsgi.input at a time


def announced_body(headers: Sequence[tuple[bytes, bytes]], http_version: str) -> tuple[bool, int | None]:
    """Whether an ASGI request has a body, and its ``Content-Length`` when it gives one.

    HTTP/1 frames a body by ``Content-Length`` or ``Transfer-Encoding`` (RFC 9112 section
    6.3): a request with neither has none. HTTP/2 and HTTP/3 may send one without a length.
    """
    length: int | None = None
    for name, value in headers:
        if len(name) == 17 and name == b"transfer-encoding":
            return True, None
        if len(name) == 14 and name == b"content-length":
            length = int(value) if value.isdigit() else None
    if length is not None:
        return length > 0, length
    return not http_version.startswith("1"), None


@dataclass(slots=True)
class BodyAhead:
    """What :func:`read_ahead` read: ``body`` for the checks, the messages the app gets first.

    ``uninspected`` counts the body bytes beyond the limit known at this point: the rest of
    the announced ``Content-Length``, else the bytes that arrived beyond the limit.
    """

    body: bytes
    uninspected: int
    messages: list[Message]

    def replay(self, receive: Receive) -> Receive:
        """A ``receive`` that gives the messages read ahead, then passes on to ``receive``."""
        pending = deque(self.messages)
        self.messages = []

        async def replayed() -> Message:
            if pending:
                return pending.popleft()
            return await receive()

        return replayed


async def read_ahead(receive: Receive, limit: int, length: int | None) -> BodyAhead | None:
    """Read the body from ``receive`` until ``limit`` bytes or its end; ``None`` if the client went away.

    ``length`` is the announced ``Content-Length``, if any. The pieces are joined into at
    most two messages: the first ``limit`` bytes (the same object as :attr:`BodyAhead.body`),
    then what the last read brought beyond them.
    """
    pieces: list[bytes] = []
    size = 0
    more = True
    while more and size < limit:
        message = await receive()
        if message["type"] != "http.request":
            return None  # http.disconnect: the client left (or timed out) in the middle of its body
        piece: bytes = message.get("body", b"")
        if piece:
            pieces.append(piece)
            size += len(piece)
        more = bool(message.get("more_body", False))
    data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
    del pieces
    body, rest = (data[:limit], data[limit:]) if size > limit else (data, b"")
    del data
    uninspected = length - len(body) if more and length is not None else len(rest)
    messages: list[Message] = [{"type": "http.request", "body": body, "more_body": more or bool(rest)}]
    if rest:
        messages.append({"type": "http.request", "body": rest, "more_body": more})
    return BodyAhead(body, max(uninspected, 0), messages)


# -- WSGI ---------------------------------------------------------------------------------------


class InputStream(Protocol):
    """The part of a WSGI input stream (PEP 3333) that is read here."""

    def read(self, size: int = -1, /) -> bytes: ...

    def readline(self, size: int = -1, /) -> bytes: ...


def wsgi_content_length(environ: MutableMapping[str, Any]) -> int | None:
    """``CONTENT_LENGTH`` as a number; ``None`` when absent or not a number."""
    value = str(environ.get("CONTENT_LENGTH") or "").strip()
    return int(value) if value.isdigit() else None


def wsgi_has_body(environ: MutableMapping[str, Any]) -> bool:
    """Whether a WSGI request has a body that can be read safely.

    One with a ``CONTENT_LENGTH`` above 0, or a chunked one from a server that ends the
    stream at the end of the body (``wsgi.input_terminated``); a body without a length from
    another server cannot be read without risking to read past it (PEP 3333).
    """
    length = wsgi_content_length(environ)
    if length is not None:
        return length > 0
    return bool(environ.get("wsgi.input_terminated") and environ.get("HTTP_TRANSFER_ENCODING"))


def read_ahead_wsgi(environ: MutableMapping[str, Any], limit: int) -> tuple[bytes, int] | None:
    """Read up to ``limit`` body bytes from ``wsgi.input`` and put a :class:`PrefixedInput` in its place.

    Returns the bytes read and the count of those known to lie beyond them, or ``None`` for
    a request without a body (:func:`wsgi_has_body`; nothing is read then). A body is read
    within its ``CONTENT_LENGTH``; a chunked one until its end or the limit.
    ``CONTENT_LENGTH`` stays as it is: the app reads the same body.
    """
    if not wsgi_has_body(environ):
        return None
    length = wsgi_content_length(environ)
    wanted = limit if length is None else min(limit, length)
    stream: InputStream = environ["wsgi.input"]
    pieces: list[bytes] = []
    size = 0
    while size < wanted:
        piece = stream.read(min(wanted - size, _CHUNK))
        if not piece:
            break
        pieces.append(piece)
        size += len(piece)
    body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
    del pieces
    remaining = None if length is None else length - len(body)
    environ["wsgi.input"] = PrefixedInput(body, stream, remaining)
    return body, remaining or 0


class PrefixedInput:
    """A WSGI input stream: ``prefix`` (the bytes read ahead), then the rest of ``stream``.

    With ``remaining`` (what the ``CONTENT_LENGTH`` leaves after the prefix), the stream is
    never read past the body, whatever size the app asks for. ``read(n)`` gives ``n`` bytes
    unless the body ends first, as the servers' own streams do, and a line that spans the
    prefix and the rest comes whole from ``readline``.
    """

    def __init__(self, prefix: bytes, stream: InputStream, remaining: int | None) -> None:
        self._prefix = prefix
        self._pos = 0
        self._stream = stream
        self._remaining = remaining

    def read(self, size: int | None = -1, /) -> bytes:
        if size is None or size < 0:
            return self._take(len(self._prefix)) + self._rest(-1)
        head = self._take(size)
        if len(head) == size:
            return head
        return head + self._rest(size - len(head))

    def readline(self, size: int | None = -1, /) -> bytes:
        if size is None:
            size = -1
        prefix, pos = self._prefix, self._pos
        if pos < len(prefix):
            stop = len(prefix) if size < 0 else min(len(prefix), pos + size)
            end = prefix.find(b"\n", pos, stop)
            head = self._take((end + 1 if end >= 0 else stop) - pos)
            if end >= 0 or len(head) == size:
                return head
            return head + self._rest_line(-1 if size < 0 else size - len(head))
        return self._rest_line(size)

    def readlines(self, hint: int | None = -1, /) -> list[bytes]:
        lines: list[bytes] = []
        total = 0
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        """Let the prefix go; the server's stream is the server's to close (Django closes its body stream)."""
        self._prefix, self._pos, self._remaining = b"", 0, 0

    def _take(self, size: int) -> bytes:
        """Up to ``size`` bytes of the prefix; the prefix is let go once read."""
        prefix, pos = self._prefix, self._pos
        if pos >= len(prefix):
            return b""
        if pos == 0 and size >= len(prefix):
            self._prefix = b""
            return prefix
        piece = prefix[pos : pos + size]
        self._pos = pos + len(piece)
        if self._pos >= len(prefix):
            self._prefix, self._pos = b"", 0
        return piece

    def _bounded(self, size: int) -> int:
        """``size`` (``-1``: all) within what is left of the body; 0 at its end."""
        remaining = self._remaining
        if remaining is None:
            return size
        if remaining <= 0:
            return 0
        return remaining if size < 0 else min(size, remaining)

    def _rest(self, size: int) -> bytes:
        size = self._bounded(size)
        if size == 0:
            return b""
        data = self._stream.read(size)
        if self._remaining is not None:
            self._remaining -= len(data)
        return data

    def _rest_line(self, size: int) -> bytes:
        size = self._bounded(size)
        if size == 0:
            return b""
        line = self._stream.readline(size)
        if self._remaining is not None:
            self._remaining -= len(line)
        return line
