"""One request and its response: the ASGI ``receive`` and ``send`` of an HTTP/1.1 exchange.

Flow control runs both ways. The request body is buffered up to :data:`BODY_HIGH_WATER`,
then the connection stops reading until the app has taken it; ``send`` waits while the
transport's write buffer is above its high-water mark, so a slow client holds the app
back instead of filling memory.

The response head is written together with the first body message: a response that fits
in one message takes one write and gets a ``content-length`` even when the app gave none.
Otherwise an HTTP/1.1 response without a length is chunked, an HTTP/1.0 one is ended by
closing the connection. A response that breaks its framing (more or fewer bytes than its
``content-length``, a header with CR or LF) raises in the app's ``send``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import httptools

from stockade.server.asgi import Message, Scope
from stockade.server.http import framing

if TYPE_CHECKING:
    from stockade.server.http.protocol import HttpProtocol

log = logging.getLogger("stockade.server.http")

BODY_HIGH_WATER = 64 * 1024

_NO_BODY, _LENGTH, _CHUNKED, _UNTIL_CLOSE = range(4)
_LARGE_WRITE = 16 * 1024
_HASH = ord("#")  # an int: `in` on bytes is much slower with a bytes needle
_METHODS = {m.encode(): m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE")}


def target_parts(target: bytes) -> tuple[bytes, bytes, bytes | None]:
    """The raw path, the query and, for an absolute-form target, its authority (else ``None``)."""
    if target[:1] == b"/" and _HASH not in target:
        raw_path, _, query = target.partition(b"?")
        return raw_path, query, None
    raw_path, query = split_target(target)
    return raw_path, query, _authority(target)


def http_scope(
    connection: HttpProtocol, raw_method: bytes, version: str, target: bytes, headers: list[tuple[bytes, bytes]]
) -> Scope:
    """The ASGI scope of a request; ``path`` percent-decoded (UTF-8), as uvicorn gives it."""
    if target[:1] == b"/" and _HASH not in target:  # the usual origin form: split_target inline
        raw_path, _, query = target.partition(b"?")
    else:
        raw_path, query = split_target(target)
        authority = _authority(target)
        if authority is not None:
            # RFC 9112 section 3.2.2: an absolute-form target's authority is the host, whatever Host says.
            headers = [(b"host", authority), *((n, v) for n, v in headers if n != b"host")]
    path = raw_path.decode("latin-1")  # llhttp admits only ASCII in the target
    if "%" in path:
        path = unquote(path)
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": version,
        "server": connection.facts.local,
        "client": connection.client,
        "scheme": connection.scheme,
        "method": _METHODS.get(raw_method) or raw_method.decode("ascii"),
        "root_path": "",
        "path": path,
        "raw_path": raw_path,
        "query_string": query,
        "headers": headers,
        "extensions": {"stockade": connection.facts},
    }
    state = connection.state.lifespan_state
    if state is not None:
        scope["state"] = state.copy()
    return scope


def _authority(target: bytes) -> bytes | None:
    """The ``host[:port]`` of an absolute-form target (``http://host:port/path``), else ``None``."""
    if target[:1] == b"/" or target == b"*":
        return None
    scheme, sep, rest = target.partition(b"://")
    if not sep or scheme.lower() not in (b"http", b"https"):
        return None
    end = len(rest)
    for mark in (b"/", b"?", b"#"):
        found = rest.find(mark)
        if 0 <= found < end:
            end = found
    authority = rest[:end]
    return authority.rpartition(b"@")[2]  # userinfo is not part of the host


def split_target(target: bytes) -> tuple[bytes, bytes]:
    """The path and query of a request target (origin form, absolute form or ``*``)."""
    if target[:1] == b"/" or target == b"*":
        if _HASH in target:
            target = target.partition(b"#")[0]
        path, _, query = target.partition(b"?")
        return path, query
    try:
        url = httptools.parse_url(target)
    except httptools.HttpParserInvalidURLError:
        return target, b""  # authority form (CONNECT host:port): no path; the app decides
    return url.path or b"/", url.query or b""


class Exchange:
    """The state of one request on a connection, from its headers to the end of its response."""

    __slots__ = (
        "_final_delivered",
        "_head_request",
        "_head_written",
        "_headers",
        "_http10",
        "_mode",
        "_remaining",
        "_waiters",
        "body",
        "body_complete",
        "buffered",
        "bytes_sent",
        "complete",
        "connection",
        "disconnected",
        "expect_continue",
        "keep_alive",
        "received",
        "scope",
        "started",
        "started_at",
        "status",
        "target",
        "task",
    )

    def __init__(
        self, connection: HttpProtocol, scope: Scope, target: bytes, *, keep_alive: bool, expect_continue: bool
    ) -> None:
        self.connection = connection
        self.scope = scope
        self.target = target
        self.keep_alive = keep_alive
        self.expect_continue = expect_continue
        self.body: list[bytes] = []
        self.buffered = 0
        self.received = 0
        self.body_complete = False
        self.started = False  # the app sent http.response.start
        self.complete = False  # the app sent the last body message
        self.disconnected = False
        self.status = 0
        self.bytes_sent = 0
        self.started_at = 0.0
        self._head_request = scope["method"] == "HEAD"
        self._http10 = scope["http_version"] == "1.0"
        self._headers: Any = ()
        self._head_written = False
        self._mode = _LENGTH
        self._remaining = 0
        self._final_delivered = False
        self._waiters: list[asyncio.Future[None]] = []  # receive() calls waiting (a disconnect listener may be one)
        self.task: asyncio.Task[None] | None = None

    # -- the connection's side --------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if self.complete or self.disconnected:
            return
        self.body.append(data)
        self.buffered += len(data)
        self._wake()

    def finish_body(self) -> None:
        self.body_complete = True
        self._wake()

    def disconnect(self) -> None:
        self.disconnected = True
        self._wake()

    def _wake(self) -> None:
        if self._waiters:
            for waiter in self._waiters:
                if not waiter.done():
                    waiter.set_result(None)
            self._waiters.clear()

    async def run(self) -> None:
        """Run the app on this exchange; a failure answers 500 if nothing was sent yet, else aborts."""
        connection = self.connection
        try:
            await connection.state.app(self.scope, self.receive, self.send)
        except Exception:  # the app's bug must not take the connection's other requests down
            if not self.disconnected:
                log.exception("the ASGI application failed on %s %r", self.scope["method"], self.target)
                connection.app_failed(self)
            return
        if not self.complete and not self.disconnected:
            log.error("the ASGI application did not complete its response to %s %r", self.scope["method"], self.target)
            connection.app_failed(self)

    # -- the app's side ---------------------------------------------------------------------

    async def receive(self) -> Message:
        while True:
            if self.disconnected or self.complete:
                return {"type": "http.disconnect"}
            if self.body or (self.body_complete and not self._final_delivered):
                return self._request_message()
            if self.expect_continue:
                self.expect_continue = False
                if not self.started:
                    self.connection.write(framing.CONTINUE)
            waiter = self.connection.loop.create_future()
            self._waiters.append(waiter)
            await waiter

    def _request_message(self) -> Message:
        body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
        self.body = []
        drained = self.buffered >= BODY_HIGH_WATER
        self.buffered = 0
        more = not self.body_complete
        if not more:
            self._final_delivered = True
        elif drained:
            self.connection.body_drained(self)
        return {"type": "http.request", "body": body, "more_body": more}

    def send(self, message: Message) -> Awaitable[None]:
        """The ASGI ``send``: a plain function handing back an awaitable, no coroutine per message.

        The message is handled at once; what comes back is the connection's done future, or
        the wait for the transport's buffer to drain when a body message says more follows.
        """
        kind = message["type"]
        if kind == "http.response.body" and self.started:
            if self.complete:
                raise RuntimeError("ASGI message http.response.body sent after the response was complete")
            connection = self.connection
            if self.disconnected:
                return connection.ready
            more = message.get("more_body", False)
            self._write(message.get("body", b""), more)
            if more and connection.write_paused:
                return connection.drain()
            return connection.ready
        if kind == "http.response.start" and not self.started:
            self.status = message["status"]
            self._headers = message.get("headers", ())
            self.started = True
            return self.connection.ready
        raise RuntimeError(f"unexpected ASGI message {kind!r} (response started: {self.started})")

    def _write(self, body: bytes, more: bool) -> None:
        head = b"" if self._head_written else self._head(-1 if more else len(body))
        mode = self._mode
        if mode == _NO_BODY:
            body = b""
        elif mode == _LENGTH:
            self._remaining -= len(body)
            if self._remaining < 0:
                raise RuntimeError("the response body is longer than its content-length")
        connection = self.connection
        if mode == _CHUNKED:
            parts = [head, *framing.chunk(body)] if body else [head]
            if not more:
                parts.append(framing.LAST_CHUNK)
            connection.write_parts(parts)
        elif len(body) < _LARGE_WRITE:
            connection.write(head + body)
        else:
            connection.write_parts([head, body])
        self.bytes_sent += len(body)
        if not more:
            if mode == _LENGTH and self._remaining:
                raise RuntimeError("the response body is shorter than its content-length")
            self.complete = True
            self._wake()
            connection.response_complete(self)

    def _head(self, final_length: int) -> bytes:
        """The status line and headers; decides the framing and whether the connection stays open."""
        status = self.status
        parts = [framing.status_line(status)]
        length, date, connection_options = framing.header_lines(self._headers, parts)
        keep_alive = self.keep_alive
        if self._head_request or status in (204, 304) or status < 200:
            self._mode = _NO_BODY
        elif length >= 0:
            self._mode, self._remaining = _LENGTH, length
        elif final_length >= 0:
            self._mode, self._remaining = _LENGTH, final_length
            parts.append(b"content-length: %d\r\n" % final_length)
        elif not self._http10:
            self._mode = _CHUNKED
            parts.append(framing.CHUNKED)
        else:
            self._mode = _UNTIL_CLOSE
            keep_alive = False
        connection = self.connection
        if not date:
            parts.append(connection.state.date)
        # A request body not read to its end leaves the connection in an unknown state.
        said_close = bool(connection_options) and b"close" in connection_options
        keep_alive = keep_alive and not said_close and self.body_complete and not connection.state.stopping
        if not keep_alive and not said_close:
            parts.append(framing.CLOSE)
        elif keep_alive and self._http10 and b"keep-alive" not in connection_options:
            parts.append(framing.KEEP_ALIVE)
        parts.append(b"\r\n")
        self.keep_alive = keep_alive
        self._head_written = True
        return b"".join(parts)
