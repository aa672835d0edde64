"""One HTTP/1.1 connection: httptools parses, :class:`Exchange` answers, in the order asked.

Pipelined requests are parsed as they arrive and queued; reading pauses while one waits,
so a client cannot make the server buffer more than one socket read ahead. Each request
body is fed to its exchange, which pauses reading when the app falls behind.

One lazily moved timer per connection (:mod:`~.timer`); which deadline runs depends on the
phase: waiting for the request headers (``header_timeout`` from the connection or the
previous response), idle between requests (``keepalive_timeout``), between two pieces of a
body (``body_timeout``), or none while the app works. Timeouts close the connection
without an answer, as nginx does.

A client that half-closes (``shutdown(SHUT_WR)``) after whole requests is done sending,
not gone: the requests it completed, the one being answered and those pipelined behind it,
still get their answers, then the connection closes. An end of input inside a request's
head or body leaves that request incomplete, and the connection closes at once, as when
the client is idle between requests. On TLS, the client's close_notify is such an end of
input too (see :mod:`~.tls_stream`).

Malformed requests get a short 400 (431 for large headers, 413 for large bodies, 403 for
WebSocket upgrades) and the connection closes. When input may still be on its way, the
close is lingering: the write side is shut first and the rest is read and dropped for a
moment, so the client gets the answer rather than a reset.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import cast

import httptools

from stockade.server.http import framing
from stockade.server.http.accesslog import AccessEntry
from stockade.server.http.exchange import BODY_HIGH_WATER, Exchange, http_scope
from stockade.server.http.state import ServerState
from stockade.server.http.timer import BODY, HEADER, IDLE, LINGER, NONE, Deadline
from stockade.server.http.tls import facts_of
from stockade.server.settings import ConnectionFacts

log = logging.getLogger("stockade.server.http")

LINGER_SECONDS = 2.0
_WATCHED = frozenset({b"content-length", b"transfer-encoding", b"expect", b"upgrade"})  # request headers read here


class _Refused(Exception):
    """Raised in a parser callback to stop parsing; the status is in ``HttpProtocol._refusal``."""


class HttpProtocol(asyncio.Protocol):
    """The asyncio protocol of one accepted connection (plain or TLS)."""

    def __init__(
        self,
        state: ServerState,
        facts: ConnectionFacts,
        client: tuple[str, int],
        *,
        scheme: str,
        listener: str,
    ) -> None:
        self.state = state
        self.limits = state.limits
        self.facts = facts
        self.client = client
        self.scheme = scheme
        self.listener = listener
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport  # set by connection_made, before any other callback
        self.parser = httptools.HttpRequestParser(self)
        self.write_paused = False
        self.ready: asyncio.Future[None] = self.loop.create_future()  # done: what a send that need not wait returns
        self.ready.set_result(None)
        self._tls = scheme == "https"
        self._drain_waiter: asyncio.Future[None] | None = None
        self._current: Exchange | None = None  # being answered
        self._parsing: Exchange | None = None  # its request body still arriving
        self._queue: deque[Exchange | bytes] = deque()  # pipelined exchanges, or a last answer
        self._reading = True
        self._closed = False  # nothing more is written
        self._closing = False  # close after the response in progress
        self._stopped = False  # the parser takes no more input
        self._lingering = False
        self.client_done = False  # the client half-closed after whole requests: answer them, then close
        self._refusal: int | None = None
        # the request being parsed
        self._in_head = False
        self._messages = 0
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._head_size = 0
        self._head_raw = 0
        self._expect = False
        self._content_length = -1
        self._chunked = False
        self._upgrade = b""
        # the timer
        self._timer = Deadline(self.loop, self._timed_out)
        self._head_deadline = 0.0

    # -- asyncio callbacks ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.facts.close = self.abort
        if self._tls:
            self.facts.tls = facts_of(transport.get_extra_info("ssl_object"))
        self.state.connections.add(self)
        self._head_deadline = self.loop.time() + self.limits.header_timeout
        self._timer.set(HEADER, self._head_deadline)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._disconnect_all()
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        self._timer.cancel()
        self.state.closed(self)

    def eof_received(self) -> bool | None:
        """The client sends no more: keep the connection open only to answer whole requests."""
        if self._closed or self._lingering or self._in_head or self._parsing is not None:
            return None  # mid-request, or lingering: close, and tell the app (http.disconnect)
        if self._current is None and not self._queue:
            return None  # idle between requests
        self.client_done = True
        return True

    def data_received(self, data: bytes) -> None:
        if self._lingering or self._stopped:
            return
        step = self.limits.max_header_bytes
        if len(data) <= step:
            self._feed(data)
            return
        # In slices, so that a header that never ends is caught within one slice of the limit.
        view = memoryview(data)
        for start in range(0, len(data), step):
            if not self._feed(view[start : start + step]):
                return

    def _feed(self, data: bytes | memoryview) -> bool:
        """Parse one piece; ``False`` once the parser takes no more input."""
        began = self._in_head
        messages = self._messages
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._stop_parsing()
            return False
        except httptools.HttpParserError as exc:
            if self._refusal is None and isinstance(exc, httptools.HttpParserCallbackError):
                log.error("error in the HTTP parser callbacks", exc_info=exc)
            self._refuse(self._refusal or 400)
            return False
        if began and self._in_head and messages == self._messages:
            # The whole piece was header bytes: count them here too, since httptools holds
            # an unfinished header line without calling back.
            self._head_raw += len(data)
            if self._head_raw > self.limits.max_header_bytes:
                self._refuse(431)
                return False
        return not (self._stopped or self._lingering)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def drain(self) -> None:
        """Wait until the transport's write buffer is below its low-water mark (or the peer is gone)."""
        while self.write_paused and not self._closed:
            self._drain_waiter = self.loop.create_future()
            try:
                await self._drain_waiter
            finally:
                self._drain_waiter = None

    # -- httptools callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._messages += 1
        self._in_head = True
        self._url = b""
        self._headers = []
        self._head_size = self._head_raw = 0
        self._expect = self._chunked = False
        self._content_length = -1
        self._upgrade = b""
        if self._timer.kind == IDLE:
            self._timer.set(HEADER, self._head_deadline)

    def on_url(self, url: bytes) -> None:
        self._url += url
        self._count_head(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        size = self._head_size + len(name) + len(value) + 4
        self._head_size = size
        if size > self.limits.max_header_bytes:
            self._refusal = 431
            raise _Refused
        name = name.lower()
        if name in _WATCHED:
            if name == b"content-length":
                self._content_length = int(value) if value.isdigit() else -1  # llhttp has checked it
            elif name == b"transfer-encoding":
                self._chunked = True
            elif name == b"expect":
                self._expect = value.lower() == b"100-continue"
            else:
                self._upgrade = value.lower()
        self._headers.append((name, value))

    def _count_head(self, size: int) -> None:
        self._head_size += size
        if self._head_size > self.limits.max_header_bytes:
            self._refusal = 431
            raise _Refused

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._timer.kind = NONE
        parser = self.parser
        upgrade = parser.should_upgrade()
        if upgrade and b"websocket" in self._upgrade:
            self._refusal = 403
            raise _Refused
        if self._chunked and parser.get_http_version() == "1.0":
            self._refusal = 400  # RFC 9112 section 6.1: no transfer coding in HTTP/1.0, a smuggling vector
            raise _Refused
        limit = self.limits.max_body_bytes
        if limit is not None and self._content_length > limit:
            self._refusal = 413
            raise _Refused
        target = self._url
        scope = http_scope(self, parser.get_method(), parser.get_http_version(), target, self._headers)
        # Any other upgrade (h2c, CONNECT) is answered as plain HTTP/1.1; the bytes after it
        # belong to a protocol this server does not speak, so the connection closes.
        keep_alive = not upgrade and parser.should_keep_alive()
        exchange = Exchange(self, scope, target, keep_alive=keep_alive, expect_continue=self._expect)
        self._parsing = exchange
        if self._current is None:
            self._start(exchange)
            if self._content_length > 0 or self._chunked:
                self._timer.after(BODY, self.limits.body_timeout)
        else:
            self._queue.append(exchange)
            self._pause_reading()

    def on_body(self, body: bytes) -> None:
        exchange = self._parsing
        if exchange is None:
            return
        exchange.received += len(body)
        limit = self.limits.max_body_bytes
        if limit is not None and exchange.received > limit:
            self._refusal = 413
            raise _Refused
        exchange.feed(body)
        if exchange.buffered >= BODY_HIGH_WATER:
            self._pause_reading()
        elif self._timer.kind == BODY:
            self._timer.when = self.loop.time() + self.limits.body_timeout

    def on_message_complete(self) -> None:
        exchange = self._parsing
        self._parsing = None
        if exchange is not None:
            exchange.finish_body()
        if self._timer.kind == BODY:
            self._timer.kind = NONE

    # -- exchanges --------------------------------------------------------------------------

    def _start(self, exchange: Exchange) -> None:
        self._current = exchange
        if self.state.access_log is not None:
            exchange.started_at = self.loop.time()
        exchange.task = self.loop.create_task(exchange.run())

    def response_complete(self, exchange: Exchange) -> None:
        """The app sent its last body message: log it, then go on to the next request or close."""
        if self.state.access_log is not None:
            self._log_access(exchange)
        self._current = None
        if not exchange.keep_alive or self._closing or self.state.stopping:
            self._close_after_response()
            return
        if self._queue:
            self._next()
            return
        if self.client_done:
            self._close_after_response()
            return
        now = self.loop.time()
        self._head_deadline = now + self.limits.header_timeout
        if self._in_head:
            self._timer.set(HEADER, self._head_deadline)
        else:
            self._timer.set(IDLE, now + self.limits.keepalive_timeout)
        if not self._reading and not self._stopped:
            self._resume_reading()

    def _next(self) -> None:
        item = self._queue.popleft()
        if isinstance(item, bytes):
            self.write(item)
            self._close_after_response()
            return
        self._start(item)
        if item is self._parsing:
            self._timer.after(BODY, self.limits.body_timeout)
        if not self._queue and not self._stopped and item.buffered < BODY_HIGH_WATER:
            self._resume_reading()

    def body_drained(self, exchange: Exchange) -> None:
        """The app took a buffered body: read on if nothing else holds the connection back."""
        if not self._reading and exchange is self._parsing and exchange is self._current and not self._stopped:
            self._resume_reading()
            self._timer.after(BODY, self.limits.body_timeout)

    def app_failed(self, exchange: Exchange) -> None:
        if self._closed:
            return
        if exchange.started:
            self.abort()
            return
        exchange.disconnect()
        if exchange is self._current:
            self._current = None
            self.write(framing.canned(500, self.state.date))
            self._close_after_response()

    def _log_access(self, exchange: Exchange) -> None:
        self.state.record(
            AccessEntry(
                time=self.state.clock.now(),
                client=self.client[0],
                method=exchange.scope["method"],
                path=exchange.target.decode("latin-1"),
                status=exchange.status,
                bytes=exchange.bytes_sent,
                duration_ms=(self.loop.time() - exchange.started_at) * 1000.0,
                listener=self.listener,
            )
        )

    # -- writing and closing ----------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if data and not self._closed:
            self.transport.write(data)

    def write_parts(self, parts: list[bytes]) -> None:
        if not self._closed:
            self.transport.writelines(parts)

    def abort(self) -> None:
        """Drop the connection now, unsent bytes and all (``ConnectionFacts.close``)."""
        if self._closed:
            return
        self._closed = True
        self._disconnect_all()
        self.transport.abort()

    def tasks(self) -> list[asyncio.Task[None]]:
        """The app tasks of the exchanges still open on this connection."""
        exchanges = (self._current, self._parsing, *self._queue)
        return [e.task for e in exchanges if isinstance(e, Exchange) and e.task is not None and not e.task.done()]

    def shutdown(self) -> None:
        """The server is stopping: close when idle, else after the response in progress."""
        self._closing = True
        if self._current is None and not self._closed and not self._lingering:
            self._close_after_response()

    def _refuse(self, status: int) -> None:
        """Answer a request the server itself refuses, in its turn, then close."""
        self._stop_parsing()
        exchange, self._parsing = self._parsing, None
        if exchange is not None and exchange is self._current:
            if exchange.started:
                self.abort()
                return
            exchange.disconnect()
            self._current = None
        elif exchange is not None and exchange in self._queue:
            self._queue.remove(exchange)
        answer = framing.canned(status, self.state.date)
        if self._current is None:
            self.write(answer)
            self._close_after_response()
        else:
            self._queue.append(answer)

    def _stop_parsing(self) -> None:
        self._stopped = True
        self._closing = True
        self._pause_reading()

    def _close_after_response(self) -> None:
        self._closing = True
        self._timer.kind = NONE
        if self._closed:
            return
        pending_input = not self.client_done and (self._stopped or self._in_head or self._parsing is not None)
        if pending_input and not self._tls and self.transport.can_write_eof():
            self._queue.clear()
            self.transport.write_eof()
            self._lingering = True
            self._resume_reading()
            self._timer.after(LINGER, LINGER_SECONDS)
            return
        self._closed = True
        self._disconnect_all()
        self.transport.close()

    def _disconnect_all(self) -> None:
        for exchange in (self._current, self._parsing, *self._queue):
            if isinstance(exchange, Exchange):
                exchange.disconnect()

    def _pause_reading(self) -> None:
        if self._reading:
            self._reading = False
            self.transport.pause_reading()
            if self._timer.kind == BODY:
                self._timer.kind = NONE

    def _resume_reading(self) -> None:
        if not self._reading and not self._closed and not self.client_done:
            self._reading = True
            self.transport.resume_reading()

    def _timed_out(self, kind: int) -> None:
        if self._closed:
            return
        self._closed = True
        self._disconnect_all()
        if kind == BODY:
            self.transport.abort()
        else:
            self.transport.close()  # a previous response may still be on its way out
